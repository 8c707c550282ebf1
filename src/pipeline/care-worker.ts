/**
 * The care worker: takes `care-plan` jobs (queue.ts) and runs the care planner
 * (care-plan.ts), with the same sorting of failures as the grading worker (worker.ts):
 *
 * | failure | examples | what happens |
 * |---------|----------|--------------|
 * | transient | FHIR server down, 5xx, timeout, token endpoint down; database connection lost | care plan marked `retrying` with the reason; pg-boss retries with backoff; after the last retry it is marked `failed` |
 * | permanent | the FHIR server rejects the bundle (4xx), an answer of the wrong form, a result the builders refuse | care plan marked `failed` with the reason, job completed, no retry |
 *
 * Imaging never waits on this: the grading job has finished before a care job is queued.
 * Every attempt is written to the job history with kind `care-plan`.
 */
import { hostname } from 'node:os';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CarePlanStore } from '../store/care-plans.js';
import type { JobOutcome } from '../store/entities.js';
import type { Store } from '../store/repository.js';
import type { CarePlanner, CareRun } from './care-plan.js';
import type { CareAttempt, StudyQueue } from './queue.js';
import { recordAttempt, sortFailure } from './worker.js';

export const CARE_JOB_KIND = 'care-plan';

export interface CareWorkerOptions {
  queue: Pick<StudyQueue, 'workCarePlans' | 'enqueueCarePlan'>;
  planner: Pick<CarePlanner, 'run'>;
  store: Pick<Store, 'recordJob'>;
  carePlans: CarePlanStore;
  logger: Logger;
  workerId?: string;
  pollingIntervalSeconds?: number;
}

export class CareWorker {
  private readonly workerId: string;

  constructor(private readonly options: CareWorkerOptions) {
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}`;
  }

  async start(): Promise<void> {
    await this.options.queue.workCarePlans(
      this.options.pollingIntervalSeconds === undefined
        ? {}
        : { pollingIntervalSeconds: this.options.pollingIntervalSeconds },
      async (attempt) => {
        await this.handle(attempt);
      },
    );
  }

  /**
   * Queues the care plan of a study that was just graded. A failure here is logged and does
   * not fail the grading job: the study is graded, and a reprocess queues the plan again.
   */
  async studyGraded(studyInstanceUid: string): Promise<void> {
    try {
      await this.options.carePlans.markPending(studyInstanceUid);
      await this.options.queue.enqueueCarePlan(studyInstanceUid);
    } catch (error) {
      this.options.logger.error('care.not-queued', { message: errorMessage(error) });
    }
  }

  /** Runs one attempt; throws only when the queue should retry it. */
  async handle(attempt: CareAttempt): Promise<CareRun | undefined> {
    const { carePlans } = this.options;
    const uid = attempt.studyInstanceUid;
    const log = this.options.logger.child({ jobId: attempt.id, attempt: attempt.attempt });
    const startedAt = new Date();
    try {
      const run = await this.options.planner.run(uid);
      await this.record(attempt, 'succeeded', startedAt);
      log.info('care.finished', { status: run.status, ms: Date.now() - startedAt.getTime() });
      return run;
    } catch (error) {
      const { failure, outcome, rethrow } = sortFailure(error, attempt.willRetry);
      await this.record(attempt, outcome, startedAt, failure);
      if (outcome === 'retrying') {
        await this.quietly(() => carePlans.markRetrying(uid, failure.message));
        log.warn('care.retrying', failure);
      } else {
        await this.quietly(() => carePlans.markFailed(uid, failure.message));
        log.error('care.failed', { ...failure, permanent: outcome === 'failed-permanent' });
      }
      if (rethrow) throw error;
      return undefined;
    }
  }

  private async record(
    attempt: CareAttempt,
    outcome: JobOutcome,
    startedAt: Date,
    error?: { code: string; message: string },
  ): Promise<void> {
    const { store, logger } = this.options;
    await recordAttempt(store, logger, 'care.bookkeeping-not-written', {
      jobId: attempt.id,
      studyInstanceUid: attempt.studyInstanceUid,
      kind: CARE_JOB_KIND,
      attempt: attempt.attempt,
      outcome,
      workerId: this.workerId,
      startedAt,
      ...(error === undefined ? {} : { error }),
    });
  }

  /** Bookkeeping that must not turn one failure into another (the database may be down). */
  private async quietly(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.options.logger.warn('care.bookkeeping-not-written', { message: errorMessage(error) });
    }
  }
}
