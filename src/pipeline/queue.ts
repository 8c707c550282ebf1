/**
 * The durable job queue: pg-boss in its own schema of jointspace's PostgreSQL database.
 *
 * One queue, `grade-study`, with the `stately` policy and the StudyInstanceUID as singleton
 * key: per study at most one job waits and one runs, so a burst of push and poll events for a
 * study collapses into one job, and an event that arrives while the study is being graded
 * queues exactly one follow-up (which then finds nothing new and ends quickly). Several
 * processes on one database fetch with `SKIP LOCKED`, so each job runs once.
 *
 * A second queue, `care-plan`, takes the FHIR side of a graded study (src/pipeline/care-plan.ts)
 * with its own, longer retry policy, so a FHIR server that is away delays care plans without
 * touching grading.
 *
 * A job that throws is retried with exponential backoff up to the retry limit; the worker
 * only throws for transient failures and records permanent ones itself (see worker.ts). A
 * job whose worker died (kill -9, power loss) stays active until its expiry, then pg-boss
 * fails it into a retry.
 */
import PgBoss from 'pg-boss';
import type { Logger } from '../log.js';
import type { JobQueue, StudyJob } from './job.js';

export const GRADE_STUDY_QUEUE = 'grade-study';
/** Writing a graded study's results and care plan to FHIR (src/pipeline/care-plan.ts). */
export const CARE_PLAN_QUEUE = 'care-plan';
/** pg-boss keeps its tables here, apart from jointspace's own. */
export const QUEUE_SCHEMA = 'jointspace_queue';

export interface QueueOptions {
  databaseUrl: string;
  retryLimit: number;
  /** First retry delay; doubled on each further attempt (pg-boss retryBackoff). */
  retryDelaySeconds: number;
  /** A job running longer is taken for dead and retried. */
  jobTimeoutSeconds: number;
  logger: Logger;
  /** Connections pg-boss may hold (default 4). */
  poolSize?: number;
  /**
   * Retries of a care-plan job (default 12) and the first delay (default 30 s, doubled each
   * time): with the defaults a FHIR server may be away for about a day before a plan is lost.
   */
  careRetryLimit?: number;
  careRetryDelaySeconds?: number;
}

/** One attempt of a care-plan job. */
export interface CareAttempt {
  id: string;
  studyInstanceUid: string;
  attempt: number;
  willRetry: boolean;
}

export interface WorkOptions {
  /** Jobs run at the same time by this process. */
  concurrency: number;
  /** How often an idle worker asks for a job (default 0.5 s). */
  pollingIntervalSeconds?: number;
}

/** One attempt of a job as the worker sees it. */
export interface JobAttempt {
  id: string;
  job: StudyJob;
  /** 1 for the first attempt. */
  attempt: number;
  /** Whether pg-boss will retry this job if the attempt throws. */
  willRetry: boolean;
}

export class StudyQueue implements JobQueue {
  private constructor(
    private readonly boss: PgBoss,
    private readonly options: QueueOptions,
  ) {}

  /** Starts pg-boss (creating or migrating its schema) and the queue. */
  static async start(options: QueueOptions): Promise<StudyQueue> {
    const boss = new PgBoss({
      connectionString: options.databaseUrl,
      schema: QUEUE_SCHEMA,
      max: options.poolSize ?? 4,
      application_name: 'jointspace-queue',
      // Expired jobs are found by maintenance: run it often enough that a dead worker's job
      // comes back within about a quarter of the job timeout.
      maintenanceIntervalSeconds: Math.max(
        1,
        Math.min(60, Math.floor(options.jobTimeoutSeconds / 4)),
      ),
      monitorStateIntervalSeconds: 30,
    });
    boss.on('error', (error: unknown) => {
      options.logger.error('queue.error', { message: errorText(error) });
    });
    await boss.start();
    const queue = new StudyQueue(boss, options);
    await boss.createQueue(GRADE_STUDY_QUEUE, {
      name: GRADE_STUDY_QUEUE,
      policy: 'stately',
      ...queue.retryPolicy(),
    });
    // createQueue leaves an existing queue as it is; configuration changes must still apply.
    await boss.updateQueue(GRADE_STUDY_QUEUE, {
      name: GRADE_STUDY_QUEUE,
      policy: 'stately',
      ...queue.retryPolicy(),
    });
    await boss.createQueue(CARE_PLAN_QUEUE, {
      name: CARE_PLAN_QUEUE,
      policy: 'stately',
      ...queue.carePolicy(),
    });
    await boss.updateQueue(CARE_PLAN_QUEUE, {
      name: CARE_PLAN_QUEUE,
      policy: 'stately',
      ...queue.carePolicy(),
    });
    return queue;
  }

