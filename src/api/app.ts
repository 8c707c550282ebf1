/**
 * The HTTP API of jointspace as a Koa app: pure wiring over injected dependencies, so tests
 * drive it with a real store and a recording queue, and `serve` with the real ones.
 */
import Koa from 'koa';
import type { Logger } from '../log.js';
import type { JobQueue } from '../pipeline/job.js';
import type { Store } from '../store/repository.js';
import type { ApiState } from './context.js';
import type { ReadinessCheck } from './health.js';
import type { ServiceMetrics } from './metrics.js';
import { accessLog, handleErrors, requestId, unanswered } from './middleware.js';
import { createRouter } from './routes.js';

export type { ReadinessCheck } from './health.js';

export interface ApiDependencies {
  /** Bearer tokens of the study routes. */
  apiTokens: readonly string[];
  /** Bearer secret of Orthanc's push, and of nothing else. */
  webhookSecret: string;
  store: Pick<Store, 'getStudyReport'>;
  queue: JobQueue;
  readiness: readonly ReadinessCheck[];
  metrics: ServiceMetrics;
  logger: Logger;
  /** Time limit of each readiness check (default 3 s). */
  readinessTimeoutMs?: number;
}

export function createApp(deps: ApiDependencies): Koa<ApiState> {
  const app = new Koa<ApiState>();
  const router = createRouter(deps);

  // Errors are answered by handleErrors; what still reaches Koa (a failing response stream)
  // is logged by name only, instead of Koa's default print of the whole error to stderr.
  app.on('error', (error: unknown) => {
    deps.logger.error('api-stream-error', {
      errorName: error instanceof Error ? error.name : typeof error,
    });
  });

  app.use(requestId());
  app.use(accessLog(deps.logger));
  app.use(handleErrors(deps.logger));
  app.use(unanswered());
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
