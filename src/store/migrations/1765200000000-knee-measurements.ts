import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `results.jsw`: the joint-space width measured on the graded image (src/measurement/jsw.ts),
 * as JSON: the unit (`mm` from the pixel spacing, `px` without it), the minimum width of each
 * compartment or the reason it was not measured, the quality and the notes on how the
 * numbers were obtained. Null for results graded before measurements existed.
 */
export class KneeMeasurements1765200000000 implements MigrationInterface {
  name = 'KneeMeasurements1765200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE results ADD COLUMN jsw jsonb
         CONSTRAINT results_jsw_object CHECK (jsw IS NULL OR jsonb_typeof(jsw) = 'object')`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE results DROP COLUMN jsw');
  }
}
