/**
 * The app-wide middleware: request ids, the access log, the one error handler, and JSON
 * answers for requests no route takes.
 *
 * Logs carry the request id, the method, the route pattern and the status, never the concrete
 * path or query (a Study Instance UID in the path can identify an examination), headers or
 * bodies.
 */
import { randomUUID } from 'node:crypto';
import { JointspaceError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ApiMiddleware } from './context.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * Letters, digits and `._-`, at most 64, with at least one letter or dash: a purely numeric
 * dotted id is refused because it could be a DICOM UID, which must not reach the logs.
 */
const SANE_REQUEST_ID = /^(?=.*[A-Za-z-])[A-Za-z0-9._-]{1,64}$/;

export interface ErrorBody {
  error: { code: ErrorCode | 'internal'; message: string };
}

/** Takes a sane incoming `X-Request-Id` or makes one, and answers with it. */
export function requestId(): ApiMiddleware {
  return async (ctx, next) => {
    const incoming = ctx.get(REQUEST_ID_HEADER);
    ctx.state.requestId = SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.set(REQUEST_ID_HEADER, ctx.state.requestId);
    await next();
  };
}

/** One line per request, once it is answered. */
export function accessLog(logger: Logger): ApiMiddleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info('api-request', {
        requestId: ctx.state.requestId,
        method: ctx.method,
        route: ctx.state.route ?? null,
        status: ctx.status,
        durationMs: Math.round(durationMs * 10) / 10,
        ...(ctx.state.errorCode === undefined ? {} : { errorCode: ctx.state.errorCode }),
      });
    }
  };
}

/**
 * Turns every error into a JSON answer: a `JointspaceError` into its status, code and (safe)
 * message; anything else into a 500 whose details stay in the log.
 */
export function handleErrors(logger: Logger): ApiMiddleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const body = errorBody(error);
      ctx.status = error instanceof JointspaceError ? error.status : 500;
      ctx.body = body;
      ctx.state.errorCode = body.error.code;
      if (ctx.status >= 500) {
        // Name and code only: a driver's message may quote values (identifiers) it choked on.
        logger.error('api-error', {
          requestId: ctx.state.requestId,
          route: ctx.state.route ?? null,
          errorName: error instanceof Error ? error.name : typeof error,
          errorCode: errorCodeOf(error),
        });
      }
    }
  };
}

function errorBody(error: unknown): ErrorBody {
  if (error instanceof JointspaceError) {
    return { error: { code: error.code, message: error.message } };
  }
  return { error: { code: 'internal', message: 'internal error' } };
}

function errorCodeOf(error: unknown): string | null {
  if (error instanceof JointspaceError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

/**
 * After the router: a request that no route answered (404, or 405/501 from
 * `allowedMethods`, which leave the body empty) becomes a JSON error like any other.
 */
export function unanswered(): ApiMiddleware {
  return async (ctx, next) => {
    await next();
    if (ctx.body !== undefined && ctx.body !== null) return;
    if (ctx.status === 404) {
      throw new JointspaceError('not-found', 'no such route', { status: 404 });
    }
    if (ctx.status === 405 || ctx.status === 501) {
      throw new JointspaceError('method-not-allowed', `${ctx.method} is not allowed here`, {
        status: ctx.status,
      });
    }
  };
}
