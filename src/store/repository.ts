/**
 * The records the pipeline keeps: a small typed API over the tables of `entities.ts`.
 *
 * Writes are idempotent where a retried job repeats them: studies by Study Instance UID,
 * images by SOP Instance UID, results by (image, model, knee), job history by (job, attempt).
 * A violated CHECK or foreign key becomes a `JointspaceError` naming the constraint.
 */
import { createHmac } from 'node:crypto';
import { QueryFailedError, type DataSource, type EntityManager } from 'typeorm';
import { JointspaceError } from '../errors.js';
import type { ProgressionAssessment } from '../care/progression.js';
import type { JswSummary } from '../measurement/summary.js';
import {
  AuditEntrySchema,
  ImageSchema,
  JobRecordSchema,
  ProblemSchema,
  StudySchema,
  type AuditAction,
  type AuditEntry,
  type AuditObjectKind,
  type Image,
  type ImageLaterality,
  type ImageStatus,
  type JobOutcome,
  type JobRecord,
  type KneeCheckVerdict,
  type KneeLaterality,
  type Problem,
  type ProblemKind,
  type ResultTimings,
  type Study,
  type StudyStatus,
} from './entities.js';

/**
 * The key that links a patient's studies without storing who the patient is: HMAC-SHA256 of
 * the Issuer of Patient ID (0010,0021) and Patient ID (0010,0020) under a site secret.
 * Without the secret the key cannot be turned back into the identifier by trying candidates.
 */
export function derivePatientKey(secret: string, issuer: string, patientId: string): string {
  if (secret.length < 16) {
    throw new JointspaceError('invalid-argument', 'patient key secret: at least 16 characters');
  }
  // A separator that cannot occur in either value keeps ("a", "bc") apart from ("ab", "c").
  return createHmac('sha256', secret).update(`${issuer}\u0000${patientId}`).digest('hex');
}

export interface ImageInput {
  studyInstanceUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  laterality?: ImageLaterality;
  view?: string;
  kneeCheck?: { verdict: KneeCheckVerdict; reason: string; score: number };
  status?: ImageStatus;
}

export interface ResultInput {
  sopInstanceUid: string;
  laterality: KneeLaterality;
  klGrade: number;
  probabilities: number[];
  confidence: number;
  modelId: string;
  timings?: ResultTimings;
  /** The joint-space width measured on the image, or why it could not be. */
  jsw?: JswSummary | { refused: string };
  /** The change since the knee's earlier result, when there was one. */
  progression?: ProgressionAssessment;
}

export interface JobInput {
  jobId: string;
  studyInstanceUid: string;
  kind: string;
  attempt: number;
  outcome: JobOutcome;
  error?: { code: string; message: string };
  workerId: string;
  startedAt: Date;
  finishedAt?: Date;
}

export interface ProblemInput {
  studyInstanceUid: string;
  /** Absent for a problem with the whole study. */
  sopInstanceUid?: string;
  kind: ProblemKind;
  code: string;
  /** Safe to show: never patient data. */
  reason: string;
  permanent: boolean;
}

export interface AuditInput {
  studyInstanceUid: string;
  objectKind: AuditObjectKind;
  objectId: string;
  /** Where it was written; user name, password, query and fragment are removed. */
  destination: string;
  action: AuditAction;
}

export interface KneeReport {
  laterality: KneeLaterality;
  klGrade: number;
  probabilities: number[];
  confidence: number;
  modelId: string;
  jsw: JswSummary | { refused: string } | null;
}

export interface RefusalReport {
  /** Null for a refusal of the whole study. */
  sopInstanceUid: string | null;
  reason: string;
}

/** A failure of the study's latest attempt (the PACS rejected a write, retries ran out). */
export interface ErrorReport {
  code: string;
  reason: string;
}

/** What `GET /api/studies/{uid}` answers. */
export interface StudyReport {
  status: StudyStatus;
  knees: KneeReport[];
  refusals: RefusalReport[];
  errors: ErrorReport[];
}

export interface ProblemRecord extends Omit<Problem, 'studyId' | 'imageId'> {
  sopInstanceUid: string | null;
}

