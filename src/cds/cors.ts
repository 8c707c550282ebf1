/**
 * CORS for the CDS Hooks routes only (CDS Hooks 2.0, Cross-Origin Resource Sharing: CDS Clients
 * that run in a browser call the service from another origin). Answers the preflight (OPTIONS)
 * itself and adds the headers to every answer under `/cds-services`, errors included.
 *
 * Any origin is allowed: the service authenticates each call by the JWT in the Authorization
 * header, never by cookies, so credentials are not allowed and `*` exposes nothing a caller
 * without a trusted key could use. Other routes get no CORS headers.
 */
import type { ApiMiddleware } from '../api/context.js';

export const CDS_PATH_PREFIX = '/cds-services';
/** How long a browser may cache the preflight answer. */
export const PREFLIGHT_MAX_AGE_S = 600;

export function cdsCors(): ApiMiddleware {
  return async (ctx, next) => {
    if (ctx.path !== CDS_PATH_PREFIX && !ctx.path.startsWith(`${CDS_PATH_PREFIX}/`)) {
      await next();
      return;
    }
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.vary('Origin');
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method') !== '') {
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
      ctx.set('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S));
      ctx.status = 204;
      return;
    }
    ctx.set('Access-Control-Expose-Headers', 'X-Request-Id');
    await next();
  };
}
