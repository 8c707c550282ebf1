import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The care-planning side of a study (src/pipeline/care-plan.ts):
 *
 * - `studies.study_date`: Study Date (0008,0020) of the graded study. Progression compares a
 *   knee with the same patient's earlier results, which needs their dates; the date alone does
 *   not identify anyone, and the patient stays an HMAC key.
 * - `care_plans`: one row per study: where its care plan stands (`pending` while queued,
 *   `retrying` while the FHIR server cannot be reached, `written`, `unmatched` or `ambiguous`
 *   when no single Patient matched, `failed` for good), the reason, a keyed hash (HMAC, the
 *   patient key secret) of the matched Patient's logical id on the configured FHIR server (CDS
 *   Hooks asks by that id; the id itself is not stored), and per knee the proposal written.
 */
export class CarePlans1765100000000 implements MigrationInterface {
  name = 'CarePlans1765100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE studies ADD COLUMN study_date date');
    await queryRunner.query(
      `CREATE TABLE care_plans (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        study_id uuid NOT NULL UNIQUE REFERENCES studies (id) ON DELETE CASCADE,
        status text NOT NULL CONSTRAINT care_plans_status CHECK (
          status IN ('pending', 'retrying', 'written', 'unmatched', 'ambiguous', 'failed')),
        reason text,
        fhir_patient_key text CONSTRAINT care_plans_fhir_patient_key_digest
          CHECK (fhir_patient_key ~ '^[0-9a-f]{64}$'),
        knees jsonb NOT NULL DEFAULT '[]'::jsonb
          CONSTRAINT care_plans_knees_array CHECK (jsonb_typeof(knees) = 'array'),
        attempts integer NOT NULL DEFAULT 0 CONSTRAINT care_plans_attempts CHECK (attempts >= 0),
        written_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    await queryRunner.query(
      `CREATE INDEX care_plans_fhir_patient ON care_plans (fhir_patient_key, updated_at DESC)
        WHERE fhir_patient_key IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE care_plans');
    await queryRunner.query('ALTER TABLE studies DROP COLUMN study_date');
  }
}
