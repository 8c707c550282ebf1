/**
 * What the API tests share: a recording stand-in for the job queue, an app served on a free
 * loopback port, and a log captured line by line.
 */
import type { ExecutionContext } from 'ava';
import { createApp, type ApiDependencies } from '../../src/api/app.js';
import { ServiceMetrics } from '../../src/api/metrics.js';
import { listen, type RunningServer } from '../../src/api/server.js';
import { createLogger } from '../../src/log.js';
import type { JobQueue, StudyJob } from '../../src/pipeline/job.js';

// Obviously fake credentials.
export const API_TOKEN = 'test-api-token-0123456789';
export const SECOND_API_TOKEN = 'test-api-token-abcdefghij';
export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

/**
 * Records what the API enqueues, answering like the real queue: a new job id, or null while
 * a job for the same study is still waiting (until `drain`).
 */
export class RecordingQueue implements JobQueue {
  readonly enqueued: StudyJob[] = [];
  private readonly waiting = new Set<string>();

  enqueue(job: StudyJob): Promise<{ jobId: string | null }> {
    this.enqueued.push(job);
    if (this.waiting.has(job.studyInstanceUid)) return Promise.resolve({ jobId: null });
    this.waiting.add(job.studyInstanceUid);
    return Promise.resolve({ jobId: `recorded-job-${this.enqueued.length}` });
  }

  depth(): Promise<number> {
    return Promise.resolve(this.waiting.size);
  }

  /** As if a worker had taken every waiting job. */
  drain(): void {
    this.waiting.clear();
  }
}

export interface TestApi {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  queue: RecordingQueue;
  metrics: ServiceMetrics;
  /** Every log line written so far, as written. */
  logLines: string[];
  /** Safe to call more than once. */
  close(): Promise<void>;
}

/** Serves an app on a free port; it is closed when the test ends, even a failed one. */
export async function startApi(
  t: ExecutionContext,
  overrides: Partial<Omit<ApiDependencies, 'queue' | 'metrics' | 'logger'>> = {},
): Promise<TestApi> {
  const queue = new RecordingQueue();
  const metrics = new ServiceMetrics();
  metrics.setQueueDepthSource(() => queue.depth());
  const logLines: string[] = [];
  const logger = createLogger({ component: 'api' }, 'debug', (line) => logLines.push(line));

  const app = createApp({
    apiTokens: [API_TOKEN, SECOND_API_TOKEN],
    webhookSecret: WEBHOOK_SECRET,
    store: { getStudyReport: () => Promise.reject(new Error('no store in this test')) },
    readiness: [],
    ...overrides,
    queue,
    metrics,
    logger,
  });
  const server: RunningServer = await listen(app, '127.0.0.1', 0);
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= server.close());
  t.teardown(close);
  return { url: server.url, queue, metrics, logLines, close };
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** Parsed JSON lines, for assertions on fields. */
export function logRecords(api: TestApi): Record<string, unknown>[] {
  return api.logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}
