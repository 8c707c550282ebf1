/**
 * The FHIR client against the real FHIR server requiring a bearer token: the interactions,
 * paging, and every failure mapped to a JointspaceError whose message names no URL, search
 * value or id. Basic authentication is tested against a second server. Serial: tests stop the
 * server and set faults.
 */
import test from 'ava';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import type { JointspaceError } from '../../src/errors.js';
import { FhirClient, fhirSettingsFromEnv } from '../../src/fhir/client.js';
import { FHIR_INVALID_RESPONSE, FHIR_REJECTED, FHIR_UNAVAILABLE } from '../../src/fhir/errors.js';
import type { FhirAuth } from '../../src/fhir/settings.js';
import { errorOf } from '../helpers/errors.js';
import { startFhirServer, useFhirServer } from '../helpers/fhir-server.js';
import { HOSPITAL_A, patient } from './records.js';

const TOKEN = 'bearer-token-for-tests-0001';
const SECRET_VALUE = 'JS-FHIR-SECRET-4711';
const fhirServer = useFhirServer(test, { auth: { kind: 'bearer', token: TOKEN } });

async function client(auth: FhirAuth = { kind: 'bearer', token: TOKEN }, timeoutMs = 5_000) {
  const server = await fhirServer();
  return new FhirClient({ url: server.url, auth, timeoutMs });
}

/** The message and every cause below it, as text. */
function everything(error: JointspaceError): string {
  const texts: string[] = [];
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    texts.push(current.message, JSON.stringify(current));
  }
  return texts.join('\n');
}

test.before(async () => {
  const server = await fhirServer();
  await server.seed([
    patient('c-1', { identifiers: [{ system: HOSPITAL_A, value: SECRET_VALUE }] }),
    ...Array.from({ length: 7 }, (_, i) =>
      patient(`page-${i}`, { identifiers: [{ value: 'PAGED' }] }),
    ),
  ]);
});

test.serial('settings from the environment make a working client', async (t) => {
  const server = await fhirServer();
  const settings = fhirSettingsFromEnv({
    JOINTSPACE_FHIR_URL: server.url,
    JOINTSPACE_FHIR_TOKEN: TOKEN,
  });
  if (settings === undefined) return t.fail('no settings');

  const read = await new FhirClient(settings).read<Patient>('Patient', 'c-1');
  t.is(read.id, 'c-1');
});

test.serial('search follows next links over every page', async (t) => {
  const server = await fhirServer();
  const before = server.requests.length;

  const found = await (
    await client()
  ).search<Patient>('Patient', { identifier: 'PAGED', _count: '3' });

  t.is(found.length, 7);
  t.deepEqual(new Set(found.map((p) => p.id)).size, 7);
  t.is(server.requests.length - before, 3);
});

test.serial('create, conditional create, update, transaction and batch', async (t) => {
  const fhir = await client();
  const fresh = patient('ignored-id', {
    identifiers: [{ system: HOSPITAL_A, value: 'JS-FHIR-NEW' }],
  });
  delete fresh.id;

  const created = await fhir.create<Patient>(fresh);
  const again = await fhir.create<Patient>(fresh, {
    ifNoneExist: `identifier=${HOSPITAL_A}|JS-FHIR-NEW`,
  });
  const updated = await fhir.update<Patient>({ ...created, gender: 'male' });
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'test' },
          subject: { reference: `Patient/${created.id ?? ''}` },
        } satisfies Observation,
        request: { method: 'POST', url: 'Observation' },
      },
    ],
  };
  const answer = await fhir.transaction(bundle);
  const batch = await fhir.batch({
    resourceType: 'Bundle',
    type: 'batch',
    entry: [
      { request: { method: 'GET', url: `Patient/${created.id ?? ''}` } },
      { request: { method: 'GET', url: 'Patient/no-such-patient' } },
    ],
  });

  t.is(again.id, created.id);
  t.is(updated.gender, 'male');
  t.is(answer.type, 'transaction-response');
  t.is(answer.entry?.[0]?.response?.status, '201');
  t.deepEqual(
    batch.entry?.map((e) => e.response?.status),
    ['200', '404'],
  );
});

