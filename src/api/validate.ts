/**
 * Checks of what callers send. Messages name the field and the form expected, never the value:
 * a Study Instance UID can identify a patient's examination.
 */
import { JointspaceError } from '../errors.js';

/** PS3.5 9.1: digits and dots, at most 64 characters (leading zeros tolerated, as seen in the wild). */
const UID = /^[0-9]+(\.[0-9]+)*$/;
const UID_MAX_LENGTH = 64;

/** Orthanc's study id: a SHA-1 of the identifiers, as five dash-separated groups of 8 hex digits. */
const ORTHANC_ID = /^[0-9a-f]{8}(-[0-9a-f]{8}){4}$/;

export function invalid(field: string, expected: string): JointspaceError {
  return new JointspaceError('invalid-argument', `${field}: expected ${expected}`, { status: 400 });
}

export function isDicomUid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= UID_MAX_LENGTH && UID.test(value);
}

export function dicomUid(value: unknown, field: string): string {
  if (isDicomUid(value)) return value;
  throw invalid(field, 'a DICOM UID (digits and dots, at most 64 characters)');
}

export function orthancId(value: unknown, field: string): string {
  if (typeof value === 'string' && ORTHANC_ID.test(value)) return value;
  throw invalid(field, "an Orthanc id (five groups of 8 lowercase hex digits joined by '-')");
}
