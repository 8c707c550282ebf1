/**
 * Deterministic UIDs: the same inputs give the same UID, so writing a result again (a retry,
 * a reprocessed study) replaces the object in the PACS instead of adding a second one.
 *
 * Form: PS3.5 Section B.2, "2.25." followed by the decimal value of a 128-bit UUID. The UUID
 * is name-based: the first 128 bits of SHA-256 over the parts, with the version set to 8 and
 * the variant to RFC 9562 (so it is a well-formed UUIDv8). A 128-bit integer has at most 39
 * digits, so every UID is at most 44 characters (PS3.5 Section 9.1 allows 64).
 */
import { createHash } from 'node:crypto';
import { JointspaceError } from '../errors.js';

const UUID_ROOT = '2.25';
const UID_MAX = 64;
const NAMESPACE = 'jointspace';

/**
 * `2.25.<decimal>` from SHA-256 of the parts. Each part is length-prefixed before hashing,
 * so ("ab", "c") and ("a", "bc") give different UIDs.
 */
export function deriveUid(...parts: string[]): string {
  if (parts.length === 0) {
    throw new JointspaceError('invalid-argument', 'deriveUid needs at least one part');
  }
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${Buffer.byteLength(part)}:${part}`);
  const bytes = hash.digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return `${UUID_ROOT}.${BigInt(`0x${bytes.toString('hex')}`).toString(10)}`;
}

/**
 * PS3.5 Section 9.1: digits and dots, at most 64 characters, no empty component and no
 * leading zero in a component other than "0" itself.
 */
export function isValidUid(uid: string): boolean {
  return uid.length <= UID_MAX && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(uid);
}

/** The UID of the Implementation Class written into every File Meta Information (PS3.10 7.1). */
export const IMPLEMENTATION_CLASS_UID = deriveUid(NAMESPACE, 'implementation-class');

export interface InstanceUids {
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/** The SR of a study: one series and one instance per (study, model version). */
export function measurementReportUids(studyInstanceUid: string, modelId: string): InstanceUids {
  return {
    seriesInstanceUid: deriveUid(NAMESPACE, 'sr-series', studyInstanceUid, modelId),
    sopInstanceUid: deriveUid(NAMESPACE, 'sr-instance', studyInstanceUid, modelId),
  };
}

/**
 * The overlay of one source image: the instance per (source image, model version); the
 * series per (study, model version), so the overlays of a study share one series. An image
 * of both knees has one overlay per knee: `knee` then names it (the UIDs of a one-knee image
 * stay as they were).
 */
export function overlayUids(
  studyInstanceUid: string,
  sourceSopInstanceUid: string,
  modelId: string,
  knee?: 'R' | 'L',
): InstanceUids {
  const instance = knee === undefined ? [] : [knee];
  return {
    seriesInstanceUid: deriveUid(NAMESPACE, 'overlay-series', studyInstanceUid, modelId),
    sopInstanceUid: deriveUid(
      NAMESPACE,
      'overlay-instance',
      sourceSopInstanceUid,
      modelId,
      ...instance,
    ),
  };
}

/** Device UID of the algorithm: changes exactly when the model file (its SHA-256) changes. */
export function algorithmDeviceUid(modelSha256: string): string {
  return deriveUid(NAMESPACE, 'device', modelSha256.toLowerCase());
}

/** Tracking Unique Identifier (TID 4108) of the finding of one knee on one source image. */
export function trackingUid(
  studyInstanceUid: string,
  sourceSopInstanceUid: string,
  laterality: string,
  modelId: string,
): string {
  return deriveUid(
    NAMESPACE,
    'tracking',
    studyInstanceUid,
    sourceSopInstanceUid,
    laterality,
    modelId,
  );
}
