/**
 * What the CDS Hooks tests share: EHR signing keys made for the run, a JWT signer, a JWK Set
 * file, an in-memory result source, and a synthetic patient (obviously fake: "Testpatient",
 * id "cds-test-patient", Study Instance UIDs under the example arc 2.25) as stored results and as
 * a prefetch.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { recommend, type CarePlanProposal } from '../../src/care/engine.js';
import type { KneeFacts } from '../../src/care/facts.js';
import { careRules } from '../../src/care/rules.js';
import { buildCareFacts, type PatientRecord } from '../../src/fhir/care-facts.js';
import { fhirCodes } from '../../src/fhir/codes.js';
import type { CdsKneeResult, CdsResultSource } from '../../src/cds/results.js';
import {
  ATC,
  SCT,
  concept,
  condition,
  medication,
  medicationRequest,
  medicationStatement,
  observation,
  patient,
  quantity,
} from '../fhir/records.js';

/** The test clock: every token and every "today" is measured against it. */
export const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
export const TODAY = '2026-03-01';
export const ISSUER = 'https://ehr.example.org/cds-client';
export const PATIENT_ID = 'cds-test-patient';
export const USER_ID = 'Practitioner/cds-test-clinician';
export const RIGHT_STUDY = '2.25.424242.1';
export const LEFT_STUDY = '2.25.424242.2';
export const GRADED_ON = '2026-01-15';

