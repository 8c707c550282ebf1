/**
 * From a study's patient attributes to care facts through the real FHIR server: match the
 * patient, read the record, build the facts. Synthetic patients: one with everything, one with
 * weight and height in pounds and inches instead of a BMI, one with absurd and malformed
 * values, and a neighbour whose record must not leak in. Serial: one test stops the server.
 */
import test from 'ava';
import type { Resource } from '@medplum/fhirtypes';
import { checkFacts } from '../../src/care/facts.js';
import { JointspaceError } from '../../src/errors.js';
import { FhirClient, type SearchParameters } from '../../src/fhir/client.js';
import { FHIR_REJECTED, FHIR_UNAVAILABLE } from '../../src/fhir/errors.js';
import { parsePatientIdentifiers } from '../../src/fhir/identifiers.js';
import { readPatientContext } from '../../src/fhir/patient-context.js';
import { matchPatient, type MatchedPatient } from '../../src/fhir/patient-match.js';
import { createLogger } from '../../src/log.js';
import { errorOf } from '../helpers/errors.js';
import { useFhirServer } from '../helpers/fhir-server.js';
import {
  HOSPITAL_A,
  STUDY_DATE,
  absurdPatient,
  fullPatient,
  imperialPatient,
  observation,
  patient,
} from './records.js';

const ISSUER = 'JOINTSPACE-TEST-HOSP-A';
const identifiers = parsePatientIdentifiers({
  kind: 'jointspace-patient-identifiers',
  version: '1.0.0',
  unmappedIssuer: 'search-value-only',
  defaultSystem: null,
  issuers: [{ issuer: ISSUER, system: HOSPITAL_A }],
});
const fhirServer = useFhirServer(test);
let client: FhirClient;

test.before(async () => {
  const server = await fhirServer();
  client = new FhirClient({ url: server.url, auth: { kind: 'none' }, timeoutMs: 5_000 });
  // Medications first: the statements and requests refer to them.
  const all: Resource[] = [
    ...fullPatient('ctx-full'),
    ...imperialPatient('ctx-imperial'),
    ...absurdPatient('ctx-absurd'),
    patient('ctx-neighbour', { identifiers: [{ system: HOSPITAL_A, value: 'JS-FHIR-NEIGHBOUR' }] }),
    observation(
      'ctx-neighbour-pain',
      'ctx-neighbour',
      '72514-3',
      { valueInteger: 9 },
      '2024-04-01',
    ),
  ];
  await server.seed(all.filter((r) => r.resourceType === 'Medication'));
  await server.seed(all.filter((r) => r.resourceType !== 'Medication'));
});

async function matched(patientId: string): Promise<MatchedPatient> {
  const match = await matchPatient(
    client,
    { patientId, issuerOfPatientId: ISSUER },
    { identifiers },
  );
  if (match.status !== 'matched') throw new Error(`expected a match, got ${match.status}`);
  return match.patient;
}

test.serial(
  'a full patient: matched by identifier, read, and turned into care facts',
  async (t) => {
    const subject = await matched('JS-FHIR-FULL');

    const context = await readPatientContext(client, subject, { studyDate: STUDY_DATE });

    const { facts } = context;
    t.is(facts.age, 65);
    t.is(facts.sex, 'female');
    t.is(facts.bmi, 31.2);
    t.deepEqual(
      facts.painScores?.map((p) => p.score),
      [4, 5, 6, 7],
    );
    t.deepEqual(facts.koos, { koosJr: 52.3, pain: 45, adl: 50 });
    t.deepEqual(facts.conditions, ['diabetes', 'chronic-kidney-disease', 'gi-bleed-or-ulcer']);
    t.deepEqual(
      facts.treatments?.map((r) => r.treatment),
      [
        'paracetamol',
        'oral-nsaid',
        'physiotherapy-or-exercise',
        'oral-nsaid',
        'topical-nsaid',
        'intra-articular-steroid',
      ],
    );
    t.true(context.sources.includes('Medication/ctx-full-naproxen'));
    t.deepEqual(
      context.ignored.map((i) => i.resource),
      ['MedicationStatement/ctx-full-tramadol', 'MedicationRequest/ctx-full-opioid-proposal'],
    );
    t.deepEqual(context.unavailable, []);
    t.notThrows(() => checkFacts(facts));
  },
);