  private carePolicy() {
    return {
      retryLimit: this.options.careRetryLimit ?? 12,
      retryDelay: this.options.careRetryDelaySeconds ?? 30,
      retryBackoff: true,
      expireInSeconds: this.options.jobTimeoutSeconds,
    };
  }

  /**
   * Queues the care plan of a graded study. Stately like grading: a burst of requests for one
   * study collapses into one waiting job (which reads the newest results when it runs).
   */
  async enqueueCarePlan(studyInstanceUid: string): Promise<{ jobId: string | null }> {
    const jobId = await this.boss.send(
      CARE_PLAN_QUEUE,
      { studyInstanceUid },
      { singletonKey: studyInstanceUid, ...this.carePolicy() },
    );
    return { jobId };
  }

  /** Runs `handler` for each care-plan job, one at a time in this process. */
  async workCarePlans(
    options: Pick<WorkOptions, 'pollingIntervalSeconds'>,
    handler: (attempt: CareAttempt) => Promise<void>,
  ): Promise<void> {
    await this.poll<{ studyInstanceUid: string }>(CARE_PLAN_QUEUE, options, (job, attempt) =>
      handler({ ...attempt, studyInstanceUid: job.studyInstanceUid }),
    );
  }

  /** One polling worker on `queue`; each job is handed over with its attempt number. */
  // T is the job data the caller's handler expects (pg-boss's work<T> inside): without it a
  // typed handler could not be passed.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  private async poll<T extends object>(
    queue: string,
    options: Pick<WorkOptions, 'pollingIntervalSeconds'>,
    handler: (
      data: T,
      attempt: { id: string; attempt: number; willRetry: boolean },
    ) => Promise<void>,
  ): Promise<void> {
    await this.boss.work<T>(
      queue,
      {
        batchSize: 1,
        includeMetadata: true,
        pollingIntervalSeconds: options.pollingIntervalSeconds ?? 0.5,
      },
      async (jobs) => {
        for (const job of jobs) {
          await handler(job.data, {
            id: job.id,
            attempt: job.retryCount + 1,
            willRetry: job.retryCount < job.retryLimit,
          });
        }
      },
    );
  }

  private retryPolicy() {
    return {
      retryLimit: this.options.retryLimit,
      retryDelay: this.options.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: this.options.jobTimeoutSeconds,
    };
  }

  /** Queues a job for the study; `jobId` is null when one is already waiting. */
  async enqueue(job: StudyJob): Promise<{ jobId: string | null }> {
    const data: StudyJob = {
      studyInstanceUid: job.studyInstanceUid,
      source: job.source,
      force: job.force,
      ...(job.orthancStudyId === undefined ? {} : { orthancStudyId: job.orthancStudyId }),
    };
    const jobId = await this.boss.send(GRADE_STUDY_QUEUE, data, {
      singletonKey: job.studyInstanceUid,
      ...this.retryPolicy(),
    });
    if (jobId === null && job.force) {
      // A job for the study is already waiting; a reprocess request must not be swallowed by
      // an unforced one, so the waiting job is made to force.
      const rows = await this.boss.getDb().executeSql(
        `UPDATE ${QUEUE_SCHEMA}.job SET data = jsonb_set(data, '{force}', 'true'::jsonb)
          WHERE name = $1 AND singleton_key = $2 AND state IN ('created', 'retry')
          RETURNING id`,
        [GRADE_STUDY_QUEUE, job.studyInstanceUid],
      );
      const waiting = rows.rows[0] as { id?: unknown } | undefined;
      return { jobId: typeof waiting?.id === 'string' ? waiting.id : null };
    }
    return { jobId };
  }

  /** Jobs waiting to run (created or waiting for a retry), not those running. */
  async depth(): Promise<number> {
    return this.boss.getQueueSize(GRADE_STUDY_QUEUE, { before: 'active' });
  }

  /** Runs `handler` for each job; `concurrency` workers poll in this process. */
  async work(options: WorkOptions, handler: (attempt: JobAttempt) => Promise<void>): Promise<void> {
    for (let index = 0; index < options.concurrency; index++) {
      await this.poll<StudyJob>(GRADE_STUDY_QUEUE, options, (job, attempt) =>
        handler({ ...attempt, job }),
      );
    }
  }

  /** Stops taking jobs, waits up to `timeoutMs` for running ones, and closes the pool. */
  async stop(timeoutMs = 30_000): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, close: true, timeout: timeoutMs });
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
