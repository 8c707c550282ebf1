/**
 * Liveness, readiness and metrics: the unauthenticated routes that orchestrators and
 * Prometheus call.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { RouteHandler } from './context.js';
import type { ServiceMetrics } from './metrics.js';

/**
 * A dependency that must answer before the process takes traffic. `check` throws when it is
 * not ready; its message is shown to unauthenticated callers of `/readyz`, so it must not
 * carry secrets or host details beyond what the name says.
 */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export const READINESS_TIMEOUT_MS = 3000;

/** `GET /healthz`: answers while the process runs; it checks nothing else on purpose. */
export function liveness(): RouteHandler {
  return (ctx) => {
    ctx.body = { status: 'ok' };
  };
}

/** `GET /readyz`: every check at once, each with its own time limit. */
export function readiness(
  checks: readonly ReadinessCheck[],
  logger: Logger,
  timeoutMs = READINESS_TIMEOUT_MS,
): RouteHandler {
  return async (ctx) => {
    const failures = await Promise.all(checks.map((check) => failure(check, timeoutMs)));
    const ready = failures.every((reason) => reason === undefined);
    checks.forEach((check, index) => {
      const reason = failures[index];
      if (reason === undefined) return;
      logger.warn('api-not-ready', { requestId: ctx.state.requestId, check: check.name, reason });
    });

    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: ready ? 'ready' : 'not-ready',
      checks: Object.fromEntries(
        checks.map((check, index) => [check.name, failures[index] ?? 'ok']),
      ),
    };
  };
}

/** Why the check failed or did not answer in time; undefined when it passed. */
async function failure(check: ReadinessCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
  });
  const result = (async () => {
    await check.check();
    return undefined;
  })().catch((error: unknown) => errorMessage(error) || 'failed without a message');
  try {
    return await Promise.race([result, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `GET /metrics`: the Prometheus text format. */
export function metricsText(metrics: ServiceMetrics): RouteHandler {
  return async (ctx) => {
    const text = await metrics.render();
    ctx.type = metrics.contentType;
    ctx.body = text;
  };
}
