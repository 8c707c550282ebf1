/**
 * What the FHIR builders are given, and the guards that refuse bad input before any resource
 * is built. Messages name the field and what was expected; they never quote UIDs, accession
 * numbers or patient references (values that identify a patient or a study).
 */
import type { ImagingStudy, Patient, Reference } from '@medplum/fhirtypes';
import type { ProgressionFlag } from '../../care/progression.js';
import { JointspaceError } from '../../errors.js';
import { checkAlgorithm, type AlgorithmIdentity } from '../../sr/dataset.js';
import { isValidUid } from '../../sr/uids.js';

export type KneeLaterality = 'R' | 'L';

export interface StudyInput {
  studyInstanceUid: string;
  /** Study Date (0008,0020): DICOM DA `YYYYMMDD`, or `YYYY-MM-DD`. */
  studyDate: string;
  /** Accession Number (0008,0050), where the study has one. */
  accessionNumber?: string;
  /** A literal reference to the ImagingStudy resource, where the FHIR server holds one. */
  imagingStudy?: Reference<ImagingStudy>;
}

/** Minimum joint-space widths of one knee, in millimetres. */
export interface JswInput {
  medialMinMm?: number;
  lateralMinMm?: number;
}

/** The result of one knee, as graded and as written to the SR. */
export interface KneeResultInput {
  laterality: KneeLaterality;
  /** Kellgren–Lawrence grade 0–4. */
  klGrade: number;
  /** Probabilities of grades 0..4; they sum to 1. */
  probabilities: readonly number[];
  /** Probability of the reported grade. */
  confidence: number;
  /** SOP Instance UID of the TID 1500 SR that holds this result. */
  srSopInstanceUid: string;
  /** SOP Instance UIDs of the radiographs graded. */
  sourceSopInstanceUids: readonly string[];
  jsw?: JswInput;
  /** The comparison with an earlier study (src/care/progression.ts), where there is one. */
  progression?: ProgressionInput;
}

/** The earlier study a comparison rests on. */
export interface ProgressionBaselineInput {
  studyInstanceUid: string;
  /** `YYYYMMDD` or `YYYY-MM-DD`. */
  studyDate: string;
  /** Years from the earlier study to this one. */
  intervalYears: number;
}

/** The progression of one knee; a `ProgressionAssessment` of src/care/progression.ts fits. */
export interface ProgressionInput {
  kl?: { baseline: ProgressionBaselineInput; klChange: number };
  jsw?: {
    baseline: ProgressionBaselineInput;
    /** Medial minimum JSW now minus then, mm. */
    medialChangeMm: number;
    /** mm per year, where the interval allowed a rate. */
    medialChangeMmPerYear?: number;
  };
  flags: readonly ProgressionFlag[];
  /** The clinician wording, written as a note. */
  clinicianText?: string;
}

export interface ImagingInput {
  study: StudyInput;
  /**
   * The matched Patient. Absent when the study's patient matched none (or more than one):
   * the imaging resources are then written without a subject, and no care plan is made.
   */
  patient?: Reference<Patient>;
  /** One or two knees, each laterality at most once. */
  knees: readonly KneeResultInput[];
  algorithm: AlgorithmIdentity;
  /** When the results are written (Observation.issued, Provenance.recorded). */
  recorded: Date;
}

const GRADES = 5;
/** As the SR (src/sr/dataset.ts): rounding of five float32 probabilities stays well inside. */
const PROBABILITY_SUM_TOLERANCE = 1e-3;
/** A minimum joint-space width outside this range (mm) is a measurement error, not a knee. */
const JSW_MAX_MM = 20;

function invalid(message: string): JointspaceError {
  return new JointspaceError('invalid-argument', message);
}

