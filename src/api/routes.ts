/**
 * Every route of the API in one table: its method, pattern, credential and handler. The
 * OpenAPI document (`openapi.ts`) describes exactly these; a test holds the two together.
 */
import Router from '@koa/router';
import type { ApiDependencies } from './app.js';
import { requireBearer } from './auth.js';
import type { ApiState, RouteHandler } from './context.js';
import { liveness, metricsText, readiness } from './health.js';
import { openApiDocument } from './openapi.js';
import { stableStudy } from './push.js';
import { getStudy, reprocessStudy } from './studies.js';

type Method = 'get' | 'post';

interface Route {
  method: Method;
  /** @koa/router pattern; OpenAPI spells `:uid` as `{uid}`. */
  path: string;
  /** Middleware run before the handler, such as authentication. */
  guards: RouteHandler[];
  handler: RouteHandler;
}

export function routeTable(deps: ApiDependencies): Route[] {
  const apiToken = requireBearer(deps.apiTokens);
  const webhookSecret = requireBearer([deps.webhookSecret]);
  const { queue, metrics } = deps;

  return [
    {
      method: 'post',
      path: '/api/orthanc/stable-study',
      guards: [webhookSecret],
      handler: stableStudy(queue, metrics),
    },
    {
      method: 'get',
      path: '/api/studies/:uid',
      guards: [apiToken],
      handler: getStudy(deps.store),
    },
    {
      method: 'post',
      path: '/api/studies/:uid/reprocess',
      guards: [apiToken],
      handler: reprocessStudy(queue, metrics),
    },
    { method: 'get', path: '/healthz', guards: [], handler: liveness() },
    {
      method: 'get',
      path: '/readyz',
      guards: [],
      handler: readiness(deps.readiness, deps.logger, deps.readinessTimeoutMs),
    },
    { method: 'get', path: '/metrics', guards: [], handler: metricsText(metrics) },
    {
      method: 'get',
      path: '/api/openapi.json',
      guards: [],
      handler: (ctx) => {
        ctx.body = openApiDocument;
      },
    },
  ];
}

/** A router with every route; each first records its pattern for the access log. */
export function createRouter(deps: ApiDependencies): Router<ApiState> {
  const router = new Router<ApiState>();
  for (const route of routeTable(deps)) {
    const named: RouteHandler = async (ctx, next) => {
      ctx.state.route = route.path;
      await next();
    };
    router[route.method](route.path, named, ...route.guards, route.handler);
  }
  return router;
}
