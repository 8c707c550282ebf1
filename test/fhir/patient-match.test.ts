/**
 * Matching a study's patient against the real FHIR server: the issuer mapping chooses a
 * `system|value` search, no mapping a value-only search; one Patient is a match, none is
 * unmatched, two are refused as ambiguous; reasons and logs never carry the PatientID.
 * Serial: one test stops the server.
 */
import test from 'ava';
import { FhirClient } from '../../src/fhir/client.js';
import { FHIR_UNAVAILABLE } from '../../src/fhir/errors.js';
import { parsePatientIdentifiers, type PatientIdentifierMap } from '../../src/fhir/identifiers.js';
import { escapeSearchValue, matchPatient } from '../../src/fhir/patient-match.js';
import { createLogger } from '../../src/log.js';
import { errorOf } from '../helpers/errors.js';
import { useFhirServer } from '../helpers/fhir-server.js';
import { HOSPITAL_A, HOSPITAL_B, patient } from './records.js';

const ISSUER_A = 'JOINTSPACE-TEST-HOSP-A';
const SHARED = 'JS-FHIR-MATCH-1';
const fhirServer = useFhirServer(test);

const mapping = (unmappedIssuer = 'search-value-only', system = HOSPITAL_A): PatientIdentifierMap =>
  parsePatientIdentifiers({
    kind: 'jointspace-patient-identifiers',
    version: '1.0.0',
    unmappedIssuer,
    defaultSystem: null,
    issuers: [{ issuer: ISSUER_A, system }],
  });

let client: FhirClient;

test.before(async () => {
  const server = await fhirServer();
  client = new FhirClient({ url: server.url, auth: { kind: 'none' }, timeoutMs: 5_000 });
  await server.seed([
    patient('match-a', { identifiers: [{ system: HOSPITAL_A, value: SHARED }] }),
    patient('match-b', { identifiers: [{ system: HOSPITAL_B, value: SHARED }] }),
    patient('match-c', { identifiers: [{ system: HOSPITAL_A, value: 'JS-FHIR-ONLY-2' }] }),
    patient('match-case', { identifiers: [{ system: HOSPITAL_A, value: 'js-fhir-case-3' }] }),
    patient('match-comma', { identifiers: [{ system: HOSPITAL_A, value: 'JS-FHIR,4' }] }),
  ]);
});

async function lastQuery(): Promise<string> {
  const server = await fhirServer();
  return decodeURIComponent(server.requests.at(-1)?.path ?? '');
}

test.serial('a mapped issuer searches system|value and finds the one patient', async (t) => {
  const match = await matchPatient(
    client,
    { patientId: SHARED, issuerOfPatientId: ISSUER_A },
    { identifiers: mapping() },
  );

  t.is(match.status, 'matched');
  if (match.status !== 'matched') return;
  t.is(match.patient.id, 'match-a');
  t.is(match.search, 'system');
  t.regex(await lastQuery(), new RegExp(`identifier=${HOSPITAL_A}\\|${SHARED}`));
});

test.serial(
  'without an issuer the value alone is searched; two patients are ambiguous',
  async (t) => {
    const match = await matchPatient(client, { patientId: SHARED }, { identifiers: mapping() });

    t.deepEqual(match, {
      status: 'ambiguous',
      reason:
        "2 Patients with the study's PatientID under any identifier system (the study has no Issuer of Patient ID); refused, as the study cannot be told apart between them",
    });
    t.regex(await lastQuery(), new RegExp(`identifier=${SHARED}($|&)`));
  },
);

test.serial('an unmapped issuer searches the value alone and may match', async (t) => {
  const match = await matchPatient(
    client,
    { patientId: 'JS-FHIR-ONLY-2', issuerOfPatientId: 'SOME-OTHER-ISSUER' },
    { identifiers: mapping() },
  );

  t.is(match.status, 'matched');
  if (match.status === 'matched') {
    t.is(match.patient.id, 'match-c');
    t.is(match.search, 'value-only');
  }
});

