/**
 * The tables of jointspace's own records, as typeorm `EntitySchema`s (no decorators, so the
 * compiler settings stay as they are and tsx runs the sources unchanged).
 *
 * The schema itself is owned by the hand-written migrations in `migrations/`; these schemas
 * only map rows to objects and must stay in step with them. Foreign keys are plain id columns
 * here: the constraints, indexes and CHECKs live in the migration, and `synchronize` is never
 * used.
 *
 * No table stores a patient's name, identifier, birth date or accession number: a study only
 * carries `patientKey`, an HMAC of issuer and Patient ID (see `derivePatientKey`).
 */
import { EntitySchema, EntitySchemaOptions } from 'typeorm';
import type { ProgressionAssessment } from '../care/progression.js';
import type { JswSummary } from '../measurement/summary.js';

export const STUDY_STATUSES = ['received', 'processing', 'graded', 'refused', 'failed'] as const;
export type StudyStatus = (typeof STUDY_STATUSES)[number];

export const IMAGE_STATUSES = ['received', 'graded', 'refused', 'failed'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/** Image Laterality (0020,0062): right, left, unpaired, both. */
export type ImageLaterality = 'R' | 'L' | 'U' | 'B';
/** The knee a result is about. */
export type KneeLaterality = 'R' | 'L';

export type KneeCheckVerdict = 'accepted' | 'refused';

export const JOB_OUTCOMES = [
  'succeeded',
  'retrying',
  'failed-permanent',
  'failed-transient',
] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** A refusal declines to grade (not a knee, wrong view); an error is something that failed. */
export type ProblemKind = 'refusal' | 'error';
export type ProblemScope = 'study' | 'image';

/** What was written: `sr`, `overlay`, or a FHIR resource type as `fhir-<Type>`. */
export type AuditObjectKind = 'sr' | 'overlay' | `fhir-${string}`;
export type AuditAction = 'stored' | 'replaced';

/** Milliseconds spent in each step of grading one image. */
export interface ResultTimings {
  fetchMs?: number;
  decodeMs?: number;
  inferMs?: number;
  writeMs?: number;
}

export interface Study {
  id: string;
  studyInstanceUid: string;
  /** Hex HMAC-SHA256 of issuer and Patient ID; null when the study carried no Patient ID. */
  patientKey: string | null;
  status: StudyStatus;
  /** SHA-256 hex of the source images and model of the last completed grading; null before. */
  gradedInputs: string | null;
  /** When the latest processing attempt began; null before the first. */
  attemptStartedAt: Date | null;
  /** Study Date (0008,0020) as `YYYY-MM-DD`; null when the study has none or is not yet graded. */
  studyDate: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Image {
  id: string;
  studyId: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  laterality: ImageLaterality | null;
  /** View Position (0018,5101) or the view found by the knee check, e.g. `PA`. */
  view: string | null;
  kneeCheckVerdict: KneeCheckVerdict | null;
  kneeCheckReason: string | null;
  kneeCheckScore: number | null;
  status: ImageStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface Result {
  id: string;
  imageId: string;
  laterality: KneeLaterality;
  klGrade: number;
  /** P(KL = 0..4), five numbers summing to 1. */
  probabilities: number[];
  confidence: number;
  modelId: string;
  timings: ResultTimings;
  /** Joint-space width measured on the image; null when not measured (or before it existed). */
  jsw: JswSummary | { refused: string } | null;
  /** The change since the knee's earlier result; null when there was none. */
  progression: ProgressionAssessment | null;
  createdAt: Date;
}

export interface JobRecord {
  id: string;
  jobId: string;
  studyInstanceUid: string;
  kind: string;
  attempt: number;
  outcome: JobOutcome;
  errorCode: string | null;
  /** A message safe to show: never patient data. */
  errorMessage: string | null;
  workerId: string;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface Problem {
  id: string;
  studyId: string;
  /** Set exactly when `scope` is `image`. */
  imageId: string | null;
  scope: ProblemScope;
  kind: ProblemKind;
  code: string;
  reason: string;
  permanent: boolean;
  createdAt: Date;
}

export interface AuditEntry {
  id: string;
  studyId: string;
  objectKind: AuditObjectKind;
  /** SOP Instance UID of a DICOM object, or `Type/id` of a FHIR resource. */
  objectId: string;
  /** Where it was written, without user name, password or query. */
  destination: string;
  action: AuditAction;
  createdAt: Date;
}

/** The options of `EntitySchemaOptions`, as a plain object type for literals. */
type SchemaOptions<T> = { [K in keyof EntitySchemaOptions<T>]: EntitySchemaOptions<T>[K] };

function defineSchema<T>(options: SchemaOptions<T>): EntitySchema<T> {
  return new EntitySchema<T>(Object.assign(new EntitySchemaOptions<T>(), options));
}

const id = { type: 'uuid', primary: true, generated: 'uuid' } as const;
const createdAt = { type: 'timestamptz', name: 'created_at', createDate: true } as const;
const updatedAt = { type: 'timestamptz', name: 'updated_at', updateDate: true } as const;

export const StudySchema = defineSchema<Study>({
  name: 'Study',
  tableName: 'studies',
  columns: {
    id,
    studyInstanceUid: { type: 'text', name: 'study_instance_uid', unique: true },
    patientKey: { type: 'text', name: 'patient_key', nullable: true },
    status: { type: 'text' },
    gradedInputs: { type: 'text', name: 'graded_inputs', nullable: true },
    attemptStartedAt: { type: 'timestamptz', name: 'attempt_started_at', nullable: true },
    studyDate: { type: 'date', name: 'study_date', nullable: true },
    createdAt,
    updatedAt,
  },
});

export const ImageSchema = defineSchema<Image>({
  name: 'Image',
  tableName: 'images',
  columns: {
    id,
    studyId: { type: 'uuid', name: 'study_id' },
    sopInstanceUid: { type: 'text', name: 'sop_instance_uid', unique: true },
    seriesInstanceUid: { type: 'text', name: 'series_instance_uid' },
    laterality: { type: 'text', nullable: true },
    view: { type: 'text', nullable: true },
    kneeCheckVerdict: { type: 'text', name: 'knee_check_verdict', nullable: true },
    kneeCheckReason: { type: 'text', name: 'knee_check_reason', nullable: true },
    kneeCheckScore: { type: 'double precision', name: 'knee_check_score', nullable: true },
    status: { type: 'text' },
    createdAt,
    updatedAt,
  },
});

export const ResultSchema = defineSchema<Result>({
  name: 'Result',
  tableName: 'results',
  columns: {
    id,
    imageId: { type: 'uuid', name: 'image_id' },
    laterality: { type: 'text' },
    klGrade: { type: 'smallint', name: 'kl_grade' },
    probabilities: { type: 'jsonb' },
    confidence: { type: 'double precision' },
    jsw: { type: 'jsonb', nullable: true },
    progression: { type: 'jsonb', nullable: true },
    modelId: { type: 'text', name: 'model_id' },
    timings: { type: 'jsonb' },
    createdAt,
  },
  uniques: [
    { name: 'results_image_model_laterality', columns: ['imageId', 'modelId', 'laterality'] },
  ],
});

export const JobRecordSchema = defineSchema<JobRecord>({
  name: 'JobRecord',
  tableName: 'job_records',
  columns: {
    id,
    jobId: { type: 'text', name: 'job_id' },
    studyInstanceUid: { type: 'text', name: 'study_instance_uid' },
    kind: { type: 'text' },
    attempt: { type: 'integer' },
    outcome: { type: 'text' },
    errorCode: { type: 'text', name: 'error_code', nullable: true },
    errorMessage: { type: 'text', name: 'error_message', nullable: true },
    workerId: { type: 'text', name: 'worker_id' },
    startedAt: { type: 'timestamptz', name: 'started_at' },
    finishedAt: { type: 'timestamptz', name: 'finished_at', nullable: true },
  },
  uniques: [{ name: 'job_records_job_attempt', columns: ['jobId', 'attempt'] }],
});

export const ProblemSchema = defineSchema<Problem>({
  name: 'Problem',
  tableName: 'problems',
  columns: {
    id,
    studyId: { type: 'uuid', name: 'study_id' },
    imageId: { type: 'uuid', name: 'image_id', nullable: true },
    scope: { type: 'text' },
    kind: { type: 'text' },
    code: { type: 'text' },
    reason: { type: 'text' },
    permanent: { type: 'boolean' },
    createdAt,
  },
});

export const AuditEntrySchema = defineSchema<AuditEntry>({
  name: 'AuditEntry',
  tableName: 'audit_entries',
  columns: {
    id,
    studyId: { type: 'uuid', name: 'study_id' },
    objectKind: { type: 'text', name: 'object_kind' },
    objectId: { type: 'text', name: 'object_id' },
    destination: { type: 'text' },
    action: { type: 'text' },
    createdAt,
  },
});

export const entities = [
  StudySchema,
  ImageSchema,
  ResultSchema,
  JobRecordSchema,
  ProblemSchema,
  AuditEntrySchema,
];
