/**
 * Bearer authentication (RFC 6750): the API's tokens on the study routes, the webhook secret
 * on Orthanc's push, each accepted only where it belongs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { JointspaceError } from '../errors.js';
import type { ApiMiddleware } from './context.js';

/** The credential of a `Bearer` Authorization header; undefined when there is none. */
export function bearerCredential(header: string): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Whether `candidate` equals one of `secrets`. Equal-length SHA-256 digests are compared in
 * constant time, and every secret is compared, so the timing tells neither which secret was
 * close nor how long any of them is.
 */
export function matchesSecret(candidate: string, secretDigests: readonly Buffer[]): boolean {
  const given = digest(candidate);
  let matched = false;
  for (const secret of secretDigests) {
    matched = timingSafeEqual(given, secret) || matched;
  }
  return matched;
}

/** Middleware that lets a request through only with one of `secrets` as its bearer token. */
export function requireBearer(secrets: readonly string[]): ApiMiddleware {
  const digests = secrets.map(digest);

  return async (ctx, next) => {
    const credential = bearerCredential(ctx.get('Authorization'));
    if (credential === undefined) {
      ctx.set('WWW-Authenticate', 'Bearer realm="jointspace"');
      throw new JointspaceError('unauthorized', 'a bearer token is required', { status: 401 });
    }
    if (!matchesSecret(credential, digests)) {
      ctx.set('WWW-Authenticate', 'Bearer realm="jointspace", error="invalid_token"');
      throw new JointspaceError('unauthorized', 'the bearer token is not accepted here', {
        status: 401,
      });
    }
    await next();
  };
}
