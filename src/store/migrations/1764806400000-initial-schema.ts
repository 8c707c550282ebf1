import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first schema: studies, their images, results per knee and model, job history, problems
 * (refusals and errors) and the audit trail of objects written elsewhere.
 *
 * Deleting a study removes its images, results and problems with it; it is refused while
 * audit entries point at it, because those record objects that still exist in the PACS or
 * the FHIR server and must be retracted first. Job history keeps the Study Instance UID as
 * text, so it outlives the study row and may precede it.
 */
export class InitialSchema1764806400000 implements MigrationInterface {
  name = 'InitialSchema1764806400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of UP) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['audit_entries', 'problems', 'job_records', 'results', 'images']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
    await queryRunner.query('DROP TABLE studies');
  }
}

/** A DICOM UID (PS3.5 9.1): digits and dots, at most 64 characters. */
const uid = (column: string) =>
  `CHECK (${column} ~ '^[0-9]+(\\.[0-9]+)*$' AND length(${column}) <= 64)`;

const UP = [
  `CREATE TABLE studies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    study_instance_uid text NOT NULL CONSTRAINT studies_study_instance_uid_key UNIQUE
      CONSTRAINT studies_study_instance_uid_format ${uid('study_instance_uid')},
    patient_key text CONSTRAINT studies_patient_key_hmac CHECK (patient_key ~ '^[0-9a-f]{64}$'),
    status text NOT NULL DEFAULT 'received' CONSTRAINT studies_status_known
      CHECK (status IN ('received', 'processing', 'graded', 'refused', 'failed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX studies_patient_key_idx ON studies (patient_key) WHERE patient_key IS NOT NULL`,

  `CREATE TABLE images (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    study_id uuid NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    sop_instance_uid text NOT NULL CONSTRAINT images_sop_instance_uid_key UNIQUE
      CONSTRAINT images_sop_instance_uid_format ${uid('sop_instance_uid')},
    series_instance_uid text NOT NULL
      CONSTRAINT images_series_instance_uid_format ${uid('series_instance_uid')},
    laterality text CONSTRAINT images_laterality_known CHECK (laterality IN ('R', 'L', 'U', 'B')),
    view text,
    knee_check_verdict text CONSTRAINT images_knee_check_verdict_known
      CHECK (knee_check_verdict IN ('accepted', 'refused')),
    knee_check_reason text,
    knee_check_score double precision,
    status text NOT NULL DEFAULT 'received' CONSTRAINT images_status_known
      CHECK (status IN ('received', 'graded', 'refused', 'failed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX images_study_id_idx ON images (study_id)`,

  `CREATE TABLE results (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    image_id uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    laterality text NOT NULL CONSTRAINT results_laterality_known CHECK (laterality IN ('R', 'L')),
    kl_grade smallint NOT NULL CONSTRAINT results_kl_grade_range CHECK (kl_grade BETWEEN 0 AND 4),
    probabilities jsonb NOT NULL CONSTRAINT results_probabilities_five
      CHECK (jsonb_typeof(probabilities) = 'array' AND jsonb_array_length(probabilities) = 5),
    confidence double precision NOT NULL
      CONSTRAINT results_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    model_id text NOT NULL,
    timings jsonb NOT NULL DEFAULT '{}'
      CONSTRAINT results_timings_object CHECK (jsonb_typeof(timings) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT results_image_model_laterality UNIQUE (image_id, model_id, laterality)
  )`,

  `CREATE TABLE job_records (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id text NOT NULL,
    study_instance_uid text NOT NULL,
    kind text NOT NULL,
    attempt integer NOT NULL CONSTRAINT job_records_attempt_positive CHECK (attempt >= 1),
    outcome text NOT NULL CONSTRAINT job_records_outcome_known
      CHECK (outcome IN ('succeeded', 'retrying', 'failed-permanent', 'failed-transient')),
    error_code text,
    error_message text,
    worker_id text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    CONSTRAINT job_records_job_attempt UNIQUE (job_id, attempt),
    CONSTRAINT job_records_finished_after_start CHECK (finished_at >= started_at),
    CONSTRAINT job_records_error_when_failed
      CHECK (outcome = 'succeeded' OR error_code IS NOT NULL)
  )`,
  `CREATE INDEX job_records_study_instance_uid_idx ON job_records (study_instance_uid)`,

  `CREATE TABLE problems (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    study_id uuid NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    image_id uuid REFERENCES images (id) ON DELETE CASCADE,
    scope text NOT NULL CONSTRAINT problems_scope_known CHECK (scope IN ('study', 'image')),
    kind text NOT NULL CONSTRAINT problems_kind_known CHECK (kind IN ('refusal', 'error')),
    code text NOT NULL,
    reason text NOT NULL,
    permanent boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT problems_image_matches_scope CHECK ((scope = 'image') = (image_id IS NOT NULL))
  )`,
  `CREATE INDEX problems_study_id_idx ON problems (study_id)`,
  `CREATE INDEX problems_image_id_idx ON problems (image_id) WHERE image_id IS NOT NULL`,

  `CREATE TABLE audit_entries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    study_id uuid NOT NULL REFERENCES studies (id) ON DELETE RESTRICT,
    object_kind text NOT NULL CONSTRAINT audit_entries_object_kind_known
      CHECK (object_kind IN ('sr', 'overlay') OR object_kind ~ '^fhir-[A-Z][A-Za-z]+$'),
    object_id text NOT NULL,
    destination text NOT NULL CONSTRAINT audit_entries_destination_without_credentials
      CHECK (destination !~ '^[a-z][a-z0-9+.-]*://[^/]*@'),
    action text NOT NULL CONSTRAINT audit_entries_action_known
      CHECK (action IN ('stored', 'replaced')),
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX audit_entries_study_id_idx ON audit_entries (study_id)`,
  `CREATE INDEX audit_entries_object_idx ON audit_entries (object_kind, object_id)`,
];
