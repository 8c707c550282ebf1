/**
 * What every imaging resource of one study shares: the study and accession references, the
 * subject, the dates, the model and its Device.
 *
 * The references follow the DICOM SR to FHIR IG, profile "Observation - DICOM SR Imaging
 * Observation" (the base of its measurement and qualitative evaluation profiles), which
 * assumes the Patient, ImagingStudy and ServiceRequest exist on the server ("DICOM SR
 * Measurement Report Instance Mapping"):
 * - `partOf[imagingStudyRef]`: the ImagingStudy, by identifier, type (110180, DCM, "Study
 *   Instance UID"), system `urn:dicom:uid`, value `urn:oid:<Study Instance UID>`;
 * - `basedOn[serviceRequestRef]`: the ServiceRequest, by identifier, type (ACSN, v2-0203,
 *   "Accession ID"), value the Accession Number.
 * Where the caller knows the ImagingStudy resource, its literal reference is added.
 */
import type { Device, ImagingStudy, Patient, Reference, ServiceRequest } from '@medplum/fhirtypes';
import { modelId } from '../../sr/dataset.js';
import { ACCESSION_ID_TYPE, DICOM_UID, STUDY_INSTANCE_UID_TYPE } from './codes.js';
import { dicomDateToFhirDate, fhirInstant, type ImagingInput, type StudyInput } from './inputs.js';
import type { BuiltResource } from './keys.js';

export interface ImagingContext {
  study: StudyInput;
  /** `name@version`, as the SR's UIDs are derived from. */
  modelId: string;
  /** The study date (FHIR date): when the knee was imaged. */
  effective: string;
  /** When the results were written (FHIR instant). */
  issued: string;
  subject?: Reference<Patient>;
  imagingStudy: Reference<ImagingStudy>;
  basedOn?: Reference<ServiceRequest>[];
  device: BuiltResource<Device>;
}

/** The ImagingStudy as the IG references it: by Study Instance UID, literally where known. */
export function imagingStudyReference(study: StudyInput): Reference<ImagingStudy> {
  return {
    ...(study.imagingStudy?.reference === undefined
      ? {}
      : { reference: study.imagingStudy.reference }),
    type: 'ImagingStudy',
    identifier: {
      type: { coding: [{ ...STUDY_INSTANCE_UID_TYPE }] },
      system: DICOM_UID,
      value: `urn:oid:${study.studyInstanceUid}`,
    },
  };
}

/** The order the study fulfilled, by its accession number. */
export function accessionReference(accessionNumber: string): Reference<ServiceRequest> {
  return {
    type: 'ServiceRequest',
    identifier: { type: { coding: [{ ...ACCESSION_ID_TYPE }] }, value: accessionNumber },
  };
}

/** A DICOM UID as a FHIR identifier (`urn:dicom:uid`, `urn:oid:<uid>`). */
export function dicomUidIdentifier(uid: string): { system: string; value: string } {
  return { system: DICOM_UID, value: `urn:oid:${uid}` };
}

export function imagingContext(input: ImagingInput, device: BuiltResource<Device>): ImagingContext {
  const { study } = input;
  return {
    study,
    modelId: modelId(input.algorithm),
    effective: dicomDateToFhirDate(study.studyDate, 'study.studyDate'),
    issued: fhirInstant(input.recorded, 'recorded'),
    ...(input.patient === undefined ? {} : { subject: input.patient }),
    imagingStudy: imagingStudyReference(study),
    ...(study.accessionNumber === undefined
      ? {}
      : { basedOn: [accessionReference(study.accessionNumber)] }),
    device,
  };
}