test.serial(
  'the searches ask for this patient, and for the listed observation codes only',
  async (t) => {
    const server = await fhirServer();
    const subject = await matched('JS-FHIR-IMPERIAL');
    const before = server.requests.length;

    await readPatientContext(client, subject, { studyDate: STUDY_DATE });

    const paths = server.requests.slice(before).map((r) => decodeURIComponent(r.path));
    for (const type of ['Condition', 'MedicationStatement', 'MedicationRequest', 'Procedure']) {
      t.true(
        paths.some((p) => p.startsWith(`${type}?`) && p.includes('subject=Patient/ctx-imperial')),
      );
    }
    const observations = paths.find((p) => p.startsWith('Observation?')) ?? '';
    t.regex(observations, /code=http:\/\/loinc\.org\|72514-3,http:\/\/loinc\.org\|38208-5,/);
    t.regex(observations, /subject=Patient\/ctx-imperial/);
  },
);

test.serial('weight in pounds and height in inches give the BMI; no neighbour data', async (t) => {
  const context = await readPatientContext(client, await matched('JS-FHIR-IMPERIAL'), {
    studyDate: STUDY_DATE,
  });

  t.is(context.facts.bmi, 32);
  t.deepEqual(context.facts.painScores, [{ date: '2024-04-01', score: 5 }]);
  t.deepEqual(context.facts.conditions, []);
  t.deepEqual(context.facts.treatments, []);
  t.false(context.sources.some((s) => s.includes('neighbour')));
});

test.serial('absurd and malformed values are ignored with reasons, never used', async (t) => {
  const context = await readPatientContext(client, await matched('JS-FHIR-ABSURD'), {
    studyDate: STUDY_DATE,
  });

  t.deepEqual(context.facts.painScores, [{ date: '2024-04-02', score: 6 }]);
  t.is(context.facts.bmi, undefined);
  const reasons = new Map(context.ignored.map((i) => [i.resource, i.reason]));
  t.is(
    reasons.get('Observation/ctx-absurd-pain-42'),
    'pain score 42 is outside the plausible range 0–10',
  );
  t.is(
    reasons.get('Observation/ctx-absurd-bmi-400'),
    'BMI 400 kg/m² is outside the plausible range 10–100 kg/m²',
  );
  t.is(reasons.get('Observation/ctx-absurd-weight-no-unit'), 'body weight has no unit');
  t.is(
    reasons.get('Observation/ctx-absurd-height-0'),
    'body height 0 m is outside the plausible range 1–2.5 m',
  );
  t.is(context.ignored.length, 7);
  t.notThrows(() => checkFacts(context.facts));
});

test.serial(
  'a part the server refuses for good is unavailable, and its facts missing',
  async (t) => {
    const refusing = {
      read: client.read.bind(client),
      search: <T extends Resource>(type: T['resourceType'], parameters?: SearchParameters) =>
        type === 'MedicationStatement'
          ? Promise.reject(
              new JointspaceError(
                FHIR_REJECTED,
                'FHIR search MedicationStatement: the server refused the request with HTTP 403 (forbidden)',
                { status: 502, permanent: true },
              ),
            )
          : client.search<T>(type, parameters),
    };

    const context = await readPatientContext(refusing, await matched('JS-FHIR-FULL'), {
      studyDate: STUDY_DATE,
    });

    t.is(context.facts.treatments, undefined);
    t.deepEqual(context.facts.conditions, [
      'diabetes',
      'chronic-kidney-disease',
      'gi-bleed-or-ulcer',
    ]);
    t.deepEqual(context.unavailable, [
      {
        resourceType: 'MedicationStatement',
        reason:
          'FHIR search MedicationStatement: the server refused the request with HTTP 403 (forbidden)',
      },
    ]);
  },
);

test.serial('the log line counts what was read and never names the patient', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({}, 'info', (line) => lines.push(line));

  await readPatientContext(client, await matched('JS-FHIR-FULL'), {
    studyDate: STUDY_DATE,
    logger,
  });

  t.is(lines.length, 1);
  t.regex(
    lines[0] ?? '',
    /"event":"fhir.patient-context","sources":19,"ignored":2,"unavailable":\[\]/,
  );
  t.false(/ctx-full|JS-FHIR|Testpatient|1958/.test(lines[0] ?? ''));
});

test.serial('a server that is down fails the whole read, to be retried', async (t) => {
  const subject = await matched('JS-FHIR-FULL');
  const server = await fhirServer();
  await server.stop();
  try {
    const error = await errorOf(readPatientContext(client, subject, { studyDate: STUDY_DATE }));

    t.is(error.code, FHIR_UNAVAILABLE);
    t.false(error.permanent);
  } finally {
    await server.restart();
  }
});
