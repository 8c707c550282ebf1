import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the pipeline needs to know about a study's last run:
 *
 * - `graded_inputs`: a digest of the eligible source images and the model that graded them.
 *   A stable-study event whose inputs have the same digest (typically the one that jointspace's
 *   own SR and overlays trigger) is acknowledged without grading again.
 * - `attempt_started_at`: when the latest attempt began. Refusals and errors recorded before
 *   it belong to earlier attempts; the study report shows the latest attempt's only, while the
 *   table keeps them all as history.
 */
export class StudyRuns1764990000000 implements MigrationInterface {
  name = 'StudyRuns1764990000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE studies
         ADD COLUMN graded_inputs text
           CONSTRAINT studies_graded_inputs_digest CHECK (graded_inputs ~ '^[0-9a-f]{64}$'),
         ADD COLUMN attempt_started_at timestamptz`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE studies DROP COLUMN attempt_started_at, DROP COLUMN graded_inputs',
    );
  }
}
