/**
 * SMART Backend Services end to end: a token endpoint that verifies the signed JWT assertion
 * with the registered public key (token-endpoint.ts), and the real FHIR server accepting only
 * the tokens it issued. RS384 and ES384; the token cached, shared and renewed; a revoked token
 * replaced; a refused client and an unreachable endpoint mapped to permanent and transient
 * errors.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import test from 'ava';
import type { Patient } from '@medplum/fhirtypes';
import { FhirClient } from '../../src/fhir/client.js';
import { FHIR_REJECTED, FHIR_UNAVAILABLE } from '../../src/fhir/errors.js';
import type { SigningAlgorithm } from '../../src/fhir/settings.js';
import { errorOf } from '../helpers/errors.js';
import { useFhirServer } from '../helpers/fhir-server.js';
import { patient } from './records.js';
import { startTokenEndpoint, type TokenEndpoint } from './token-endpoint.js';

const CLIENT_ID = 'jointspace-smart-test';
const endpoints = new Set<TokenEndpoint>();
const fhirServer = useFhirServer(test, {
  auth: { kind: 'bearer', token: (token) => [...endpoints].some((e) => e.accepts(token)) },
});

const keys: Record<SigningAlgorithm, { privateKey: KeyObject; publicKey: KeyObject }> = {
  RS384: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
};

test.before(async () => {
  const server = await fhirServer();
  await server.seed([patient('smart-1', { identifiers: [{ value: 'JS-FHIR-SMART' }] })]);
});

test.after.always(async () => {
  await Promise.all([...endpoints].map((e) => e.close()));
});

interface Setup {
  client: FhirClient;
  endpoint: TokenEndpoint;
  clock: { now: number };
}

async function setup(
  algorithm: SigningAlgorithm,
  options: { expiresIn?: number; registeredKey?: KeyObject } = {},
): Promise<Setup> {
  const clock = { now: Date.now() };
  const endpoint = await startTokenEndpoint({
    clientId: CLIENT_ID,
    publicKey: options.registeredKey ?? keys[algorithm].publicKey,
    keyId: `kid-${algorithm}`,
    expiresIn: options.expiresIn ?? 300,
    now: () => clock.now,
  });
  endpoints.add(endpoint);
  const server = await fhirServer();
  const client = new FhirClient(
    {
      url: server.url,
      auth: {
        kind: 'smart-backend-services',
        clientId: CLIENT_ID,
        tokenUrl: endpoint.url,
        privateKey: keys[algorithm].privateKey,
        algorithm,
        keyId: `kid-${algorithm}`,
        scope: 'system/*.read system/*.write',
      },
      timeoutMs: 5_000,
    },
    { now: () => clock.now },
  );
  return { client, endpoint, clock };
}

for (const algorithm of ['RS384', 'ES384'] as const) {
  test(`${algorithm}: one token serves several requests`, async (t) => {
    const { client, endpoint } = await setup(algorithm);

    const found = await client.search<Patient>('Patient', { identifier: 'JS-FHIR-SMART' });
    const read = await client.read<Patient>('Patient', 'smart-1');
    await client.search<Patient>('Patient', { _id: 'smart-1' });

    t.is(found.length, 1);
    t.is(read.id, 'smart-1');
    t.is(endpoint.requests, 1);
  });
}

test('concurrent requests wait for the same token', async (t) => {
  const { client, endpoint } = await setup('ES384');

  await Promise.all(Array.from({ length: 5 }, () => client.read<Patient>('Patient', 'smart-1')));

  t.is(endpoint.requests, 1);
});

test('the token is renewed shortly before it expires', async (t) => {
  const { client, endpoint, clock } = await setup('RS384', { expiresIn: 300 });

  await client.read<Patient>('Patient', 'smart-1');
  clock.now += 260_000;
  await client.read<Patient>('Patient', 'smart-1');
  t.is(endpoint.requests, 1);

  clock.now += 11_000;
  await client.read<Patient>('Patient', 'smart-1');
  t.is(endpoint.requests, 2);
});

test('a token the FHIR server refuses is replaced once and the request made again', async (t) => {
  const { client, endpoint } = await setup('ES384');
  await client.read<Patient>('Patient', 'smart-1');

  endpoint.revokeAll();
  const read = await client.read<Patient>('Patient', 'smart-1');

  t.is(read.id, 'smart-1');
  t.is(endpoint.requests, 2);
});

test('a client whose key is not the registered one is refused for good', async (t) => {
  const { client } = await setup('RS384', { registeredKey: keys.ES384.publicKey });

  const error = await errorOf(client.read<Patient>('Patient', 'smart-1'));

  t.is(error.code, FHIR_REJECTED);
  t.true(error.permanent);
  t.is(
    error.message,
    'SMART token request: the server refused the request with HTTP 401 (invalid_client)',
  );
});

test('an unreachable token endpoint is a transient failure', async (t) => {
  const { client, endpoint } = await setup('ES384');
  await endpoint.close();
  endpoints.delete(endpoint);

  const error = await errorOf(client.read<Patient>('Patient', 'smart-1'));

  t.is(error.code, FHIR_UNAVAILABLE);
  t.false(error.permanent);
  t.regex(error.message, /^SMART token request: cannot reach the server \(ECONNREFUSED\)$/);
});