function got(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function requireUid(value: string, field: string): void {
  if (!isValidUid(value)) throw invalid(`${field} must be a valid DICOM UID (PS3.5 9.1)`);
}

/**
 * A DICOM date (DA, `YYYYMMDD`) or an ISO date as a FHIR `date` (`YYYY-MM-DD`); refuses
 * anything that is not a real calendar day.
 */
export function dicomDateToFhirDate(value: string, field: string): string {
  const match = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(value);
  const iso = match === null ? '' : `${match[1] ?? ''}-${match[2] ?? ''}-${match[3] ?? ''}`;
  const parsed = new Date(`${iso}T00:00:00Z`);
  if (iso === '' || Number.isNaN(parsed.getTime()) || !parsed.toISOString().startsWith(iso)) {
    throw invalid(`${field} must be a date YYYYMMDD or YYYY-MM-DD`);
  }
  return iso;
}

/** A FHIR instant of `when`; refuses an invalid Date. */
export function fhirInstant(when: Date, field: string): string {
  if (!(when instanceof Date) || Number.isNaN(when.getTime())) {
    throw invalid(`${field} must be a valid Date`);
  }
  return when.toISOString();
}

export function checkStudy(study: StudyInput): void {
  requireUid(study.studyInstanceUid, 'study.studyInstanceUid');
  dicomDateToFhirDate(study.studyDate, 'study.studyDate');
  if (study.accessionNumber?.trim() === '') {
    throw invalid('study.accessionNumber must not be empty when given');
  }
  if (
    study.imagingStudy !== undefined &&
    !study.imagingStudy.reference?.startsWith('ImagingStudy/')
  ) {
    throw invalid('study.imagingStudy.reference must be "ImagingStudy/<id>"');
  }
}

export function checkPatient(patient: Reference<Patient> | undefined, field: string): void {
  if (patient === undefined) return;
  if (!patient.reference?.startsWith('Patient/') && !patient.reference?.startsWith('urn:uuid:')) {
    throw invalid(`${field}.reference must be "Patient/<id>" or a "urn:uuid:" reference`);
  }
}

function checkProbabilities(knee: KneeResultInput, field: string): void {
  const { probabilities } = knee;
  if (probabilities.length !== GRADES) {
    throw invalid(
      `${field}.probabilities must hold ${GRADES} numbers (got ${probabilities.length})`,
    );
  }
  probabilities.forEach((p, grade) => {
    if (!Number.isFinite(p) || p < 0 || p > 1) {
      throw invalid(`${field}.probabilities[${grade}] must be a number in 0..1 (got ${got(p)})`);
    }
  });
  const sum = probabilities.reduce((total, p) => total + p, 0);
  if (Math.abs(sum - 1) > PROBABILITY_SUM_TOLERANCE) {
    throw invalid(`${field}.probabilities must sum to 1 (got ${sum.toFixed(4)})`);
  }
}

function checkJsw(jsw: JswInput | undefined, field: string): void {
  for (const [name, value] of Object.entries(jsw ?? {})) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > JSW_MAX_MM) {
      throw invalid(
        `${field}.jsw.${name} must be a number of mm in 0..${JSW_MAX_MM} (got ${got(value)})`,
      );
    }
  }
}

export function checkKnee(knee: KneeResultInput, field: string): void {
  // The type says R or L; callers outside TypeScript (JSON from the queue) may say otherwise.
  const laterality: string = knee.laterality;
  if (laterality !== 'R' && laterality !== 'L') {
    throw invalid(`${field}.laterality must be "R" or "L" (got ${got(knee.laterality)})`);
  }
  if (!Number.isInteger(knee.klGrade) || knee.klGrade < 0 || knee.klGrade >= GRADES) {
    throw invalid(`${field}.klGrade must be an integer 0..4 (got ${got(knee.klGrade)})`);
  }
  checkProbabilities(knee, field);
  if (!Number.isFinite(knee.confidence) || knee.confidence < 0 || knee.confidence > 1) {
    throw invalid(`${field}.confidence must be a number in 0..1 (got ${got(knee.confidence)})`);
  }
  requireUid(knee.srSopInstanceUid, `${field}.srSopInstanceUid`);
  if (knee.sourceSopInstanceUids.length === 0) {
    throw invalid(`${field}.sourceSopInstanceUids must name at least one image`);
  }
  knee.sourceSopInstanceUids.forEach((uid, i) => {
    requireUid(uid, `${field}.sourceSopInstanceUids[${i}]`);
  });
  checkJsw(knee.jsw, field);
}

/** Refuses an imaging input the builders cannot turn into valid, truthful resources. */
export function checkImagingInput(input: ImagingInput): void {
  checkStudy(input.study);
  checkPatient(input.patient, 'patient');
  if (input.knees.length === 0 || input.knees.length > 2) {
    throw invalid(`knees must hold one or two knees (got ${input.knees.length})`);
  }
  input.knees.forEach((knee, i) => {
    checkKnee(knee, `knees[${i}]`);
  });
  const [first, second] = input.knees;
  if (first !== undefined && second !== undefined && first.laterality === second.laterality) {
    throw invalid('knees[1].laterality must differ from knees[0].laterality');
  }
  checkAlgorithm(input.algorithm);
  fhirInstant(input.recorded, 'recorded');
}