test.serial('no patient with the identifier is unmatched, with the reason', async (t) => {
  const match = await matchPatient(
    client,
    { patientId: 'JS-FHIR-NOBODY', issuerOfPatientId: ISSUER_A },
    { identifiers: mapping() },
  );

  t.deepEqual(match, {
    status: 'unmatched',
    reason: `no Patient with the study's PatientID under identifier system ${HOSPITAL_A}`,
  });
});

test.serial(
  'the mapped system is required: the same value in another system does not match',
  async (t) => {
    const match = await matchPatient(
      client,
      { patientId: 'JS-FHIR-ONLY-2', issuerOfPatientId: ISSUER_A },
      { identifiers: mapping('search-value-only', HOSPITAL_B) },
    );
    t.is(match.status, 'unmatched');
  },
);

test.serial(
  'a server that ignores case does not turn a different identifier into a match',
  async (t) => {
    // Medplum's memory repository matches tokens without regard to case:
    const raw = await client.search('Patient', { identifier: `${HOSPITAL_A}|JS-FHIR-CASE-3` });
    t.is(raw.length, 1);

    const match = await matchPatient(
      client,
      { patientId: 'JS-FHIR-CASE-3', issuerOfPatientId: ISSUER_A },
      { identifiers: mapping() },
    );

    t.is(match.status, 'unmatched');
  },
);

test.serial('a PatientID with a comma is searched as one escaped value', async (t) => {
  const match = await matchPatient(
    client,
    { patientId: 'JS-FHIR,4', issuerOfPatientId: ISSUER_A },
    { identifiers: mapping() },
  );

  t.regex(await lastQuery(), /identifier=urn:oid:2\.25\.4242\.1\|JS-FHIR\\,4/);
  t.is(match.status, 'matched');
});

test.serial(
  'the refuse policy records an unmapped issuer as unmatched without searching',
  async (t) => {
    const server = await fhirServer();
    const before = server.requests.length;

    const match = await matchPatient(
      client,
      { patientId: SHARED, issuerOfPatientId: 'SOME-OTHER-ISSUER' },
      { identifiers: mapping('refuse') },
    );

    t.is(match.status, 'unmatched');
    t.is(server.requests.length, before);
  },
);

test.serial('a study without PatientID is unmatched without searching', async (t) => {
  const match = await matchPatient(client, { patientId: '  ' }, { identifiers: mapping() });
  t.deepEqual(match, { status: 'unmatched', reason: 'the study has no PatientID' });
});

test.serial('the log line names the outcome, never the identifier', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({}, 'debug', (line) => lines.push(line));

  await matchPatient(client, { patientId: SHARED }, { identifiers: mapping(), logger });
  await matchPatient(
    client,
    { patientId: SHARED, issuerOfPatientId: ISSUER_A },
    { identifiers: mapping(), logger },
  );

  t.is(lines.length, 2);
  t.regex(lines[0] ?? '', /"event":"fhir.patient-match","status":"ambiguous"/);
  t.regex(lines[1] ?? '', /"status":"matched","search":"system"/);
  t.false(lines.join('\n').includes(SHARED));
});

test.serial('a server that is down is an error to retry, not "unmatched"', async (t) => {
  const server = await fhirServer();
  await server.stop();
  try {
    const error = await errorOf(
      matchPatient(
        client,
        { patientId: SHARED, issuerOfPatientId: ISSUER_A },
        { identifiers: mapping() },
      ),
    );
    t.is(error.code, FHIR_UNAVAILABLE);
    t.false(error.permanent);
    t.false(error.message.includes(SHARED));
  } finally {
    await server.restart();
  }
});

test('search values escape the characters FHIR search gives meaning to', (t) => {
  t.is(escapeSearchValue('A,B|C$D\\E'), 'A\\,B\\|C\\$D\\\\E');
  t.is(escapeSearchValue('JS-0001'), 'JS-0001');
});
