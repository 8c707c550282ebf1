/**
 * The pure part of the patient reader (src/fhir/care-facts.ts): records in, care facts out,
 * with every value that is ignored listed with its reason. No server: the same synthetic
 * patients are read through the real FHIR server in patient-context.test.ts.
 */
import test from 'ava';
import type {
  Condition,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Patient,
  Procedure,
  Resource,
} from '@medplum/fhirtypes';
import { checkFacts, deriveFacts } from '../../src/care/facts.js';
import { buildCareFacts, type PatientRecord } from '../../src/fhir/care-facts.js';
import { fhirCodes } from '../../src/fhir/codes.js';
import {
  ATC,
  ICD10,
  RXNORM,
  ROUTE,
  SCT,
  STUDY_DATE,
  absurdPatient,
  concept,
  condition,
  fullPatient,
  imperialPatient,
  medication,
  medicationRequest,
  medicationStatement,
  observation,
  patient,
  procedure,
  quantity,
} from './records.js';

const codes = fhirCodes();

/** The record as a server would return it: every part read. */
function record(resources: Resource[]): PatientRecord {
  const of = <T extends Resource>(type: T['resourceType']) =>
    resources.filter((r): r is T => r.resourceType === type);
  const [subject] = of<Patient>('Patient');
  if (subject === undefined) throw new Error('no Patient in the fixture');
  return {
    patient: subject,
    observations: of<Observation>('Observation'),
    conditions: of<Condition>('Condition'),
    medicationStatements: of<MedicationStatement>('MedicationStatement'),
    medicationRequests: of<MedicationRequest>('MedicationRequest'),
    procedures: of<Procedure>('Procedure'),
    medications: new Map(
      resources
        .filter((r) => r.resourceType === 'Medication')
        .map((m) => [`Medication/${m.id ?? ''}`, m as never]),
    ),
  };
}

const read = (resources: Resource[], asOf = STUDY_DATE) =>
  buildCareFacts(record(resources), codes, { studyDate: STUDY_DATE, asOf });

const lone = (...resources: Resource[]) => read([patient('p'), ...resources]);

test('a full patient: every fact, with its sources, and the ignored records named', (t) => {
  const { facts, ignored, sources } = read(fullPatient());

  t.deepEqual(facts, {
    asOf: STUDY_DATE,
    knee: {},
    sex: 'female',
    age: 65,
    painScores: [
      { date: '2023-06-01', score: 4 },
      { date: '2023-11-20', score: 5 },
      { date: '2024-02-10', score: 6 },
      { date: '2024-04-30', score: 7 },
    ],
    koos: { koosJr: 52.3, pain: 45, adl: 50 },
    bmi: 31.2,
    conditions: ['diabetes', 'chronic-kidney-disease', 'gi-bleed-or-ulcer'],
    treatments: [
      { treatment: 'paracetamol', start: '2022-10-01', current: false },
      { treatment: 'oral-nsaid', start: '2023-01-10', end: '2023-03-10', current: false },
      {
        treatment: 'physiotherapy-or-exercise',
        start: '2023-02-01',
        end: '2023-06-01',
        current: false,
      },
      { treatment: 'oral-nsaid', start: '2023-05-01', current: false },
      { treatment: 'topical-nsaid', start: '2023-09-01', current: true },
      { treatment: 'intra-articular-steroid', start: '2024-01-15', current: false },
    ],
  });
  t.deepEqual(ignored, [
    {
      resource: 'MedicationStatement/full-tramadol',
      reason: 'status "intended": not a medicine that was taken',
    },
    {
      resource: 'MedicationRequest/full-opioid-proposal',
      reason: 'intent "proposal": a proposal or plan, not a prescription',
    },
  ]);
  t.deepEqual(
    [...sources].sort(),
    [
      'Patient/full',
      'Observation/full-pain-1',
      'Observation/full-pain-2',
      'Observation/full-pain-3',
      'Observation/full-pain-4',
      'Observation/full-bmi',
      'Observation/full-koos-jr',
      'Observation/full-koos-pain',
      'Observation/full-koos-adl',
      'Condition/full-diabetes',
      'Condition/full-ckd',
      'Condition/full-ulcer',
      'MedicationStatement/full-diclofenac-gel',
      'MedicationStatement/full-ibuprofen',
      'MedicationStatement/full-paracetamol',
      'MedicationRequest/full-naproxen-order',
      'Medication/full-naproxen',
      'Procedure/full-physio',
      'Procedure/full-injection',
    ].sort(),
  );
});

