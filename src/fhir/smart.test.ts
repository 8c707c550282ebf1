import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import test from 'ava';
import { JointspaceError } from '../errors.js';
import type { SmartBackendAuth } from './settings.js';
import { ASSERTION_LIFETIME_S, clientAssertion, parseTokenResponse } from './smart.js';

function auth(algorithm: 'RS384' | 'ES384'): { auth: SmartBackendAuth; publicKey: KeyObject } {
  const pair =
    algorithm === 'RS384'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-384' });
  return {
    publicKey: pair.publicKey,
    auth: {
      kind: 'smart-backend-services',
      clientId: 'jointspace-test',
      tokenUrl: 'https://auth.example.org/token',
      privateKey: pair.privateKey,
      algorithm,
      keyId: 'kid-1',
      scope: 'system/*.read',
    },
  };
}

function decode(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

for (const algorithm of ['RS384', 'ES384'] as const) {
  test(`the ${algorithm} client assertion verifies with the public key and carries the claims`, (t) => {
    const { auth: smart, publicKey } = auth(algorithm);
    const now = Date.UTC(2024, 4, 10, 12, 0, 0);

    const jwt = clientAssertion(smart, now);
    const [header, claims, signature] = jwt.split('.');

    t.deepEqual(decode(header), { alg: algorithm, kid: 'kid-1', typ: 'JWT' });
    const payload = decode(claims);
    t.is(payload.iss, 'jointspace-test');
    t.is(payload.sub, 'jointspace-test');
    t.is(payload.aud, 'https://auth.example.org/token');
    t.is(payload.exp, now / 1000 + ASSERTION_LIFETIME_S);
    t.regex(String(payload.jti), /^[0-9a-f-]{36}$/);
    t.true(
      verify(
        'sha384',
        Buffer.from(`${header ?? ''}.${claims ?? ''}`),
        {
          key: publicKey,
          ...(algorithm === 'ES384' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
        },
        Buffer.from(signature ?? '', 'base64url'),
      ),
    );
  });
}

test('each assertion has its own jti', (t) => {
  const { auth: smart } = auth('ES384');
  const jti = (jwt: string) => decode(jwt.split('.')[1]).jti;
  t.not(jti(clientAssertion(smart, 0)), jti(clientAssertion(smart, 0)));
});

test('a token is kept until 30 s before it expires, or half its life when short', (t) => {
  const now = 1_000_000;
  const token = (expires_in: number) =>
    parseTokenResponse(
      JSON.stringify({ access_token: 'abc', token_type: 'Bearer', expires_in }),
      now,
    );

  t.deepEqual(token(300), { value: 'abc', renewAt: now + 270_000 });
  t.deepEqual(token(40), { value: 'abc', renewAt: now + 20_000 });
  t.deepEqual(
    parseTokenResponse(JSON.stringify({ access_token: 'abc', token_type: 'bearer' }), now),
    { value: 'abc' },
  );
});

const badAnswers: [string, string, RegExp][] = [
  ['not JSON', '<html>', /something other than JSON/],
  ['no access_token', JSON.stringify({ token_type: 'bearer' }), /no usable access_token/],
  [
    'a token with spaces',
    JSON.stringify({ access_token: 'a b', token_type: 'bearer' }),
    /access_token/,
  ],
  ['no token_type', JSON.stringify({ access_token: 'abc' }), /token_type "bearer"/],
  ['a MAC token', JSON.stringify({ access_token: 'abc', token_type: 'mac' }), /token_type/],
];

for (const [name, text, reason] of badAnswers) {
  test(`a token answer with ${name} is a permanent invalid response`, (t) => {
    const error = t.throws(() => parseTokenResponse(text, 0), { instanceOf: JointspaceError });
    t.true(error.permanent);
    t.regex(error.message, /^SMART token request: /);
    t.regex(error.message, reason);
  });
}
