import test from 'ava';
import type { MedicationRequest, ServiceRequest } from '@medplum/fhirtypes';
import { recommend } from '../../src/care/engine.js';
import { careRules } from '../../src/care/rules.js';
import { JointspaceError } from '../../src/errors.js';
import {
  CARE_ACTIVITIES,
  PATIENT_EXPLANATION_URL,
  buildCareResources,
  buildImagingResources,
  careActivitySpec,
  careEntries,
} from '../../src/fhir/resources.js';
import { validateFhirResource } from '../../src/fhir/validate.js';
import { OBESE_KL3_CVD, imagingInput, proposalFor } from './fixtures.js';

const PATIENT = { reference: 'Patient/test-patient-1' };
const RECORDED = new Date('2025-06-02T10:05:00Z');

function careFor(proposal = proposalFor()) {
  const imaging = buildImagingResources(imagingInput());
  return {
    imaging,
    proposal,
    care: buildCareResources({ proposal, patient: PATIENT, recorded: RECORDED }, imaging, 'R'),
  };
}

test('the proposal of the obese KL 3 patient with CVD is the one the tests expect', (t) => {
  const ids = proposalFor().recommendations.map((r) => r.id);
  t.deepEqual(ids, ['R1', 'R2', 'R6', 'R9', 'R3', 'R7', 'R13']);
  t.deepEqual(
    proposalFor().suppressed.map((s) => s.id),
    ['R4'],
  );
});

test('every care resource passes R4 validation', (t) => {
  const { care } = careFor();
  for (const entry of careEntries(care)) {
    t.notThrows(() => validateFhirResource(entry.resource), entry.resource.resourceType);
  }
});

test('the CarePlan is a draft proposal for the patient with an activity per recommendation', (t) => {
  const { care, proposal, imaging } = careFor();
  const plan = care.carePlan.resource;

  t.is(plan.status, 'draft');
  t.is(plan.intent, 'proposal');
  t.deepEqual(plan.subject, PATIENT);
  t.is(plan.activity?.length, proposal.recommendations.length);
  t.deepEqual(plan.instantiatesUri, [`urn:jointspace:care-rules:${proposal.rulesVersion}`]);
  t.regex(plan.title ?? '', /right knee, KL grade 3 \(moderate\)$/);
  t.regex(plan.description ?? '', /nothing here is an order/);
  t.is(plan.supportingInfo?.[0]?.reference, imaging.report.fullUrl);
  t.is(plan.author?.reference, care.device.fullUrl);
  t.is(plan.created, '2025-06-02T10:05:00.000Z');
});

test('each activity carries the patient explanation and names its rule', (t) => {
  const { care, proposal } = careFor();
  const activities = care.carePlan.resource.activity ?? [];
  proposal.recommendations.forEach((rec, i) => {
    const activity = activities[i];
    t.deepEqual(activity?.extension, [
      { url: PATIENT_EXPLANATION_URL, valueString: rec.patientExplanation },
    ]);
    const request = care.requests.find((r) => r.fullUrl === activity?.reference?.reference);
    const uri = activity?.detail?.instantiatesUri ?? request?.resource.instantiatesUri;
    t.deepEqual(uri, [`urn:jointspace:care-rules:${proposal.rulesVersion}:${rec.id}`]);
  });
});

test('avoid items are activities with doNotPerform and no request resource', (t) => {
  const { care, proposal } = careFor();
  const activities = care.carePlan.resource.activity ?? [];
  const avoid = proposal.recommendations.flatMap((r, i) => (r.kind === 'avoid' ? [i] : []));
  t.deepEqual(
    avoid.map((i) => proposal.recommendations[i]?.id),
    ['R6', 'R9'],
  );
  for (const i of avoid) {
    const detail = activities[i]?.detail;
    t.is(activities[i]?.reference, undefined);
    t.true(detail?.doNotPerform);
    t.is(detail?.kind, 'MedicationRequest');
    t.is(detail?.status, 'not-started');
    t.is(detail?.description, proposal.recommendations[i]?.clinicianExplanation);
  }
  t.is(
    activities[avoid[0] ?? -1]?.detail?.productCodeableConcept?.text,
    'Oral NSAIDs, COX-2 inhibitors included',
  );
});

test('referrals, exercise and weight advice are ServiceRequest proposals; medicines MedicationRequest', (t) => {
  const { care, proposal, imaging } = careFor();
  const byRule = new Map(
    care.requests.map((r) => [r.resource.instantiatesUri?.[0]?.split(':').at(-1), r.resource]),
  );
  t.deepEqual([...byRule.keys()], ['R1', 'R2', 'R3', 'R7', 'R13']);

  for (const id of ['R1', 'R2', 'R13']) t.is(byRule.get(id)?.resourceType, 'ServiceRequest', id);
  for (const id of ['R3', 'R7']) t.is(byRule.get(id)?.resourceType, 'MedicationRequest', id);
  for (const request of byRule.values()) {
    t.is(request.intent, 'proposal');
    t.is(request.status, 'draft');
    t.deepEqual(request.subject, PATIENT);
    t.is(request.requester?.reference, care.device.fullUrl);
    t.is(request.reasonReference?.[0]?.reference, imaging.knees[0]?.klObservation.fullUrl);
  }

  const weight = byRule.get('R2') as ServiceRequest;
  const r2 = proposal.recommendations.find((r) => r.id === 'R2');
  t.is(weight.patientInstruction, r2?.patientExplanation);
  t.is(weight.note?.[0]?.text, r2?.clinicianExplanation);
  t.regex(weight.reasonCode?.[0]?.text ?? '', /BMI 34 kg\/m²/);
  const gel = byRule.get('R3') as MedicationRequest;
  t.regex(gel.medicationCodeableConcept?.text ?? '', /Topical NSAID/);
  t.is(
    gel.dosageInstruction?.[0]?.patientInstruction,
    proposal.recommendations.find((r) => r.id === 'R3')?.patientExplanation,
  );
});

