/**
 * Device resources for the software that produced the results: the grading model (one per
 * model file) and the care rules table (one per rules version).
 *
 * The model Device follows the DICOM SR to FHIR IG profile "Device - DICOM SR TID 4019
 * Algorithm Identification Mapping" as far as R4 allows: Algorithm Name (111001, DCM) →
 * the device name (R5 `displayName`, R4 `deviceName`), Algorithm Version (111003, DCM) →
 * `version`. Its identifiers are the model's SHA-256 (the key) and the Device UID the SR and
 * the overlay write in the Contributing Equipment Sequence and as Device Observer UID
 * (src/sr/uids.ts `algorithmDeviceUid`), so a reader can tie the FHIR and DICOM results to
 * one model file.
 */
import type { Device } from '@medplum/fhirtypes';
import { MANUFACTURER, modelId, type AlgorithmIdentity } from '../../sr/dataset.js';
import { algorithmDeviceUid } from '../../sr/uids.js';
import {
  APPLICATION_SOFTWARE,
  DEVICE_MODEL_NAME,
  DEVICE_USER_FRIENDLY_NAME,
  DICOM_UID,
} from './codes.js';
import { KEY_SYSTEMS, built, type BuiltResource } from './keys.js';

/** The grading model: software, an AI model, decision support only. */
export function algorithmDevice(algorithm: AlgorithmIdentity): BuiltResource<Device> {
  const key = { system: KEY_SYSTEMS.modelDevice, value: algorithm.sha256.toLowerCase() };
  const resource: Device = {
    resourceType: 'Device',
    identifier: [
      key,
      { system: DICOM_UID, value: `urn:oid:${algorithmDeviceUid(algorithm.sha256)}` },
    ],
    status: 'active',
    manufacturer: MANUFACTURER,
    deviceName: [
      { name: algorithm.name, type: DEVICE_MODEL_NAME },
      { name: `jointspace KL grading (${modelId(algorithm)})`, type: DEVICE_USER_FRIENDLY_NAME },
    ],
    type: {
      coding: [{ ...APPLICATION_SOFTWARE }],
      text: 'AI software (deep-learning model) for clinical decision support: Kellgren-Lawrence grading of knee radiographs',
    },
    version: [{ value: algorithm.version }],
    note: [
      {
        text: 'Artificial intelligence model; decision support only. Its results are unverified until a clinician reviews them.',
      },
    ],
  };
  return built(resource, key);
}

/** The care rules table that proposed the care plan (src/care, mappings/care-rules.json). */
export function careRulesDevice(rulesVersion: string, rulesStatus: string): BuiltResource<Device> {
  const key = { system: KEY_SYSTEMS.careRulesDevice, value: rulesVersion };
  const resource: Device = {
    resourceType: 'Device',
    identifier: [key],
    status: 'active',
    manufacturer: MANUFACTURER,
    deviceName: [{ name: 'jointspace care rules', type: DEVICE_USER_FRIENDLY_NAME }],
    type: {
      coding: [{ ...APPLICATION_SOFTWARE }],
      text: 'Clinical decision support software: guideline rules for knee osteoarthritis care (OARSI 2019, ACR/AF 2019, NICE NG226 2022)',
    },
    version: [{ value: rulesVersion }],
    note: [
      {
        text: `Rules table version ${rulesVersion}, status ${rulesStatus}; decision support only, its proposals are for a clinician to review.`,
      },
    ],
  };
  return built(resource, key);
}
