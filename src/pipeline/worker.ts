/**
 * The worker: takes `grade-study` jobs from the queue, runs the study processor, and decides
 * what a failure means.
 *
 * | failure | examples | what happens |
 * |---------|----------|--------------|
 * | transient | PACS refused the connection, 5xx, timeout; database connection lost | thrown: pg-boss retries with exponential backoff until the retry limit, then the job fails and the study is marked failed |
 * | permanent | the PACS rejects what we write, a malformed study | recorded once as the study's error, the job completes, no retry |
 *
 * Per-image problems (not a knee, undecodable) never reach here: the processor records them as
 * refusals and grades the rest. Every attempt is written to the job history.
 */
import { hostname } from 'node:os';
import { QueryFailedError } from 'typeorm';
import { JointspaceError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { JobOutcome } from '../store/entities.js';
import type { JobInput, Store } from '../store/repository.js';
import type { StudyProcessor, StudyRun } from './process-study.js';
import { GRADE_STUDY_QUEUE, QUEUE_SCHEMA, type JobAttempt, type StudyQueue } from './queue.js';

export type JobMetricOutcome = 'succeeded' | 'failed-permanent' | 'failed-transient' | 'skipped';

export interface JobObserver {
  jobFinished(outcome: JobMetricOutcome): void;
}

export interface WorkerOptions {
  queue: StudyQueue;
  processor: StudyProcessor;
  store: Store;
  logger: Logger;
  observer?: JobObserver;
  concurrency: number;
  /** Names this process in the job history (default host and pid). */
  workerId?: string;
  pollingIntervalSeconds?: number;
  /**
   * Called after a job graded at least one knee (its SR is in the PACS), e.g. to queue the
   * care plan. Must not throw: the grading job has succeeded whatever it does.
   */
  afterGraded?: (studyInstanceUid: string) => Promise<void>;
}

export const JOB_KIND = 'grade-study';

/** How long a study may be `processing` without a job before the sweep fails it. */
export const ABANDONED_GRACE_S = 60;
/** How often each process sweeps. */
export const SWEEP_INTERVAL_MS = 60_000;

/** PostgreSQL SQLSTATE classes and codes after which a retry can succeed. */
const TRANSIENT_SQLSTATE = /^(08|53|57P0|40001|40P01)/;

/** Whether retrying could help: the PACS or the database was unreachable or overloaded. */
export function isTransient(error: unknown): boolean {
  if (error instanceof JointspaceError) return !error.permanent;
  if (error instanceof QueryFailedError) {
    const code = (error.driverError as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' && TRANSIENT_SQLSTATE.test(code);
  }
  // Anything else (a dropped socket inside a driver, an unexpected bug) is retried: with the
  // backoff and the limit, a real bug ends as a failed job after a few attempts, while an
  // infrastructure hiccup heals.
  return true;
}

/** What a failed attempt means, as both workers (grading and care plan) record it. */
export interface SortedFailure {
  failure: { code: string; message: string };
  /** `retrying` when the queue will run the job again, else the kind of final failure. */
  outcome: Exclude<JobOutcome, 'succeeded'>;
  /** Whether to throw, so pg-boss retries (or fails) the job; a permanent failure completes it. */
  rethrow: boolean;
}

export function sortFailure(error: unknown, willRetry: boolean): SortedFailure {
  const transient = isTransient(error);
  return {
    failure: { code: errorCode(error), message: errorMessage(error) },
    outcome: !transient ? 'failed-permanent' : willRetry ? 'retrying' : 'failed-transient',
    rethrow: transient,
  };
}

export function errorCode(error: unknown): string {
  if (error instanceof JointspaceError) return error.code;
  if (error instanceof QueryFailedError) return 'database-error';
  return 'internal-error';
}

/**
 * Writes one attempt to the job history, ending now. A failure to write is logged as `event`
 * and swallowed: the database may be what failed, and the queue still holds the job's state.
 */
export async function recordAttempt(
  store: Pick<Store, 'recordJob'>,
  logger: Logger,
  event: string,
  attempt: Omit<JobInput, 'finishedAt'>,
): Promise<void> {
  try {
    await store.recordJob({ ...attempt, finishedAt: new Date() });
  } catch (error) {
    logger.warn(event, { message: errorMessage(error) });
  }
}

/**
 * Fails the studies whose grading job is over but left them `processing` (see
 * Store.failAbandonedStudies); safe to run in every process at once. Returns how many; logs
 * the count, never the studies.
 */
export async function sweepAbandonedStudies(
  store: Store,
  logger: Logger,
  graceSeconds = ABANDONED_GRACE_S,
): Promise<number> {
  try {
    const uids = await store.failAbandonedStudies(
      `${QUEUE_SCHEMA}.job`,
      GRADE_STUDY_QUEUE,
      graceSeconds,
    );
    if (uids.length > 0) logger.warn('study.abandoned', { studies: uids.length });
    return uids.length;
  } catch (error) {
    logger.warn('study.sweep-failed', { message: errorMessage(error) });
    return 0;
  }
}

export class Worker {
  private readonly workerId: string;

  constructor(private readonly options: WorkerOptions) {
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}`;
  }

  async start(): Promise<void> {
    if (this.options.concurrency < 1) return;
    await this.options.queue.work(
      {
        concurrency: this.options.concurrency,
        ...(this.options.pollingIntervalSeconds === undefined
          ? {}
          : { pollingIntervalSeconds: this.options.pollingIntervalSeconds }),
      },
      async (attempt) => {
        await this.handle(attempt);
      },
    );
  }

  /** Runs one attempt; throws only when the queue should retry it. */
  async handle(attempt: JobAttempt): Promise<StudyRun | undefined> {
    const { logger, observer } = this.options;
    const log = logger.child({ jobId: attempt.id, attempt: attempt.attempt });
    const startedAt = new Date();
    log.info('job.started', { source: attempt.job.source, force: attempt.job.force });
    try {
      const run = await this.options.processor.run(attempt.job);
      await this.record(attempt, 'succeeded', startedAt);
      if (run.status === 'graded') await this.options.afterGraded?.(attempt.job.studyInstanceUid);
      observer?.jobFinished(
        run.status === 'skipped' || run.status === 'not-found' ? 'skipped' : 'succeeded',
      );
      log.info('job.finished', {
        status: run.status,
        graded: run.graded,
        refused: run.refused,
        ...(run.note === undefined ? {} : { note: run.note }),
        ms: Date.now() - startedAt.getTime(),
      });
      return run;
    } catch (error) {
      const { failure, outcome, rethrow } = sortFailure(error, attempt.willRetry);
      await this.record(attempt, outcome, startedAt, failure);
      if (outcome === 'retrying') {
        observer?.jobFinished('failed-transient');
        log.warn('job.retrying', failure);
      } else {
        await this.markFailed(attempt, failure);
        observer?.jobFinished(outcome);
        log.error('job.failed', { ...failure, permanent: outcome === 'failed-permanent' });
      }
      // A permanent failure is final: completing the job keeps pg-boss from retrying it.
      if (rethrow) throw error;
      return undefined;
    }
  }

  private async record(
    attempt: JobAttempt,
    outcome: JobOutcome,
    startedAt: Date,
    error?: { code: string; message: string },
  ): Promise<void> {
    const { store, logger } = this.options;
    await recordAttempt(store, logger, 'job.history-not-written', {
      jobId: attempt.id,
      studyInstanceUid: attempt.job.studyInstanceUid,
      kind: JOB_KIND,
      attempt: attempt.attempt,
      outcome,
      workerId: this.workerId,
      startedAt,
      ...(error === undefined ? {} : { error }),
    });
  }

  private async markFailed(attempt: JobAttempt, failure: { code: string; message: string }) {
    const { store } = this.options;
    const uid = attempt.job.studyInstanceUid;
    try {
      if ((await store.findStudy(uid)) === undefined) return;
      await store.recordProblem({
        studyInstanceUid: uid,
        kind: 'error',
        code: failure.code,
        reason: failure.message,
        permanent: true,
      });
      await store.setStudyStatus(uid, 'failed');
    } catch (recordError) {
      this.options.logger.warn('job.failure-not-recorded', { message: errorMessage(recordError) });
    }
  }
}
