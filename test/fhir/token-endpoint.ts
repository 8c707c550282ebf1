/**
 * A tiny OAuth 2.0 token endpoint for the SMART Backend Services tests, on node:http and
 * 127.0.0.1: it checks a client_credentials request as an authorisation server must
 * (Backend Services, "Signature verification"): the assertion type, the JWT signature against
 * the client's registered public key, `alg` and `kid`, `iss` = `sub` = the client id, `aud` =
 * this endpoint, `exp` in the future and at most five minutes ahead, `jti` not seen before.
 * A valid request gets a random bearer token; anything else gets 400/401 with an RFC 6749 error.
 */
import { randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenEndpointOptions {
  clientId: string;
  publicKey: KeyObject;
  keyId: string;
  /** Seconds the tokens live (`expires_in`). */
  expiresIn?: number;
  /** The clock `exp` is checked against (the client's, when a test moves it). */
  now?: () => number;
}

export interface TokenEndpoint {
  url: string;
  /** Token requests received, valid or not. */
  requests: number;
  /** Whether the FHIR server should accept this token. */
  accepts(token: string): boolean;
  /** Makes every token issued so far invalid, as a revocation would. */
  revokeAll(): void;
  close(): Promise<void>;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
  const valid = new Set<string>();
  const seenJti = new Set<string>();
  const now = options.now ?? Date.now;
  let url = '';
  let requests = 0;

  const server = createServer((request, response) => {
    requests += 1;
    void body(request).then((text) => {
      const refusal = check(new URLSearchParams(text));
      if (refusal !== undefined) {
        reply(response, refusal.status, { error: refusal.error, error_description: refusal.why });
        return;
      }
      const token = randomBytes(24).toString('base64url');
      valid.add(token);
      reply(response, 200, {
        access_token: token,
        token_type: 'bearer',
        expires_in: options.expiresIn ?? 300,
        scope: new URLSearchParams(text).get('scope'),
      });
    });
  });

  const check = (form: URLSearchParams) => {
    const refuse = (error: string, why: string, status = 401) => ({ error, why, status });
    if (form.get('grant_type') !== 'client_credentials') {
      return refuse('unsupported_grant_type', 'grant_type', 400);
    }
    if (form.get('client_assertion_type') !== ASSERTION_TYPE) {
      return refuse('invalid_request', 'client_assertion_type', 400);
    }
    const [header, claims, signature] = (form.get('client_assertion') ?? '').split('.');
    if (header === undefined || claims === undefined || signature === undefined) {
      return refuse('invalid_request', 'not a JWS', 400);
    }

    const head = json(header);
    const ec = options.publicKey.asymmetricKeyType === 'ec';
    if (head?.alg !== (ec ? 'ES384' : 'RS384') || head.kid !== options.keyId) {
      return refuse('invalid_client', 'alg or kid');
    }
    const signed = verify(
      'sha384',
      Buffer.from(`${header}.${claims}`),
      { key: options.publicKey, ...(ec ? { dsaEncoding: 'ieee-p1363' as const } : {}) },
      Buffer.from(signature, 'base64url'),
    );
    if (!signed) return refuse('invalid_client', 'signature');

    const payload = json(claims);
    const seconds = now() / 1000;
    const exp = typeof payload?.exp === 'number' ? payload.exp : 0;
    const jti = typeof payload?.jti === 'string' ? payload.jti : '';
    if (payload?.iss !== options.clientId || payload.sub !== options.clientId) {
      return refuse('invalid_client', 'iss or sub');
    }
    if (payload.aud !== url) return refuse('invalid_client', 'aud');
    if (exp <= seconds || exp > seconds + 300 + 5) return refuse('invalid_client', 'exp');
    if (jti === '' || seenJti.has(jti)) return refuse('invalid_client', 'jti replayed');
    seenJti.add(jti);
    return undefined;
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token`;

  return {
    url,
    get requests() {
      return requests;
    },
    accepts: (token) => valid.has(token),
    revokeAll: () => valid.clear(),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function json(part: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}
