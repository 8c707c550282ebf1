/**
 * The read-only queries of the operator console: the worklist of studies with their latest
 * job and counts, a study's job history, and the overlays jointspace wrote into a study.
 *
 * Pages are ordered newest first by (created_at, id) and continue after a cursor holding the
 * last row's pair; created_at travels as PostgreSQL's own text form so that the microseconds
 * survive the round trip (a JavaScript Date keeps milliseconds only). Nothing here reads or
 * returns patient data: names and identifiers live in the PACS only.
 *
 * Counts follow `getStudyReport`: knees graded are the distinct knees with a result, over
 * every attempt; refusals and errors are those of the latest attempt.
 */
import type { DataSource } from 'typeorm';
import type { JobOutcome, JobRecord, StudyStatus } from './entities.js';

/** Where the next page starts: after the study with this `created_at` (text) and id. */
export interface WorklistCursor {
  createdAt: string;
  id: string;
}

export interface WorklistQuery {
  status?: StudyStatus;
  /** Rows on the page, at least 1; the caller bounds it. */
  limit: number;
  after?: WorklistCursor;
}

export interface WorklistJob {
  jobId: string;
  outcome: JobOutcome;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface WorklistEntry {
  studyInstanceUid: string;
  status: StudyStatus;
  receivedAt: Date;
  updatedAt: Date;
  /** The newest attempt of the newest job; null before any job ran. */
  latestJob: WorklistJob | null;
  /** Jobs recorded for the study (each counted once, whatever its attempts). */
  jobs: number;
  kneesGraded: number;
  refusals: number;
  errors: number;
}

export interface WorklistPage {
  entries: WorklistEntry[];
  /** Set when more rows follow. */
  next: WorklistCursor | null;
}

/** One attempt in a study's job history (a job_records row without its keys). */
export type JobHistoryEntry = Omit<JobRecord, 'id' | 'studyInstanceUid'>;

export interface OverlayRecord {
  sopInstanceUid: string;
  /** When it was first written, and when last. */
  firstWrittenAt: Date;
  lastWrittenAt: Date;
  /** Times it was written (a reprocess replaces it under the same UID). */
  writes: number;
}

interface WorklistRow {
  id: string;
  cursor_at: string;
  study_instance_uid: string;
  status: StudyStatus;
  created_at: Date;
  updated_at: Date;
  job_id: string | null;
  outcome: JobOutcome | null;
  started_at: Date | null;
  finished_at: Date | null;
  jobs: string;
  knees_graded: string;
  refusals: string;
  errors: string;
}

const WORKLIST_SQL = `
  SELECT s.id, s.created_at::text AS cursor_at, s.study_instance_uid, s.status,
         s.created_at, s.updated_at,
         j.job_id, j.outcome, j.started_at, j.finished_at,
         (SELECT count(DISTINCT jr.job_id) FROM job_records jr
           WHERE jr.study_instance_uid = s.study_instance_uid) AS jobs,
         (SELECT count(DISTINCT r.laterality) FROM results r
            JOIN images i ON i.id = r.image_id
           WHERE i.study_id = s.id) AS knees_graded,
         (SELECT count(*) FROM problems p
           WHERE p.study_id = s.id AND p.kind = 'refusal'
             AND p.created_at >= coalesce(s.attempt_started_at, '-infinity')) AS refusals,
         (SELECT count(*) FROM problems p
           WHERE p.study_id = s.id AND p.kind = 'error'
             AND p.created_at >= coalesce(s.attempt_started_at, '-infinity')) AS errors
    FROM studies s
    LEFT JOIN LATERAL (
      SELECT jr.job_id, jr.outcome, jr.started_at, jr.finished_at
        FROM job_records jr
       WHERE jr.study_instance_uid = s.study_instance_uid
       ORDER BY jr.started_at DESC, jr.attempt DESC
       LIMIT 1
    ) j ON true
   WHERE ($1::text IS NULL OR s.status = $1)
     AND ($2::timestamptz IS NULL OR (s.created_at, s.id) < ($2::timestamptz, $3::uuid))
   ORDER BY s.created_at DESC, s.id DESC
   LIMIT $4`;

export class Worklist {
  constructor(private readonly dataSource: DataSource) {}

