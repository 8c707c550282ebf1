/**
 * Every route of the API in one table: its method, pattern, credential and handler. The
 * OpenAPI document (`openapi.ts`) describes exactly these; a test holds the two together.
 */
import Router from '@koa/router';
import type { ApiDependencies } from './app.js';
import { cdsDisabled } from '../cds/service.js';
import { requireBearer } from './auth.js';
import { listStudies, modelInfo, overlayThumbnail, studyJobs, studyOverlays } from './console.js';
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
  // CDS Hooks authenticates by the EHR's signed JWT (src/cds/jwt.ts), not by an API token.
  const cds = deps.cds ?? cdsDisabled();

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
      handler: getStudy(deps.store, deps.carePlans),
    },
    {
      method: 'get',
      path: '/api/studies',
      guards: [apiToken],
      handler: listStudies(deps.console, deps.logger),
    },
    {
      method: 'get',
      path: '/api/studies/:uid/jobs',
      guards: [apiToken],
      handler: studyJobs(deps.console),
    },
    {
      method: 'get',
      path: '/api/studies/:uid/overlays',
      guards: [apiToken],
      handler: studyOverlays(deps.console, deps.logger),
    },
    {
      method: 'get',
      path: '/api/studies/:uid/overlays/:sopInstanceUid/thumbnail',
      guards: [apiToken],
      handler: overlayThumbnail(deps.console),
    },
    { method: 'get', path: '/api/model', guards: [apiToken], handler: modelInfo(deps.console) },
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
    { method: 'get', path: '/cds-services', guards: [], handler: cds.discovery },
    {
      method: 'post',
      path: '/cds-services/:id',
      guards: [cds.authenticate],
      handler: cds.invoke,
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