/** PostgreSQL SQLSTATEs turned into an `invalid-argument` error. */
const CONSTRAINT_VIOLATIONS = new Set(['23502', '23503', '23514']);

export class Store {
  constructor(private readonly dataSource: DataSource) {}

  /** Creates the study, or sets its patient key when one is given; returns its row. */
  async upsertStudy(studyInstanceUid: string, patientKey?: string): Promise<Study> {
    const insert = this.dataSource
      .createQueryBuilder()
      .insert()
      .into(StudySchema)
      .values({ studyInstanceUid, patientKey: patientKey ?? null });
    const upsert =
      patientKey === undefined
        ? insert.orIgnore()
        : insert.orUpdate(['patient_key', 'updated_at'], ['study_instance_uid']);
    await guard(() => upsert.execute());
    return this.study(studyInstanceUid);
  }

  async setStudyStatus(studyInstanceUid: string, status: StudyStatus): Promise<void> {
    const result = await guard(() =>
      this.dataSource.getRepository(StudySchema).update({ studyInstanceUid }, { status }),
    );
    if (result.affected === 0) throw unknownStudy(studyInstanceUid);
  }

  /**
   * Starts an attempt at a study: creates it if new (with its patient key when known), marks it
   * processing and stamps the attempt, so the report shows this attempt's problems only.
   */
  async beginAttempt(
    studyInstanceUid: string,
    patientKey?: string,
    studyDate?: string,
  ): Promise<void> {
    // One statement: this runs once per job, and round trips are most of its cost.
    await guard(() =>
      this.dataSource.query(
        `INSERT INTO studies (study_instance_uid, patient_key, study_date, status, attempt_started_at)
         VALUES ($1, $2, $3, 'processing', clock_timestamp())
         ON CONFLICT (study_instance_uid) DO UPDATE
            SET status = 'processing', attempt_started_at = clock_timestamp(), updated_at = now(),
                patient_key = coalesce(EXCLUDED.patient_key, studies.patient_key),
                study_date = coalesce(EXCLUDED.study_date, studies.study_date)`,
        [studyInstanceUid, patientKey ?? null, studyDate ?? null],
      ),
    );
  }

  /** Ends an attempt: the study's status and, when it was graded, the digest of its inputs. */
  async finishAttempt(
    studyInstanceUid: string,
    status: StudyStatus,
    gradedInputs: string | null,
  ): Promise<void> {
    const result = await guard(() =>
      this.dataSource
        .getRepository(StudySchema)
        .update({ studyInstanceUid }, { status, gradedInputs }),
    );
    if (result.affected === 0) throw unknownStudy(studyInstanceUid);
  }

  /**
   * Marks failed the studies left `processing` by a job that is over: no job of `queue` for the
   * study waits, retries or runs (the queue's job table is `table`), and the attempt began more
   * than `graceSeconds` ago. That happens when a job's worker dies on its last attempt: pg-boss
   * expires the job into `failed` and nothing is left to finish the study. Each study gets a
   * problem saying so. Returns their UIDs.
   */
  async failAbandonedStudies(
    table: string,
    queue: string,
    graceSeconds: number,
  ): Promise<string[]> {
    // An UPDATE … RETURNING comes back from TypeORM as [rows, affected count].
    const rows = await guard(() =>
      this.dataSource.query<[{ uid: string }[], number]>(
        `UPDATE studies s SET status = 'failed', updated_at = now()
            WHERE s.status = 'processing'
              AND s.attempt_started_at < clock_timestamp() - make_interval(secs => $2)
              AND NOT EXISTS (
                SELECT 1 FROM ${table} j
                 WHERE j.name = $1 AND j.singleton_key = s.study_instance_uid
                   AND j.state IN ('created', 'retry', 'active'))
            RETURNING s.study_instance_uid AS uid`,
        [queue, graceSeconds],
      ),
    );
    const uids = rows[0].map((row) => row.uid);
    for (const uid of uids) {
      await this.recordProblem({
        studyInstanceUid: uid,
        kind: 'error',
        code: 'job-abandoned',
        reason:
          'the grading job ended without finishing the study (its worker stopped on the last attempt, or the job ran past its timeout); reprocess the study',
        permanent: true,
      });
    }
    return uids;
  }