test('activities with a request reference it and nothing else (cpl-3)', (t) => {
  const { care } = careFor();
  const referenced = (care.carePlan.resource.activity ?? []).flatMap((a) =>
    a.reference === undefined ? [] : [a.reference.reference],
  );
  t.deepEqual(
    referenced,
    care.requests.map((r) => r.fullUrl),
  );
  for (const a of care.carePlan.resource.activity ?? []) {
    t.false(a.reference !== undefined && a.detail !== undefined);
  }
});

test('held-back rules, missing data and flags are plan notes', (t) => {
  const { care } = careFor();
  const notes = (care.carePlan.resource.note ?? []).map((n) => n.text);
  t.true(notes.some((n) => /^Held back \(R4\): .*because R6 applies/.test(n)));
  t.true(notes.some((n) => /^Missing data: .*R14/.test(n)));

  const progressing = proposalFor({
    ...OBESE_KL3_CVD,
    knee: {
      laterality: 'R',
      klGrade: 3,
      progression: { klChange: 2, klChangeYears: 2, medialJswLossMm: 1.1 },
    },
  });
  const flagged = careFor(progressing).care;
  const flagNotes = (flagged.carePlan.resource.note ?? []).filter((n) =>
    n.text.startsWith('Flag for review'),
  );
  t.deepEqual(
    flagNotes.map((n) => /\((R\d+)\)/.exec(n.text)?.[1]),
    ['R14', 'R15'],
  );
  const flagActivities = (flagged.carePlan.resource.activity ?? []).filter(
    (a) => a.detail?.kind === 'Task',
  );
  t.is(flagActivities.length, 2);
});

test('care identifiers are stable and differ from those of another knee or model', (t) => {
  const first = careEntries(careFor().care).map((e) => e.conditionalUrl);
  const second = careEntries(careFor().care).map((e) => e.conditionalUrl);
  t.deepEqual(second, first);

  const imaging = buildImagingResources(
    imagingInput({
      algorithm: { name: 'knee-kl-test', version: '1.3.0', sha256: 'cd'.repeat(32) },
    }),
  );
  const other = buildCareResources(
    { proposal: proposalFor(), patient: PATIENT, recorded: RECORDED },
    imaging,
    'R',
  );
  t.not(other.carePlan.conditionalUrl, careFor().care.carePlan.conditionalUrl);
  t.is(
    other.device.conditionalUrl,
    careFor().care.device.conditionalUrl,
    'same rules, same Device',
  );
});

test('a proposal for another knee or grade is refused', (t) => {
  const imaging = buildImagingResources(imagingInput());
  const left = recommend({ ...OBESE_KL3_CVD, knee: { laterality: 'L', klGrade: 3 } }, careRules());
  const wrongKnee = t.throws(
    () =>
      buildCareResources({ proposal: left, patient: PATIENT, recorded: RECORDED }, imaging, 'R'),
    { instanceOf: JointspaceError },
  );
  t.regex(wrongKnee.message, /^proposal\.laterality must be "R"/);

  const wrongGrade = t.throws(() =>
    buildCareResources({ proposal: left, patient: PATIENT, recorded: RECORDED }, imaging, 'L'),
  );
  t.regex(wrongGrade.message, /^proposal\.klGrade must be 1/);

  const noKnee = t.throws(() =>
    buildCareResources(
      { proposal: proposalFor(), patient: PATIENT, recorded: RECORDED },
      buildImagingResources(imagingInput({ knees: imagingInput().knees.slice(1) })),
      'R',
    ),
  );
  t.regex(noKnee.message, /^laterality must be a knee of the imaging results/);

  const noPatient = t.throws(() =>
    buildCareResources(
      { proposal: proposalFor(), patient: { display: 'x' }, recorded: RECORDED },
      imaging,
      'R',
    ),
  );
  t.regex(noPatient.message, /^patient\.reference/);
});

test('no proposal resource for avoid or flag rules, whatever the table says', (t) => {
  t.is(careActivitySpec({ id: 'R3', kind: 'avoid', title: 'x' }).request, undefined);
  t.deepEqual(careActivitySpec({ id: 'R99', kind: 'flag', title: 'New flag' }), {
    detailKind: 'Task',
    text: 'New flag',
  });
  t.deepEqual(careActivitySpec({ id: 'R99', kind: 'recommend', title: 'New advice' }), {
    text: 'New advice',
  });
});

test('the activity table covers every rule of the rules file', (t) => {
  for (const rule of careRules().rules) {
    const spec = CARE_ACTIVITIES.get(rule.id);
    t.truthy(spec, `${rule.id} has no row`);
    if (rule.kind === 'avoid' || rule.kind === 'flag') t.is(spec?.request, undefined, rule.id);
  }
});
