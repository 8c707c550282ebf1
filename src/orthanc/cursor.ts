/**
 * Where a change poller has got to in a feed: the seq of the last change it has handled
 * completely. Kept in PostgreSQL (`intake_cursors`, migration 1764900000000), so a restarted
 * process, or another process on the same database, carries on from there.
 */
import type { DataSource } from 'typeorm';
import { JointspaceError } from '../errors.js';

export interface CursorStore {
  /** The stored seq of the feed `name`, or undefined before anything was stored. */
  get(name: string): Promise<number | undefined>;
  /**
   * Stores `seq` unless the stored seq is already higher (a cursor never moves backwards);
   * resolves with the seq stored afterwards.
   */
  set(name: string, seq: number): Promise<number>;
}

export class PostgresCursorStore implements CursorStore {
  constructor(private readonly dataSource: DataSource) {}

  async get(name: string): Promise<number | undefined> {
    checkName(name);
    const rows: { seq: string }[] = await this.dataSource.query(
      'SELECT seq FROM intake_cursors WHERE name = $1',
      [name],
    );
    const row = rows[0];
    return row === undefined ? undefined : storedSeq(row.seq);
  }

  async set(name: string, seq: number): Promise<number> {
    checkName(name);
    if (!Number.isSafeInteger(seq) || seq < 0) {
      throw new JointspaceError('invalid-argument', 'cursor seq must be a whole number ≥ 0', {
        status: 400,
      });
    }
    // updated_at moves even when seq does not: it tells when a poller last got this far.
    const rows: { seq: string }[] = await this.dataSource.query(
      `INSERT INTO intake_cursors (name, seq) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE
         SET seq = GREATEST(intake_cursors.seq, EXCLUDED.seq), updated_at = now()
       RETURNING seq`,
      [name, seq],
    );
    const row = rows[0];
    if (row === undefined) throw new Error('intake cursor upsert returned no row');
    return storedSeq(row.seq);
  }
}

function checkName(name: string): void {
  if (name === '') {
    throw new JointspaceError('invalid-argument', 'cursor name must not be empty', {
      status: 400,
    });
  }
}

/** node-postgres returns bigint as text; seqs beyond 2^53 cannot occur in practice. */
function storedSeq(text: string): number {
  const seq = Number(text);
  if (!Number.isSafeInteger(seq)) throw new Error(`intake cursor seq ${text} is out of range`);
  return seq;
}