test('the full patient’s facts pass the engine’s check and give the pain trend', (t) => {
  const { facts } = read(fullPatient());

  t.notThrows(() => checkFacts(facts));
  const derived = deriveFacts(facts).values;
  t.is(derived.get('painTrend'), 'worsening');
  t.is(derived.get('latestPain'), 7);
  t.is(derived.get('exerciseMonths'), 3.9);
  t.is(derived.get('treatment.topical-nsaid.current'), true);
  t.is(derived.get('treatment.oral-nsaid.tried'), true);
  t.is(derived.get('treatment.opioid.tried'), false);
  t.is(derived.get('condition.depression'), false);
  t.is(derived.get('condition.gi-bleed-or-ulcer'), true);
});

test('BMI from weight in pounds and height in inches when none is recorded', (t) => {
  const { facts, sources, ignored } = read(imperialPatient());

  t.is(facts.bmi, 32);
  t.is(facts.age, 54);
  t.true(sources.includes('Observation/imperial-weight'));
  t.true(sources.includes('Observation/imperial-height'));
  t.deepEqual(ignored, []);
});

test('absurd and malformed values are ignored with their reasons, never used', (t) => {
  const { facts, ignored, sources } = read(absurdPatient());

  t.deepEqual(facts.painScores, [{ date: '2024-04-02', score: 6 }]);
  t.is(facts.bmi, undefined);
  t.deepEqual(ignored, [
    {
      resource: 'Observation/absurd-pain-42',
      reason: 'pain score 42 is outside the plausible range 0–10',
    },
    {
      resource: 'Observation/absurd-pain-preliminary',
      reason: 'pain score with status "preliminary", not a final result',
    },
    {
      resource: 'Observation/absurd-pain-undated',
      reason: 'pain score has no effective date precise to the day',
    },
    {
      resource: 'Observation/absurd-bmi-400',
      reason: 'BMI 400 kg/m² is outside the plausible range 10–100 kg/m²',
    },
    { resource: 'Observation/absurd-weight-no-unit', reason: 'body weight has no unit' },
    {
      resource: 'Observation/absurd-weight-stone',
      reason: 'body weight has unit "st", not one of kg, g, [lb_av]',
    },
    {
      resource: 'Observation/absurd-height-0',
      reason: 'body height 0 m is outside the plausible range 1–2.5 m',
    },
  ]);
  t.false(sources.some((s) => /pain-42|bmi-400|no-unit|stone|height-0/.test(s)));
  t.notThrows(() => checkFacts(facts));
});

test('a computed BMI outside the limits is ignored, naming weight and height', (t) => {
  const { facts, ignored } = lone(
    observation('w', 'p', '29463-7', { valueQuantity: quantity(300, 'kg') }, '2024-04-01'),
    observation('h', 'p', '8302-2', { valueQuantity: quantity(1.0, 'm') }, '2024-04-01'),
  );

  t.is(facts.bmi, undefined);
  t.deepEqual(ignored, [
    {
      resource: 'Observation/w',
      reason:
        'BMI from body weight 300 kg and height 1 m (Observation/h) is 300 kg/m², outside 10–100 kg/m²',
    },
  ]);
});

test('weight and height newer than the recorded BMI win', (t) => {
  const { facts } = lone(
    observation('b', 'p', '39156-5', { valueQuantity: quantity(35, 'kg/m2') }, '2023-06-01'),
    observation('w', 'p', '29463-7', { valueQuantity: quantity(70, 'kg') }, '2024-04-01'),
    observation('h', 'p', '8302-2', { valueQuantity: quantity(175, 'cm') }, '2010-01-01'),
  );
  t.is(facts.bmi, 22.9);
});