export interface SigningKey {
  kid: string;
  alg: 'RS384' | 'ES384';
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function keyPair(kid: string, alg: SigningKey['alg']): SigningKey {
  const pair =
    alg === 'RS384'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-384' });
  return { kid, alg, ...pair };
}

export const RSA_KEY = keyPair('ehr-rsa-1', 'RS384');
export const EC_KEY = keyPair('ehr-ec-1', 'ES384');
/** Not in the JWK Set: a stranger's key. */
export const STRANGER_KEY = keyPair('ehr-rsa-1', 'RS384');

export function jwkOf(key: SigningKey): Record<string, unknown> {
  return { ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, use: 'sig', alg: key.alg };
}

/** A folder for the run's files, removed by `remove`. */
export function tempDir(): {
  path: string;
  file: (name: string, text: string) => string;
  remove: () => void;
} {
  const path = mkdtempSync(join(tmpdir(), 'jointspace-cds-'));
  return {
    path,
    file: (name, text) => {
      const file = join(path, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

export interface Claims {
  iss?: unknown;
  sub?: unknown;
  aud?: unknown;
  exp?: unknown;
  iat?: unknown;
  jti?: unknown;
}

/** A compact JWS as an EHR makes it; `claims` replace the defaults, `undefined` drops one. */
export function signJwt(
  audience: string,
  claims: Claims = {},
  key: SigningKey = RSA_KEY,
  header: Record<string, unknown> = {},
): string {
  const nowS = Math.floor(NOW_MS / 1000);
  const body: Record<string, unknown> = {
    iss: ISSUER,
    sub: 'ehr-client',
    aud: audience,
    exp: nowS + 240,
    iat: nowS - 10,
    jti: randomUUID(),
  };
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined) Reflect.deleteProperty(body, name);
    else body[name] = value;
  }
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })}.${encode(body)}`;
  const signature = sign('sha384', Buffer.from(input), {
    key: key.privateKey,
    ...(key.alg === 'ES384' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  });
  return `${input}.${signature.toString('base64url')}`;
}

/** Results by FHIR patient id; records every id asked for. */
export class MemoryResults implements CdsResultSource {
  readonly asked: string[] = [];

  constructor(private readonly byPatient: ReadonlyMap<string, CdsKneeResult[]>) {}

  latestKneeResults(fhirPatientId: string): Promise<CdsKneeResult[]> {
    this.asked.push(fhirPatientId);
    return Promise.resolve(this.byPatient.get(fhirPatientId) ?? []);
  }
}

/**
 * The record as it was at grading: 67, female, BMI 31, moderate pain (6/10) for months, a
 * topical NSAID since 2025, nothing on the problem list. With KL 3 that gives R4 (oral NSAID).
 */
export function baseRecord(): Resource[] {
  const id = PATIENT_ID;
  return [
    patient(id, { birthDate: '1958-06-15', gender: 'female' }),
    observation(`${id}-pain-1`, id, '72514-3', { valueInteger: 6 }, '2025-09-10'),
    observation(`${id}-pain-2`, id, '72514-3', { valueInteger: 6 }, '2026-01-10'),
    observation(`${id}-bmi`, id, '39156-5', { valueQuantity: quantity(31, 'kg/m2') }, '2025-12-01'),
    medicationStatement(`${id}-gel`, id, concept(ATC, 'M02AA15', 'diclofenac'), {
      start: '2025-06-01',
    }),
  ];
}

/** A myocardial infarction on the problem list: cardiovascular disease. */
export function cardiovascularCondition() {
  return condition(
    `${PATIENT_ID}-mi`,
    PATIENT_ID,
    concept(SCT, '22298006', 'Myocardial infarction'),
  );
}

/** An oral NSAID prescribed through a Medication resource (sent by `_include`). */
export function medicationWithReference(): Resource[] {
  return [
    medication('cds-naproxen', concept(ATC, 'M01AE02', 'naproxen')),
    medicationRequest(`${PATIENT_ID}-naproxen-order`, PATIENT_ID, 'Medication/cds-naproxen', {
      status: 'completed',
      authoredOn: '2025-05-01',
    }),
  ];
}

export function asRecord(resources: Resource[]): PatientRecord {
  const of = <T extends Resource['resourceType']>(type: T) =>
    resources.filter((r) => r.resourceType === type) as Extract<Resource, { resourceType: T }>[];
  const [first] = of('Patient');
  if (first === undefined) throw new Error('a record needs a Patient');
  return {
    patient: first,
    observations: of('Observation'),
    conditions: of('Condition'),
    medicationStatements: of('MedicationStatement'),
    medicationRequests: of('MedicationRequest'),
    procedures: of('Procedure'),
  };
}

/** The searchset Bundle an EHR would send for one prefetch key. */
export function searchset(resources: Resource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((resource) => ({ resource, search: { mode: 'match' } })),
  };
}

/** A whole prefetch for the discovery templates, from the resources of a record. */
export function prefetchOf(resources: Resource[]): Record<string, unknown> {
  const record = asRecord(resources);
  return {
    patient: record.patient,
    observations: searchset(record.observations ?? []),
    conditions: searchset(record.conditions ?? []),
    medicationStatements: searchset(record.medicationStatements ?? []),
    medicationRequests: searchset([
      ...(record.medicationRequests ?? []),
      ...resources.filter((r) => r.resourceType === 'Medication'),
    ]),
    procedures: searchset(record.procedures ?? []),
  };
}

/** The proposal the pipeline stored at grading, made from `resources` on GRADED_ON. */
export function storedProposal(resources: Resource[], knee: KneeFacts): CarePlanProposal {
  const { facts } = buildCareFacts(asRecord(resources), fhirCodes(), {
    studyDate: GRADED_ON,
    knee,
  });
  return recommend(facts, careRules());
}

/**
 * The patient's two knees as stored: right KL 3 with 0.9 mm of medial joint-space loss since an
 * earlier study (R15 fired at grading), left KL 2 without an earlier study.
 */
export function storedKnees(): CdsKneeResult[] {
  const record = baseRecord();
  const right: KneeFacts = {
    laterality: 'R',
    klGrade: 3,
    jsw: { medialMm: 2.1, lateralMm: 4.8 },
    progression: { medialJswLossMm: 0.9 },
  };
  const left: KneeFacts = { laterality: 'L', klGrade: 2, jsw: { medialMm: 3.9 } };
  return [
    {
      studyInstanceUid: RIGHT_STUDY,
      studyDate: '20260115',
      laterality: 'R',
      klGrade: 3,
      modelId: 'knee-kl@1.0.0',
      jsw: { medialMinMm: 2.1, lateralMinMm: 4.8 },
      proposal: storedProposal(record, right),
      recordedAt: new Date(`${GRADED_ON}T10:00:00Z`),
    },
    {
      studyInstanceUid: LEFT_STUDY,
      studyDate: '2026-01-15',
      laterality: 'L',
      klGrade: 2,
      modelId: 'knee-kl@1.0.0',
      jsw: { medialMinMm: 3.9 },
      proposal: storedProposal(record, left),
      recordedAt: new Date(`${GRADED_ON}T10:00:00Z`),
    },
  ];
}
