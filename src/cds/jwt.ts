/**
 * Checks the JWT a CDS Client sends with each call (CDS Hooks 2.0, Trusting CDS Clients:
 * https://cds-hooks.hl7.org/2.0/#trusting-cds-clients; JWS RFC 7515, JWT RFC 7519), with
 * node:crypto only.
 *
 * Accepted: compact JWS with header `alg` RS384 or ES384 and a `kid` naming a key of the
 * configured JWK Set (whose algorithm must match); claims `iss` one of the trusted issuers,
 * `aud` the service endpoint as called (a string, or an array holding it), `exp` not passed and
 * at most five minutes ahead, `iat` not in the future, and a `jti` not seen before from the same
 * issuer while its token could still be valid (all times with the configured clock skew).
 *
 * Every refusal is a 401 `unauthorized` error whose message says which check failed; no part
 * of the token is ever quoted back or logged.
 *
 * Limits: a `jku` header is not followed (keys come from the file only); any trusted key is
 * accepted for any trusted issuer (a JWK Set has no standard member naming its issuer); the
 * jti memory is per process, so a token replayed to another instance behind a load balancer
 * is not caught.
 */
import { verify, type KeyObject } from 'node:crypto';
import { JointspaceError } from '../errors.js';
import type { CdsSigningAlgorithm, TrustedKey } from './settings.js';

/** "no more than 5 minutes in the future" (CDS Hooks 2.0, JWT `exp`). */
export const MAX_LIFETIME_S = 300;
/** Longer Authorization headers are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** The most jti values remembered; when full, new tokens are refused until some expire. */
export const MAX_REMEMBERED_JTI = 100_000;

export interface CdsClaims {
  iss: string;
  sub?: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  tenant?: string;
}

export interface VerifyOptions {
  keys: ReadonlyMap<string, TrustedKey>;
  issuers: ReadonlySet<string>;
  /** The service endpoint URL as called. */
  audience: string;
  clockSkewS: number;
  nowMs: number;
  replay: ReplayGuard;
}

export function unauthorized(reason: string): JointspaceError {
  return new JointspaceError('unauthorized', `CDS Hooks authentication failed: ${reason}`, {
    status: 401,
  });
}

/** The claims of a valid token; throws a 401 naming the check that failed. */
export function verifyCdsJwt(token: string, options: VerifyOptions): CdsClaims {
  if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('the JWT is too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw unauthorized('expected a compact JWS (three dot-separated parts)');
  const [headerPart = '', claimsPart = '', signaturePart = ''] = parts;

  const header = decodeJson(headerPart, 'header');
  const alg = header.alg;
  if (alg !== 'RS384' && alg !== 'ES384') {
    throw unauthorized('the JWT header alg must be RS384 or ES384');
  }
  if (typeof header.kid !== 'string' || header.kid === '') {
    throw unauthorized('the JWT header has no kid');
  }
  const trusted = options.keys.get(header.kid);
  if (trusted === undefined) {
    throw unauthorized('the JWT kid names no trusted key (keys are not fetched from jku)');
  }
  if (trusted.algorithm !== alg) {
    throw unauthorized(`the JWT alg does not match the trusted key (${trusted.algorithm})`);
  }
  if (!validSignature(`${headerPart}.${claimsPart}`, signaturePart, trusted.key, alg)) {
    throw unauthorized('the JWT signature does not verify with the trusted key');
  }

  const claims = checkClaims(decodeJson(claimsPart, 'claims'), options);
  options.replay.remember(claims.iss, claims.jti, claims.exp + options.clockSkewS, options.nowMs);
  return claims;
}

function checkClaims(claims: Record<string, unknown>, options: VerifyOptions): CdsClaims {
  const { iss, aud, exp, iat, jti } = claims;
  const now = options.nowMs / 1000;
  const skew = options.clockSkewS;

  if (typeof iss !== 'string' || !options.issuers.has(iss)) {
    throw unauthorized('the JWT iss is not a trusted issuer');
  }
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(options.audience)) {
    throw unauthorized(`the JWT aud must be the service endpoint ${options.audience}`);
  }
  if (!isSeconds(exp)) throw unauthorized('the JWT has no numeric exp');
  if (exp + skew < now) throw unauthorized('the JWT has expired');
  if (exp - skew > now + MAX_LIFETIME_S) {
    throw unauthorized(`the JWT exp is more than ${MAX_LIFETIME_S} seconds ahead`);
  }
  if (!isSeconds(iat)) throw unauthorized('the JWT has no numeric iat');
  if (iat - skew > now) throw unauthorized('the JWT iat is in the future');
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) {
    throw unauthorized('the JWT has no jti (a nonce of at most 256 characters)');
  }
  if (options.replay.seen(iss, jti, options.nowMs)) {
    throw unauthorized('the JWT jti was used before (replay)');
  }

  return {
    iss,
    aud: aud as string | string[],
    exp,
    iat,
    jti,
    ...(typeof claims.sub === 'string' ? { sub: claims.sub } : {}),
    ...(typeof claims.tenant === 'string' ? { tenant: claims.tenant } : {}),
  };
}

function isSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw unauthorized(`the JWT ${what} is not base64url`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw unauthorized(`the JWT ${what} is not JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw unauthorized(`the JWT ${what} is not a JSON object`);
  }
  return json as Record<string, unknown>;
}

/** RFC 7518 3.3 (RSASSA-PKCS1-v1_5) and 3.4 (ECDSA, signature as r || s). */
function validSignature(
  input: string,
  signature: string,
  key: KeyObject,
  alg: CdsSigningAlgorithm,
): boolean {
  if (!/^[A-Za-z0-9_-]+$/.test(signature)) return false;
  try {
    return verify(
      'sha384',
      Buffer.from(input),
      alg === 'ES384' ? { key, dsaEncoding: 'ieee-p1363' } : key,
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    return false;
  }
}

/** The jti values seen, per issuer, each kept until the token it came with has expired. */
export class ReplayGuard {
  private readonly expiries = new Map<string, number>();

  constructor(private readonly capacity = MAX_REMEMBERED_JTI) {}

  seen(iss: string, jti: string, nowMs: number): boolean {
    const until = this.expiries.get(key(iss, jti));
    return until !== undefined && until * 1000 >= nowMs;
  }

  /** Keeps `jti` until `untilS` (epoch seconds); forgets what has expired first. */
  remember(iss: string, jti: string, untilS: number, nowMs: number): void {
    if (this.expiries.size >= this.capacity) this.forgetExpired(nowMs);
    if (this.expiries.size >= this.capacity) {
      throw unauthorized('too many recent tokens to check for replay; try again shortly');
    }
    this.expiries.set(key(iss, jti), untilS);
  }

  get size(): number {
    return this.expiries.size;
  }

  forgetExpired(nowMs: number): void {
    for (const [entry, until] of this.expiries) {
      if (until * 1000 < nowMs) this.expiries.delete(entry);
    }
  }
}

function key(iss: string, jti: string): string {
  return `${iss}\u0000${jti}`;
}