  /** One page of studies, newest first. */
  async studies(query: WorklistQuery): Promise<WorklistPage> {
    // One row more than asked tells whether another page follows.
    const rows: WorklistRow[] = await this.dataSource.query(WORKLIST_SQL, [
      query.status ?? null,
      query.after?.createdAt ?? null,
      query.after?.id ?? null,
      query.limit + 1,
    ]);
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      entries: page.map(entry),
      next: rows.length > query.limit && last !== undefined ? cursorOf(last) : null,
    };
  }

  /** Whether the study is recorded. */
  async hasStudy(studyInstanceUid: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      'SELECT 1 FROM studies WHERE study_instance_uid = $1',
      [studyInstanceUid],
    );
    return rows.length > 0;
  }

  /** Every attempt of every job of the study, oldest first. */
  async jobHistory(studyInstanceUid: string): Promise<JobHistoryEntry[]> {
    const rows: {
      job_id: string;
      kind: string;
      attempt: number;
      outcome: JobOutcome;
      error_code: string | null;
      error_message: string | null;
      worker_id: string;
      started_at: Date;
      finished_at: Date | null;
    }[] = await this.dataSource.query(
      `SELECT job_id, kind, attempt, outcome, error_code, error_message, worker_id,
              started_at, finished_at
         FROM job_records
        WHERE study_instance_uid = $1
        ORDER BY started_at, attempt, id`,
      [studyInstanceUid],
    );
    return rows.map((row) => ({
      jobId: row.job_id,
      kind: row.kind,
      attempt: row.attempt,
      outcome: row.outcome,
      errorCode: row.error_code,
      errorMessage: row.error_message,
      workerId: row.worker_id,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    }));
  }

  /** The overlays the audit trail records as written into the study, first written first. */
  async overlays(studyInstanceUid: string): Promise<OverlayRecord[]> {
    const rows: { object_id: string; first_at: Date; last_at: Date; writes: string }[] =
      await this.dataSource.query(
        `SELECT a.object_id, min(a.created_at) AS first_at, max(a.created_at) AS last_at,
                count(*) AS writes
           FROM audit_entries a
           JOIN studies s ON s.id = a.study_id
          WHERE s.study_instance_uid = $1 AND a.object_kind = 'overlay'
          GROUP BY a.object_id
          ORDER BY min(a.created_at), a.object_id`,
        [studyInstanceUid],
      );
    return rows.map((row) => ({
      sopInstanceUid: row.object_id,
      firstWrittenAt: row.first_at,
      lastWrittenAt: row.last_at,
      writes: Number(row.writes),
    }));
  }

  /** Whether the audit trail records `sopInstanceUid` as an overlay written into the study. */
  async isRecordedOverlay(studyInstanceUid: string, sopInstanceUid: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `SELECT 1 FROM audit_entries a
         JOIN studies s ON s.id = a.study_id
        WHERE s.study_instance_uid = $1 AND a.object_kind = 'overlay' AND a.object_id = $2
        LIMIT 1`,
      [studyInstanceUid, sopInstanceUid],
    );
    return rows.length > 0;
  }
}

function entry(row: WorklistRow): WorklistEntry {
  return {
    studyInstanceUid: row.study_instance_uid,
    status: row.status,
    receivedAt: row.created_at,
    updatedAt: row.updated_at,
    latestJob:
      row.job_id === null || row.outcome === null || row.started_at === null
        ? null
        : {
            jobId: row.job_id,
            outcome: row.outcome,
            startedAt: row.started_at,
            finishedAt: row.finished_at,
          },
    // count(*) is bigint, which the driver hands over as text.
    jobs: Number(row.jobs),
    kneesGraded: Number(row.knees_graded),
    refusals: Number(row.refusals),
    errors: Number(row.errors),
  };
}

function cursorOf(row: WorklistRow): WorklistCursor {
  return { createdAt: row.cursor_at, id: row.id };
}