test('a BMI older than the look-back is not used, and the reason is recorded', (t) => {
  const { facts, ignored } = lone(
    observation('b', 'p', '39156-5', { valueQuantity: quantity(30, 'kg/m2') }, '2021-01-01'),
  );
  t.is(facts.bmi, undefined);
  t.deepEqual(ignored, [
    {
      resource: 'Observation/b',
      reason: 'the latest BMI is from 2021-01-01, more than 24 months before 2024-05-10',
    },
  ]);
});

test('observations dated after the day of the advice are not used', (t) => {
  const { facts, ignored } = lone(
    observation('late', 'p', '72514-3', { valueInteger: 2 }, '2024-06-01'),
  );
  t.is(facts.painScores, undefined);
  t.regex(ignored[0]?.reason ?? '', /dated 2024-06-01, after 2024-05-10/);
});

test('a pain score with a length unit (a VAS in mm) is not read as 0–10', (t) => {
  const { facts, ignored } = lone(
    observation('vas', 'p', '38208-5', { valueQuantity: quantity(6, 'mm') }, '2024-04-01'),
  );
  t.is(facts.painScores, undefined);
  t.is(ignored[0]?.reason, 'pain score has unit "mm", which is not a score');
});

test('sex and age: an unknown gender code is left out, a birth date after the study refused', (t) => {
  const unborn = read([patient('p', { birthDate: '2030-01-01', gender: 'unknown' })]);
  t.is(unborn.facts.age, undefined);
  t.is(unborn.facts.sex, 'unknown');
  t.deepEqual(unborn.ignored, [
    { resource: 'Patient/p', reason: 'birthDate is after the study date 2024-05-10' },
  ]);

  const odd = read([{ ...patient('p', { birthDate: '1960' }), gender: 'x' as never }]);
  t.is(odd.facts.sex, undefined);
  t.is(odd.facts.age, 63);
});

test('conditions: refuted, entered in error and future onset do not count; no status counts', (t) => {
  const diabetes = concept(SCT, '73211009');
  const { facts, ignored } = lone(
    condition('refuted', 'p', diabetes, { verificationStatus: 'refuted' }),
    condition('error', 'p', concept(SCT, '35489007'), { verificationStatus: 'entered-in-error' }),
    condition('future', 'p', concept(ICD10, 'I25.1'), { onset: '2025-01-01' }),
    condition('unsaid', 'p', concept(SCT, '248279007'), { clinicalStatus: 'none' }),
    condition('ckd-resolved', 'p', concept(SCT, '709044004'), { clinicalStatus: 'resolved' }),
  );

  t.deepEqual(facts.conditions, ['frailty']);
  t.deepEqual(
    ignored.map((i) => i.resource),
    ['Condition/refuted', 'Condition/error', 'Condition/future'],
  );
});

test('no conditions read: the list is absent, not empty; read and none relevant: empty', (t) => {
  const unread = buildCareFacts({ patient: patient('p') }, codes, { studyDate: STUDY_DATE });
  t.is(unread.facts.conditions, undefined);
  t.is(unread.facts.treatments, undefined);

  t.deepEqual(lone(condition('c', 'p', concept(SCT, '38341003'))).facts.conditions, []);
});

test('treatments are absent unless statements, requests and procedures were all read', (t) => {
  const partial: PatientRecord = { ...record(fullPatient()) };
  delete partial.medicationStatements;

  const facts = buildCareFacts(partial, codes, { studyDate: STUDY_DATE }).facts;
  t.is(facts.treatments, undefined);
  t.deepEqual(facts.conditions, ['diabetes', 'chronic-kidney-disease', 'gi-bleed-or-ulcer']);
});

test('an NSAID ingredient without a route is not guessed', (t) => {
  const { facts, ignored } = lone(
    medicationStatement('ms', 'p', concept(RXNORM, '3355', 'diclofenac'), { start: '2024-01-01' }),
  );
  t.deepEqual(facts.treatments, []);
  t.deepEqual(ignored, [
    {
      resource: 'MedicationStatement/ms',
      reason:
        'the medicine is coded by ingredient and has no known route, so whether it is oral-nsaid or topical-nsaid cannot be told',
    },
  ]);
});