  /** The study's row, or undefined when it is unknown. */
  async findStudy(studyInstanceUid: string): Promise<Study | undefined> {
    return (
      (await this.dataSource.getRepository(StudySchema).findOneBy({ studyInstanceUid })) ??
      undefined
    );
  }

  /** Records an image of a known study, or updates it by SOP Instance UID; returns its row. */
  async recordImage(input: ImageInput): Promise<Image> {
    const study = await this.study(input.studyInstanceUid);
    const row = {
      studyId: study.id,
      sopInstanceUid: input.sopInstanceUid,
      seriesInstanceUid: input.seriesInstanceUid,
      laterality: input.laterality ?? null,
      view: input.view ?? null,
      kneeCheckVerdict: input.kneeCheck?.verdict ?? null,
      kneeCheckReason: input.kneeCheck?.reason ?? null,
      kneeCheckScore: input.kneeCheck?.score ?? null,
      status: input.status ?? 'received',
    };
    const changing = Object.keys(row).filter((key) => key !== 'sopInstanceUid');
    const columns = changing.map((key) => column(ImageSchema.options.columns, key));

    await guard(() =>
      this.dataSource
        .createQueryBuilder()
        .insert()
        .into(ImageSchema)
        .values(row)
        .orUpdate([...columns, 'updated_at'], ['sop_instance_uid'])
        .execute(),
    );
    return this.image(input.sopInstanceUid);
  }

  /** Saves a knee's grade; a second save for the same image, model and knee replaces it. */
  async saveResult(input: ResultInput): Promise<void> {
    const rows: unknown[] = await guard(() =>
      this.dataSource.query(
        `INSERT INTO results
                (image_id, laterality, kl_grade, probabilities, confidence, model_id, timings, jsw,
                 progression)
         SELECT i.id, $2, $3, $4::jsonb, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb
           FROM images i WHERE i.sop_instance_uid = $1
         ON CONFLICT (image_id, model_id, laterality) DO UPDATE
            SET kl_grade = EXCLUDED.kl_grade, probabilities = EXCLUDED.probabilities,
                confidence = EXCLUDED.confidence, timings = EXCLUDED.timings,
                jsw = EXCLUDED.jsw, progression = EXCLUDED.progression, created_at = now()
         RETURNING id`,
        [
          input.sopInstanceUid,
          input.laterality,
          input.klGrade,
          JSON.stringify(input.probabilities),
          input.confidence,
          input.modelId,
          JSON.stringify(input.timings ?? {}),
          input.jsw === undefined ? null : JSON.stringify(input.jsw),
          input.progression === undefined ? null : JSON.stringify(input.progression),
        ],
      ),
    );
    if (rows.length === 0) throw unknownImage();
  }

  /** Records one attempt of a job; recording the same attempt again updates it. */
  async recordJob(input: JobInput): Promise<void> {
    await guard(() =>
      this.dataSource
        .createQueryBuilder()
        .insert()
        .into(JobRecordSchema)
        .values({
          jobId: input.jobId,
          studyInstanceUid: input.studyInstanceUid,
          kind: input.kind,
          attempt: input.attempt,
          outcome: input.outcome,
          errorCode: input.error?.code ?? null,
          errorMessage: input.error?.message ?? null,
          workerId: input.workerId,
          startedAt: input.startedAt,
          finishedAt: input.finishedAt ?? null,
        })
        .orUpdate(
          ['outcome', 'error_code', 'error_message', 'worker_id', 'started_at', 'finished_at'],
          ['job_id', 'attempt'],
        )
        .execute(),
    );
  }

  /** The attempts recorded for a study, oldest first. */
  async listJobs(studyInstanceUid: string): Promise<JobRecord[]> {
    return this.dataSource
      .getRepository(JobRecordSchema)
      .find({ where: { studyInstanceUid }, order: { startedAt: 'ASC', attempt: 'ASC' } });
  }

