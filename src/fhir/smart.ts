/**
 * SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html,
 * SMART App Launch 2.x): the client_credentials grant with a signed JWT client assertion
 * (RFC 7523), signed here with node:crypto.
 *
 * The access token is kept until shortly before it expires and shared by concurrent requests;
 * a token the FHIR server refuses (401) is dropped so the next request asks for a new one.
 */
import { randomUUID, sign } from 'node:crypto';
import type { Logger } from '../log.js';
import { fhirHttpFailure, fhirInvalidResponse, fhirUnreachable } from './errors.js';
import type { SmartBackendAuth } from './settings.js';

const OPERATION = 'SMART token request';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** "no more than five minutes in the future" (Backend Services, authentication JWT `exp`). */
export const ASSERTION_LIFETIME_S = 300;
/** A token is renewed this long before it expires, or half-way through when it lives less. */
export const RENEW_MARGIN_S = 30;
/** RFC 6749 section 5.2 error codes: the only error text taken from a refusal. */
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
]);

/**
 * The signed authentication JWT: `iss` and `sub` the client id, `aud` the token endpoint,
 * `exp` five minutes ahead, a fresh `jti`; header `alg`, `kid`, `typ`.
 */
export function clientAssertion(auth: SmartBackendAuth, nowMs: number): string {
  const header = { alg: auth.algorithm, kid: auth.keyId, typ: 'JWT' };
  const claims = {
    iss: auth.clientId,
    sub: auth.clientId,
    aud: auth.tokenUrl,
    exp: Math.floor(nowMs / 1000) + ASSERTION_LIFETIME_S,
    jti: randomUUID(),
  };
  const input = `${base64url(header)}.${base64url(claims)}`;
  // JWS (RFC 7518 3.4) wants ECDSA signatures as r || s, not DER.
  const signature = sign('sha384', Buffer.from(input), {
    key: auth.privateKey,
    ...(auth.algorithm === 'ES384' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  });
  return `${input}.${signature.toString('base64url')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export interface CachedToken {
  value: string;
  /** Epoch ms after which the token is not handed out any more; absent: use once. */
  renewAt?: number;
}

/** Access tokens for one client, fetched when needed and reused while they are fresh. */
export class SmartTokenSource {
  private cached: CachedToken | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly auth: SmartBackendAuth,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
    private readonly logger?: Logger,
  ) {}

  /** A fresh token; requests made while one is being fetched wait for that one. */
  async token(): Promise<string> {
    const cached = this.cached;
    if (cached?.renewAt !== undefined && this.now() < cached.renewAt) return cached.value;
    this.pending ??= this.fetchToken().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** Forgets `token` (the FHIR server refused it), unless a newer one replaced it already. */
  invalidate(token: string): void {
    if (this.cached?.value === token) this.cached = undefined;
  }

  private async fetchToken(): Promise<string> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: this.auth.scope,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: clientAssertion(this.auth, this.now()),
    });

    let response: Response;
    let text: string;
    try {
      response = await fetch(this.auth.tokenUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw fhirUnreachable(OPERATION, error, this.timeoutMs);
    }

    if (!response.ok) throw fhirHttpFailure(OPERATION, response.status, oauthError(text));
    const token = parseTokenResponse(text, this.now());
    this.cached = token;
    this.logger?.debug('fhir.smart-token', {
      expiresInS:
        token.renewAt === undefined ? null : Math.round((token.renewAt - this.now()) / 1000),
    });
    return token.value;
  }
}

/** The access token of a successful answer (RFC 6749 5.1; Backend Services access token response). */
export function parseTokenResponse(text: string, nowMs: number): CachedToken {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw fhirInvalidResponse(
      OPERATION,
      'the token endpoint answered with something other than JSON',
    );
  }
  const answer = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;

  const value = answer.access_token;
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) {
    throw fhirInvalidResponse(OPERATION, 'the answer has no usable access_token');
  }
  if (typeof answer.token_type !== 'string' || answer.token_type.toLowerCase() !== 'bearer') {
    throw fhirInvalidResponse(OPERATION, 'the answer has no token_type "bearer"');
  }

  const expiresIn = answer.expires_in;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    return { value };
  }
  const keepS = Math.max(expiresIn - RENEW_MARGIN_S, expiresIn / 2);
  return { value, renewAt: nowMs + keepS * 1000 };
}

/** The RFC 6749 error code of a refusal, when it is one; any other text is left out. */
function oauthError(text: string): string {
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    return typeof error === 'string' && OAUTH_ERRORS.has(error) ? error : '';
  } catch {
    return '';
  }
}