test('the route decides for ingredients: topical gel, oral tablet, joint injection', (t) => {
  const { facts } = lone(
    medicationStatement('gel', 'p', concept(RXNORM, '3355'), { route: ROUTE.topical }),
    medicationRequest('tab', 'p', concept(RXNORM, '7258'), { route: ROUTE.oral }),
    medicationStatement('inj', 'p', concept(ATC, 'H02AB08'), {
      status: 'completed',
      start: '2024-02-01',
      route: ROUTE.intraArticular,
    }),
    medicationStatement('pred', 'p', concept(ATC, 'H02AB06'), { route: ROUTE.oral }),
  );
  t.deepEqual(facts.treatments?.map((r) => r.treatment).sort(), [
    'intra-articular-steroid',
    'oral-nsaid',
    'topical-nsaid',
  ]);
});

test('a combination product counts as each of its treatments', (t) => {
  const { facts } = lone(medicationStatement('cocodamol', 'p', concept(ATC, 'N02AJ06')));
  t.deepEqual(facts.treatments?.map((r) => r.treatment).sort(), ['opioid', 'paracetamol']);
});

test('medicines and procedures that are not listed are left out without a reason', (t) => {
  const { facts, ignored } = lone(
    medicationStatement('metformin', 'p', concept(ATC, 'A10BA02'), { status: 'intended' }),
    procedure('appendix', 'p', concept(SCT, '80146002'), { status: 'not-done' }),
  );
  t.deepEqual(facts.treatments, []);
  t.deepEqual(ignored, []);
});

test('a medication reference that could not be read is ignored with the reason', (t) => {
  const { facts, ignored } = lone(medicationStatement('ms', 'p', 'Medication/gone'));
  t.deepEqual(facts.treatments, []);
  t.is(ignored[0]?.reason, 'its Medication could not be read or has no code');
});

test('a contained Medication is read', (t) => {
  const statement: MedicationStatement = {
    ...medicationStatement('ms', 'p', '#med'),
    contained: [{ ...medication('med', concept(ATC, 'N02BE01')), id: 'med' }],
  };
  t.deepEqual(lone(statement).facts.treatments, [{ treatment: 'paracetamol', current: true }]);
});

test('procedures: not done is ignored; in progress is current; partial dates are dropped', (t) => {
  const physio = concept(SCT, '229065009');
  const { facts, ignored } = lone(
    procedure('planned', 'p', physio, { status: 'not-done' }),
    procedure('ongoing', 'p', physio, { status: 'in-progress', start: '2024-03-01' }),
    procedure('tkr', 'p', concept(SCT, '609588000'), { start: '2019' }),
  );
  t.deepEqual(facts.treatments, [
    { treatment: 'knee-replacement', current: false },
    { treatment: 'physiotherapy-or-exercise', start: '2024-03-01', current: true },
  ]);
  t.deepEqual(ignored, [
    { resource: 'Procedure/planned', reason: 'status "not-done": not a procedure that was done' },
  ]);
});

test('course dates: an end before the start is refused; an end after asOf is still going', (t) => {
  const { facts, ignored } = lone(
    medicationStatement('backwards', 'p', concept(ATC, 'N02BE01'), {
      start: '2024-03-01',
      end: '2024-02-01',
    }),
    medicationStatement('running', 'p', concept(ATC, 'M02AA15'), {
      status: 'completed',
      start: '2024-04-01',
      end: '2024-06-01',
    }),
    medicationStatement('ended', 'p', concept(ATC, 'M01AE01'), {
      status: 'active',
      start: '2024-01-01',
      end: '2024-02-01',
    }),
  );
  t.deepEqual(facts.treatments, [
    { treatment: 'oral-nsaid', start: '2024-01-01', end: '2024-02-01', current: false },
    { treatment: 'topical-nsaid', start: '2024-04-01', current: true },
  ]);
  t.deepEqual(ignored, [
    {
      resource: 'MedicationStatement/backwards',
      reason: 'the period ends (2024-02-01) before it starts (2024-03-01)',
    },
  ]);
});

test('the knee facts and asOf are passed through', (t) => {
  const { facts } = buildCareFacts(record([patient('p')]), codes, {
    studyDate: '2024-01-01',
    asOf: '2024-02-01',
    knee: { laterality: 'L', klGrade: 3 },
  });
  t.is(facts.asOf, '2024-02-01');
  t.deepEqual(facts.knee, { laterality: 'L', klGrade: 3 });
});