  async recordProblem(input: ProblemInput): Promise<void> {
    const study = await this.study(input.studyInstanceUid);
    const image =
      input.sopInstanceUid === undefined ? undefined : await this.image(input.sopInstanceUid);
    await guard(() =>
      this.dataSource.getRepository(ProblemSchema).insert({
        studyId: study.id,
        imageId: image?.id ?? null,
        scope: image === undefined ? 'study' : 'image',
        kind: input.kind,
        code: input.code,
        reason: input.reason,
        permanent: input.permanent,
      }),
    );
  }

  /** The problems recorded for a study, oldest first. */
  async listProblems(studyInstanceUid: string): Promise<ProblemRecord[]> {
    const rows: ProblemRow[] = await this.dataSource.query(
      `SELECT p.id, p.scope, p.kind, p.code, p.reason, p.permanent, p.created_at,
              i.sop_instance_uid
         FROM problems p
         JOIN studies s ON s.id = p.study_id
         LEFT JOIN images i ON i.id = p.image_id
        WHERE s.study_instance_uid = $1
        ORDER BY p.created_at, p.id`,
      [studyInstanceUid],
    );
    return rows.map((row) => ({
      id: row.id,
      sopInstanceUid: row.sop_instance_uid,
      scope: row.scope,
      kind: row.kind,
      code: row.code,
      reason: row.reason,
      permanent: row.permanent,
      createdAt: row.created_at,
    }));
  }

  /** Records that an object was written, and where (credentials are never stored). */
  async recordAudit(input: AuditInput): Promise<void> {
    const study = await this.study(input.studyInstanceUid);
    await guard(() =>
      this.dataSource.getRepository(AuditEntrySchema).insert({
        studyId: study.id,
        objectKind: input.objectKind,
        objectId: input.objectId,
        destination: withoutCredentials(input.destination),
        action: input.action,
      }),
    );
  }

  /**
   * Records several objects written for a study in one statement; each is `replaced` when an
   * entry for the same object exists already, else `stored`. Used once per pipeline run, where
   * a round trip per object would be the larger part of the bookkeeping.
   */
  async recordWrites(
    studyInstanceUid: string,
    destination: string,
    objects: readonly { kind: AuditObjectKind; id: string }[],
  ): Promise<void> {
    if (objects.length === 0) return;
    const result: unknown[] = await guard(() =>
      this.dataSource.query(
        `INSERT INTO audit_entries (study_id, object_kind, object_id, destination, action)
         SELECT s.id, o.kind, o.id, $2,
                CASE WHEN EXISTS (SELECT 1 FROM audit_entries a
                                   WHERE a.study_id = s.id AND a.object_id = o.id)
                     THEN 'replaced' ELSE 'stored' END
           FROM studies s, unnest($3::text[], $4::text[]) AS o(kind, id)
          WHERE s.study_instance_uid = $1
         RETURNING id`,
        [
          studyInstanceUid,
          withoutCredentials(destination),
          objects.map((object) => object.kind),
          objects.map((object) => object.id),
        ],
      ),
    );
    if (result.length === 0) throw unknownStudy(studyInstanceUid);
  }

