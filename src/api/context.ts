/**
 * What the API's middleware share about a request, on `ctx.state`.
 */
import type { Middleware, ParameterizedContext } from 'koa';
import type { RouterMiddleware } from '@koa/router';

export interface ApiState {
  /** Echoed in `X-Request-Id` and on every log line about the request. */
  requestId: string;
  /** The matched route's pattern (`/api/studies/:uid`), never the concrete path. */
  route?: string;
  /** The error code answered, for the access log. */
  errorCode?: string;
}

export type ApiContext = ParameterizedContext<ApiState>;
export type ApiMiddleware = Middleware<ApiState>;
export type RouteHandler = RouterMiddleware<ApiState>;
