/**
 * Inputs of the FHIR builder tests: an obviously fake study, patient and model, and a care
 * proposal from the real rules for an obese patient with cardiovascular disease and a KL 3
 * right knee.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { recommend, type CarePlanProposal } from '../../src/care/engine.js';
import type { CareFacts } from '../../src/care/facts.js';
import { careRules } from '../../src/care/rules.js';
import type { ImagingInput, KneeResultInput } from '../../src/fhir/resources.js';

export const STUDY_UID = '1.2.826.0.1.3680043.8.498.10001';
export const SR_UID = '1.2.826.0.1.3680043.8.498.10002';

export const RIGHT_KNEE: KneeResultInput = {
  laterality: 'R',
  klGrade: 3,
  probabilities: [0.02, 0.05, 0.15, 0.7, 0.08],
  confidence: 0.7,
  srSopInstanceUid: SR_UID,
  sourceSopInstanceUids: ['1.2.826.0.1.3680043.8.498.10003'],
  jsw: { medialMinMm: 2.1, lateralMinMm: 4.4 },
};

export const LEFT_KNEE: KneeResultInput = {
  laterality: 'L',
  klGrade: 1,
  probabilities: [0.3, 0.5, 0.15, 0.04, 0.01],
  confidence: 0.5,
  srSopInstanceUid: SR_UID,
  sourceSopInstanceUids: ['1.2.826.0.1.3680043.8.498.10003'],
};

export function imagingInput(extra: Partial<ImagingInput> = {}): ImagingInput {
  return {
    study: { studyInstanceUid: STUDY_UID, studyDate: '20250601', accessionNumber: 'TEST-ACC-1' },
    patient: { reference: 'Patient/test-patient-1', display: 'Test Patient One' },
    knees: [RIGHT_KNEE, LEFT_KNEE],
    algorithm: { name: 'knee-kl-test', version: '1.2.0', sha256: 'ab'.repeat(32) },
    recorded: new Date('2025-06-02T10:00:00Z'),
    ...extra,
  };
}

/** Obese (BMI 34), cardiovascular disease, KL 3, severe persistent pain after gel and exercise. */
export const OBESE_KL3_CVD: CareFacts = {
  asOf: '2025-06-01',
  age: 67,
  sex: 'female',
  bmi: 34,
  painScores: [
    { date: '2025-01-10', score: 6 },
    { date: '2025-05-20', score: 7 },
  ],
  conditions: ['cardiovascular-disease'],
  treatments: [
    { treatment: 'topical-nsaid', start: '2024-09-01', end: '2024-12-01' },
    { treatment: 'physiotherapy-or-exercise', start: '2024-01-01', end: '2024-06-01' },
  ],
  askedAbout: ['opioid'],
  mobilityProblems: false,
  knee: { laterality: 'R', klGrade: 3 },
};

export function proposalFor(facts: CareFacts = OBESE_KL3_CVD): CarePlanProposal {
  return recommend(facts, careRules());
}

/** The resources of a transaction bundle, by type. */
export function resourcesOf<T extends Resource['resourceType']>(
  bundle: Bundle,
  type: T,
): Extract<Resource, { resourceType: T }>[] {
  return (bundle.entry ?? []).flatMap((e) =>
    e.resource?.resourceType === type ? [e.resource as Extract<Resource, { resourceType: T }>] : [],
  );
}
