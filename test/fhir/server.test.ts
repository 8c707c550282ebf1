/**
 * The test FHIR server itself (test/helpers/fhir-server.ts), spoken to with plain fetch as any
 * R4 client would: the REST interactions the FHIR code relies on, paging, conditional create,
 * transactions, authentication, and stop/restart with the data kept. Serial: one test stops
 * the server.
 */
import test from 'ava';
import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { FHIR_JSON, useFhirServer } from '../helpers/fhir-server.js';

const TOKEN = 'test-token-0123456789';
const fhirServer = useFhirServer(test, { auth: { kind: 'bearer', token: TOKEN } });

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const server = await fhirServer();
  const response = await fetch(new URL(path, server.url), {
    method,
    headers: {
      accept: FHIR_JSON,
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': FHIR_JSON }),
      ...headers,
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return {
    status: response.status,
    json: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

const patient = (value: string): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:oid:2.25.1001', value }],
  name: [{ family: 'Testpatient', given: ['Server'] }],
});

test.serial('create, read and update a resource', async (t) => {
  const created = await call('POST', 'Patient', patient('SRV-1'));
  t.is(created.status, 201);
  const id = created.json.id as string;
  t.regex(created.headers.get('location') ?? '', new RegExp(`/fhir/R4/Patient/${id}$`));
  t.regex(created.headers.get('content-type') ?? '', /^application\/fhir\+json/);

  const read = await call('GET', `Patient/${id}`);
  t.is(read.status, 200);
  t.deepEqual(read.json.identifier, [{ system: 'urn:oid:2.25.1001', value: 'SRV-1' }]);

  const updated = await call('PUT', `Patient/${id}`, { ...read.json, gender: 'female' });
  t.is(updated.status, 200);
  t.is((await call('GET', `Patient/${id}`)).json.gender, 'female');
});

test.serial('an unknown resource is an OperationOutcome with 404', async (t) => {
  const answer = await call('GET', 'Patient/does-not-exist');

  t.is(answer.status, 404);
  t.is(answer.json.resourceType, 'OperationOutcome');
  t.is((answer.json as unknown as OperationOutcome).issue[0]?.code, 'not-found');
});

test.serial('search by identifier token, with and without system', async (t) => {
  await call('POST', 'Patient', patient('SRV-2'));

  const bySystem = await call('GET', 'Patient?identifier=urn:oid:2.25.1001|SRV-2');
  const byValue = await call('GET', 'Patient?identifier=SRV-2');
  const otherSystem = await call('GET', 'Patient?identifier=urn:oid:2.25.9|SRV-2');

  t.is((bySystem.json as unknown as Bundle).entry?.length, 1);
  t.is((byValue.json as unknown as Bundle).entry?.length, 1);
  t.is((otherSystem.json as unknown as Bundle).entry, undefined);
});

test.serial('search results are paged with next links', async (t) => {
  const server = await fhirServer();
  await server.seed(
    Array.from({ length: 5 }, (_, i): Patient => ({
      ...patient(`PAGE-${i}`),
      name: [{ family: 'Pagedpatient' }],
    })),
  );

  const first = (await call('GET', 'Patient?family=Pagedpatient&_count=2'))
    .json as unknown as Bundle;
  const next = first.link?.find((l) => l.relation === 'next')?.url ?? '';
  const second = (await call('GET', next)).json as unknown as Bundle;

  t.is(first.total, 5);
  t.is(first.entry?.length, 2);
  t.true(next.startsWith(server.url));
  t.is(second.entry?.length, 2);
  t.notDeepEqual(second.entry?.[0]?.resource?.id, first.entry?.[0]?.resource?.id);
});

test.serial('conditional create returns the existing resource', async (t) => {
  const headers = { 'if-none-exist': 'identifier=urn:oid:2.25.1001|SRV-COND' };
  const first = await call('POST', 'Patient', patient('SRV-COND'), headers);
  const second = await call('POST', 'Patient', patient('SRV-COND'), headers);

  t.is(first.status, 201);
  t.is(second.status, 200);
  t.is(second.json.id, first.json.id);
  const found = await call('GET', 'Patient?identifier=urn:oid:2.25.1001|SRV-COND');
  t.is((found.json as unknown as Bundle).entry?.length, 1);
});

test.serial('a transaction resolves urn:uuid references between its entries', async (t) => {
  const fullUrl = 'urn:uuid:7b0b2a1c-1111-4c4c-8d8d-000000000001';
  const answer = await call('POST', '', {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl, resource: patient('SRV-TX'), request: { method: 'POST', url: 'Patient' } },
      {
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '72514-3' }] },
          subject: { reference: fullUrl },
          valueInteger: 3,
        },
        request: { method: 'POST', url: 'Observation' },
      },
    ],
  });

  const bundle = answer.json as unknown as Bundle;
  t.is(answer.status, 200);
  t.is(bundle.type, 'transaction-response');
  const [patientEntry, observationEntry] = bundle.entry ?? [];
  t.is(patientEntry?.response?.status, '201');
  const observation = observationEntry?.resource as { subject?: { reference?: string } };
  t.is(observation.subject?.reference, `Patient/${patientEntry?.resource?.id ?? ''}`);
});

test.serial('requests without the bearer token are refused with 401', async (t) => {
  const without = await call('GET', 'Patient', undefined, { authorization: '' });
  const wrong = await call('GET', 'Patient', undefined, { authorization: 'Bearer wrong' });

  t.is(without.status, 401);
  t.is(wrong.status, 401);
  t.is(without.headers.get('www-authenticate'), 'Bearer');
});

test.serial('a body that is not FHIR JSON is refused', async (t) => {
  const server = await fhirServer();
  const response = await fetch(new URL('Patient', server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' },
    body: 'hello',
  });

  t.is(response.status, 415);
});

test.serial('a stopped server refuses connections and keeps its data for restart', async (t) => {
  const server = await fhirServer();
  const created = await call('POST', 'Patient', patient('SRV-RESTART'));

  await server.stop();
  await t.throwsAsync(fetch(new URL('metadata', server.url)));
  await server.restart();

  const read = await call('GET', `Patient/${created.json.id as string}`);
  t.is(read.status, 200);
});

test.serial('a fault answers every request with its status until cleared', async (t) => {
  const server = await fhirServer();
  server.setFault({ status: 503 });
  try {
    t.is((await call('GET', 'Patient')).status, 503);
  } finally {
    server.setFault(undefined);
  }
  t.is((await call('GET', 'Patient')).status, 200);
});
