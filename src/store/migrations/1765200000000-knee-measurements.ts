import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two JSON columns of `results`, null for results graded before they existed:
 * - `jsw`: the joint-space width measured on the graded image (src/measurement/jsw.ts): the
 *   unit (`mm` from the pixel spacing, `px` without it), the minimum width of each compartment
 *   or the reason it was not measured, the quality and the notes on how it was obtained;
 * - `progression`: the comparison with the patient's earlier result of the knee
 *   (src/care/progression.ts), made once by the grading job for the SR and read by the care
 *   job; null when there was nothing earlier to compare with.
 */
export class KneeMeasurements1765200000000 implements MigrationInterface {
  name = 'KneeMeasurements1765200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE results ADD COLUMN jsw jsonb
         CONSTRAINT results_jsw_object CHECK (jsw IS NULL OR jsonb_typeof(jsw) = 'object'),
       ADD COLUMN progression jsonb CONSTRAINT results_progression_object
         CHECK (progression IS NULL OR jsonb_typeof(progression) = 'object')`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE results DROP COLUMN jsw, DROP COLUMN progression');
  }
}