  /** The objects written for a study, oldest first. */
  async listAudit(studyInstanceUid: string): Promise<AuditEntry[]> {
    const study = await this.study(studyInstanceUid);
    return this.dataSource
      .getRepository(AuditEntrySchema)
      .find({ where: { studyId: study.id }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /**
   * The study's status, the latest result for each knee, and its refusals; undefined when the
   * study is unknown. When several images or models graded the same knee, the newest wins.
   */
  async getStudyReport(studyInstanceUid: string): Promise<StudyReport | undefined> {
    const study = await this.dataSource.getRepository(StudySchema).findOneBy({ studyInstanceUid });
    if (study === null) return undefined;

    return this.dataSource.transaction('REPEATABLE READ', async (manager) => ({
      status: study.status,
      knees: await knees(manager, study.id),
      refusals: await refusals(manager, study.id),
      errors: await errors(manager, study.id),
    }));
  }

  private async study(studyInstanceUid: string): Promise<Study> {
    const study = await this.dataSource.getRepository(StudySchema).findOneBy({ studyInstanceUid });
    if (study === null) throw unknownStudy(studyInstanceUid);
    return study;
  }

  private async image(sopInstanceUid: string): Promise<Image> {
    const image = await this.dataSource.getRepository(ImageSchema).findOneBy({ sopInstanceUid });
    if (image === null) throw unknownImage();
    return image;
  }
}

interface ProblemRow {
  id: string;
  scope: Problem['scope'];
  kind: ProblemKind;
  code: string;
  reason: string;
  permanent: boolean;
  created_at: Date;
  sop_instance_uid: string | null;
}

interface KneeRow {
  laterality: KneeLaterality;
  kl_grade: number;
  probabilities: number[];
  confidence: number;
  model_id: string;
  jsw: JswSummary | { refused: string } | null;
}

async function knees(manager: EntityManager, studyId: string): Promise<KneeReport[]> {
  const rows: KneeRow[] = await manager.query(
    `SELECT DISTINCT ON (r.laterality)
            r.laterality, r.kl_grade, r.probabilities, r.confidence, r.model_id, r.jsw
       FROM results r
       JOIN images i ON i.id = r.image_id
      WHERE i.study_id = $1
      ORDER BY r.laterality, r.created_at DESC, r.id`,
    [studyId],
  );
  return rows.map((row) => ({
    laterality: row.laterality,
    klGrade: row.kl_grade,
    probabilities: row.probabilities,
    confidence: row.confidence,
    modelId: row.model_id,
    jsw: row.jsw,
  }));
}

async function refusals(manager: EntityManager, studyId: string): Promise<RefusalReport[]> {
  const rows: { sop_instance_uid: string | null; reason: string }[] = await manager.query(
    `SELECT i.sop_instance_uid, p.reason
       FROM problems p
       LEFT JOIN images i ON i.id = p.image_id
       JOIN studies s ON s.id = p.study_id
      WHERE p.study_id = $1 AND p.kind = 'refusal'
        AND p.created_at >= coalesce(s.attempt_started_at, '-infinity')
      ORDER BY p.created_at, p.id`,
    [studyId],
  );
  return rows.map((row) => ({ sopInstanceUid: row.sop_instance_uid, reason: row.reason }));
}

async function errors(manager: EntityManager, studyId: string): Promise<ErrorReport[]> {
  const rows: { code: string; reason: string }[] = await manager.query(
    `SELECT p.code, p.reason
       FROM problems p
       JOIN studies s ON s.id = p.study_id
      WHERE p.study_id = $1 AND p.kind = 'error'
        AND p.created_at >= coalesce(s.attempt_started_at, '-infinity')
      ORDER BY p.created_at, p.id`,
    [studyId],
  );
  return rows.map((row) => ({ code: row.code, reason: row.reason }));
}

/** The database column of an entity property (`studyId` → `study_id`). */
function column(columns: Record<string, unknown>, property: string): string {
  const options = columns[property] as { name?: string } | undefined;
  return options?.name ?? property;
}

/** `url` without user name, password, query or fragment; a non-URL is refused. */
export function withoutCredentials(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new JointspaceError('invalid-argument', 'audit destination: an absolute URL expected', {
      cause: error,
    });
  }
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  return parsed.toString();
}

function unknownImage(): JointspaceError {
  return new JointspaceError('invalid-argument', 'no image with that SOP Instance UID is recorded');
}

/** The message leaves the UID out: it may reach logs, which carry no identifiers. */
function unknownStudy(_studyInstanceUid: string): JointspaceError {
  return new JointspaceError(
    'invalid-argument',
    'no study with that Study Instance UID is recorded',
  );
}

/** Runs a write; a violated constraint becomes an error naming it, others pass unchanged. */
async function guard<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof QueryFailedError)) throw error;
    const driver = error.driverError as { code?: unknown; constraint?: unknown; column?: unknown };
    if (typeof driver.code !== 'string' || !CONSTRAINT_VIOLATIONS.has(driver.code)) throw error;
    const what =
      typeof driver.constraint === 'string'
        ? `constraint ${driver.constraint}`
        : `column ${String(driver.column)}`;
    throw new JointspaceError('invalid-argument', `rejected by the database: ${what} violated`, {
      cause: error,
    });
  }
}