test.serial('an unknown resource is a permanent rejection naming the status only', async (t) => {
  const error = await errorOf((await client()).read<Patient>('Patient', 'no-such-patient'));

  t.is(error.code, FHIR_REJECTED);
  t.true(error.permanent);
  t.is(
    error.message,
    'FHIR read Patient: the server refused the request with HTTP 404 (not-found)',
  );
  t.false(everything(error).includes('no-such-patient'));
});

test.serial('a wrong bearer token is a permanent rejection without the search value', async (t) => {
  const fhir = await client({ kind: 'bearer', token: 'wrong-token' });

  const error = await errorOf(fhir.search<Patient>('Patient', { identifier: SECRET_VALUE }));

  t.is(error.code, FHIR_REJECTED);
  t.regex(error.message, /^FHIR search Patient: the server refused the request with HTTP 401/);
  t.false(everything(error).includes(SECRET_VALUE));
  t.false(everything(error).includes('wrong-token'));
});

test.serial('no credentials at all are refused the same way', async (t) => {
  const error = await errorOf((await client({ kind: 'none' })).read<Patient>('Patient', 'c-1'));
  t.regex(error.message, /HTTP 401/);
});

test.serial(
  'a server that is down is a transient failure, and works again after restart',
  async (t) => {
    const server = await fhirServer();
    const fhir = await client();
    await server.stop();
    try {
      const error = await errorOf(fhir.search<Patient>('Patient', { identifier: SECRET_VALUE }));

      t.is(error.code, FHIR_UNAVAILABLE);
      t.false(error.permanent);
      t.is(error.status, 503);
      t.is(error.message, 'FHIR search Patient: cannot reach the server (ECONNREFUSED)');
      t.false(everything(error).includes(SECRET_VALUE));
    } finally {
      await server.restart();
    }
    t.is((await fhir.read<Patient>('Patient', 'c-1')).id, 'c-1');
  },
);

for (const status of [500, 503, 429]) {
  test.serial(`HTTP ${status} is a transient failure`, async (t) => {
    const server = await fhirServer();
    server.setFault({ status });
    try {
      const error = await errorOf((await client()).read<Patient>('Patient', 'c-1'));
      t.is(error.code, FHIR_UNAVAILABLE);
      t.false(error.permanent);
      t.regex(error.message, new RegExp(`^FHIR read Patient: the server answered HTTP ${status}`));
    } finally {
      server.setFault(undefined);
    }
  });
}

test.serial('a server slower than the timeout is a transient failure (504)', async (t) => {
  const server = await fhirServer();
  server.setFault({ delayMs: 1_500 });
  try {
    const error = await errorOf((await client(undefined, 1_000)).read<Patient>('Patient', 'c-1'));
    t.is(error.code, FHIR_UNAVAILABLE);
    t.is(error.status, 504);
    t.is(error.message, 'FHIR read Patient: no answer within 1000 ms');
  } finally {
    server.setFault(undefined);
  }
});

test.serial('an answer of the wrong type is an invalid response', async (t) => {
  // The history of a Patient is a Bundle, where a read expects the Patient.
  const error = await errorOf((await client()).read<Patient>('Patient', 'c-1/_history'));

  t.is(error.code, FHIR_INVALID_RESPONSE);
  t.true(error.permanent);
  t.is(error.message, 'FHIR read Patient: expected a Patient, got Bundle');
});

test('basic authentication against a server that requires it', async (t) => {
  const server = await startFhirServer({
    auth: { kind: 'basic', username: 'jointspace', password: 'correct horse' },
  });
  try {
    await server.seed([patient('basic-1')]);
    const basic = (password: string) =>
      new FhirClient({
        url: server.url,
        auth: { kind: 'basic', username: 'jointspace', password },
        timeoutMs: 5_000,
      });

    t.is((await basic('correct horse').read<Patient>('Patient', 'basic-1')).id, 'basic-1');
    const error = await errorOf(basic('wrong').read<Patient>('Patient', 'basic-1'));
    t.is(error.code, FHIR_REJECTED);
    t.regex(error.message, /HTTP 401/);
  } finally {
    await server.dispose();
  }
});
