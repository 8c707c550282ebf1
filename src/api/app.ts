/**
 * The HTTP API of jointspace as a Koa app: pure wiring over injected dependencies, so tests
 * drive it with a real store and a recording queue, and `serve` with the real ones.
 */
import Koa from 'koa';
import type { Logger } from '../log.js';
import type { JobQueue } from '../pipeline/job.js';
import type { CarePlanStore } from '../store/care-plans.js';
import type { Store } from '../store/repository.js';
import { cdsCors } from '../cds/cors.js';
import type { CdsHandlers } from '../cds/service.js';
import type { ConsoleDependencies } from './console.js';
import { serveConsole } from './console-files.js';
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
  /** Care plan records, for the study report; without them it shows no recommendations. */
  carePlans?: Pick<CarePlanStore, 'get'>;
  /** The CDS Hooks handlers (src/cds); without them the CDS Hooks routes answer 404. */
  cds?: CdsHandlers;
  /** What the operator console's routes read; without it they answer 503. */
  console?: ConsoleDependencies;
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
  app.use(cdsCors());
  app.use(serveConsole());
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
