import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where each intake feed has got to: for the Orthanc change poller, the seq of the last
 * change it has handled completely (`src/orthanc/cursor.ts`). A cursor only moves forward.
 */
export class IntakeCursor1764900000000 implements MigrationInterface {
  name = 'IntakeCursor1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE intake_cursors (
        name text PRIMARY KEY,
        seq bigint NOT NULL CONSTRAINT intake_cursors_seq_non_negative CHECK (seq >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE intake_cursors');
  }
}
