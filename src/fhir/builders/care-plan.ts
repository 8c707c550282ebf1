/**
 * The care proposal of one knee (src/care/engine.ts `recommend`) as a FHIR R4 CarePlan with
 * status `draft` and intent `proposal`, and the ServiceRequest and MedicationRequest
 * proposals its activities point to (standards.md, FHIR R4 outputs).
 *
 * Modelling, one activity per recommendation, in the engine's order:
 * - recommend / consider / refer with a proposal resource (care-activities.ts): the activity
 *   references a ServiceRequest or MedicationRequest with status `draft`, intent `proposal`,
 *   `note` the clinician explanation, and the patient explanation in the element made for it
 *   (ServiceRequest.patientInstruction, MedicationRequest Dosage.patientInstruction). R4
 *   constraint cpl-3 allows an activity a `reference` or a `detail`, not both, so the
 *   request carries what the detail would.
 * - avoid: an activity `detail` with `doNotPerform` true, the medicine as `product`, status
 *   `not-started`, the clinician explanation as `description`. No request resource: a
 *   "do not give" proposal would show up among orders as if something were to be given.
 * - flag: an activity `detail` of kind Task (a review for the clinician), and the flag is
 *   repeated in `CarePlan.note`, since it is a warning about the plan as a whole.
 * - anything else without a proposal resource (R12, rules not in the table): a `detail`.
 * Every activity names its rule by `instantiatesUri` (`urn:jointspace:care-rules:<version>:<id>`
 * on the detail or the request) and carries the patient explanation in the extension
 * `PATIENT_EXPLANATION_URL`, a plain string. An extension rather than `note`: notes belong to
 * the whole plan and cannot say which activity they explain, and the plan-level notes are
 * kept for what concerns the whole plan (flags, rules held back, missing data). Systems that
 * ignore the extension still find the patient wording on the request resources.
 *
 * A proposal resource is keyed by (study, knee, model, rule) (`careRequestKey`), so when a
 * rewrite no longer proposes a rule (the patient's record changed), the earlier draft request
 * is not part of the new bundle; the writer (src/pipeline/care-plan.ts) then sets it to
 * `revoked`.
 */
import type {
  Annotation,
  CarePlan,
  CarePlanActivity,
  CarePlanActivityDetail,
  CodeableConcept,
  Device,
  DiagnosticReport,
  Extension,
  MedicationRequest,
  Observation,
  Patient,
  Provenance,
  Reference,
  ServiceRequest,
} from '@medplum/fhirtypes';
import type { CarePlanProposal, Recommendation } from '../../care/engine.js';
import { JointspaceError } from '../../errors.js';
import { klGradeText } from '../../sr/codes.js';
import { careActivitySpec, type CareActivitySpec } from './care-activities.js';
import { careRulesDevice } from './device.js';
import { checkPatient, fhirInstant, type KneeLaterality } from './inputs.js';
import { KEY_SYSTEMS, built, derivedKey, referenceTo, type BuiltResource } from './keys.js';
import { KNEE_NAMES } from './observations.js';
import { provenance } from './provenance.js';

/** Extension on CarePlan.activity: the recommendation explained to the patient (valueString). */
export const PATIENT_EXPLANATION_URL =
  'urn:jointspace:fhir:StructureDefinition:patient-explanation';

const CARE_RULES_URI = 'urn:jointspace:care-rules';

export type CareRequest = ServiceRequest | MedicationRequest;

/** The imaging results a care plan rests on. */
export interface CareBasis {
  studyInstanceUid: string;
  /** `name@version` of the grading model. */
  modelId: string;
  laterality: KneeLaterality;
  klGrade: number;
  report: BuiltResource<DiagnosticReport>;
  klObservation: BuiltResource<Observation>;
}

export interface CareInput {
  proposal: CarePlanProposal;
  patient: Reference<Patient>;
  /** When the plan is written (CarePlan.created, request authoredOn, Provenance.recorded). */
  recorded: Date;
}

export interface CareResources {
  /** The rules table that proposed the plan. */
  device: BuiltResource<Device>;
  carePlan: BuiltResource<CarePlan>;
  /** In the order of the activities that reference them. */
  requests: BuiltResource<CareRequest>[];
  provenance: BuiltResource<Provenance>;
}

interface PlanContext {
  basis: CareBasis;
  proposal: CarePlanProposal;
  patient: Reference<Patient>;
  recorded: string;
  rules: BuiltResource<Device>;
}

function invalid(message: string): JointspaceError {
  return new JointspaceError('invalid-argument', message);
}

/** Refuses a proposal made for another knee or grade than the results it would rest on. */
function checkCareInput(input: CareInput, basis: CareBasis): void {
  const { proposal } = input;
  checkPatient(input.patient, 'patient');
  if (input.patient.reference === undefined) throw invalid('patient.reference is required');
  if (proposal.laterality !== undefined && proposal.laterality !== basis.laterality) {
    throw invalid(
      `proposal.laterality must be "${basis.laterality}", the knee graded (got "${proposal.laterality}")`,
    );
  }
  if (proposal.klGrade !== undefined && proposal.klGrade !== basis.klGrade) {
    throw invalid(
      `proposal.klGrade must be ${basis.klGrade}, the grade written (got ${proposal.klGrade})`,
    );
  }
  if (proposal.rulesVersion.trim() === '') throw invalid('proposal.rulesVersion must not be empty');
  fhirInstant(input.recorded, 'recorded');
}

function ruleUri(proposal: CarePlanProposal, rec?: Recommendation): string {
  const base = `${CARE_RULES_URI}:${proposal.rulesVersion}`;
  return rec === undefined ? base : `${base}:${rec.id}`;
}

function reasonCode(rec: Recommendation): CodeableConcept[] {
  const facts = rec.triggeredBy.map((f) => f.text).join(', ');
  return facts === '' ? [] : [{ text: `${rec.id} triggered by: ${facts}` }];
}

/**
 * The identifier of the proposal request of one rule for one knee of a study graded by one
 * model: the same inputs always give the same key, so a writer can tell which drafts on the
 * server are its own earlier proposals for that knee.
 */
export function careRequestKey(
  studyInstanceUid: string,
  laterality: KneeLaterality,
  modelId: string,
  ruleId: string,
) {
  return derivedKey(KEY_SYSTEMS.careRequest, studyInstanceUid, laterality, modelId, ruleId);
}

function requestKey(ctx: PlanContext, rec: Recommendation) {
  const { basis } = ctx;
  return careRequestKey(basis.studyInstanceUid, basis.laterality, basis.modelId, rec.id);
}

function requestCommon(ctx: PlanContext, rec: Recommendation) {
  const reasons = reasonCode(rec);
  return {
    instantiatesUri: [ruleUri(ctx.proposal, rec)],
    status: 'draft' as const,
    intent: 'proposal' as const,
    subject: ctx.patient,
    authoredOn: ctx.recorded,
    requester: referenceTo(ctx.rules),
    ...(reasons.length === 0 ? {} : { reasonCode: reasons }),
    note: [{ text: rec.clinicianExplanation }],
  };
}

function serviceRequest(ctx: PlanContext, rec: Recommendation, spec: CareActivitySpec) {
  const key = requestKey(ctx, rec);
  const resource: ServiceRequest = {
    resourceType: 'ServiceRequest',
    identifier: [key],
    ...requestCommon(ctx, rec),
    code: { text: spec.text },
    reasonReference: [referenceTo(ctx.basis.klObservation)],
    supportingInfo: [referenceTo(ctx.basis.report)],
    patientInstruction: rec.patientExplanation,
  };
  return built(resource, key);
}

function medicationRequest(ctx: PlanContext, rec: Recommendation, spec: CareActivitySpec) {
  const key = requestKey(ctx, rec);
  const resource: MedicationRequest = {
    resourceType: 'MedicationRequest',
    identifier: [key],
    ...requestCommon(ctx, rec),
    medicationCodeableConcept: { text: spec.text },
    reasonReference: [referenceTo(ctx.basis.klObservation)],
    supportingInformation: [referenceTo(ctx.basis.report)],
    dosageInstruction: [{ patientInstruction: rec.patientExplanation }],
  };
  return built(resource, key);
}

function detail(
  ctx: PlanContext,
  rec: Recommendation,
  spec: CareActivitySpec,
): CarePlanActivityDetail {
  const reasons = reasonCode(rec);
  const avoid = rec.kind === 'avoid';
  return {
    ...(spec.detailKind === undefined ? {} : { kind: spec.detailKind }),
    instantiatesUri: [ruleUri(ctx.proposal, rec)],
    code: { text: avoid ? `Avoid: ${spec.text}` : rec.title },
    ...(reasons.length === 0 ? {} : { reasonCode: reasons }),
    reasonReference: [referenceTo(ctx.basis.klObservation)],
    status: 'not-started',
    ...(avoid ? { doNotPerform: true, productCodeableConcept: { text: spec.text } } : {}),
    description: rec.clinicianExplanation,
  };
}

function activity(ctx: PlanContext, rec: Recommendation) {
  const spec = careActivitySpec(rec);
  const extension: Extension[] = [
    { url: PATIENT_EXPLANATION_URL, valueString: rec.patientExplanation },
  ];
  if (spec.request === undefined) {
    return { activity: { extension, detail: detail(ctx, rec, spec) } satisfies CarePlanActivity };
  }
  const request: BuiltResource<CareRequest> =
    spec.request === 'ServiceRequest'
      ? serviceRequest(ctx, rec, spec)
      : medicationRequest(ctx, rec, spec);
  const reference = referenceTo(request, rec.title);
  return { activity: { extension, reference } satisfies CarePlanActivity, request };
}

/** Plan-level notes: flags, rules held back by a contraindication, data that was missing. */
function planNotes(proposal: CarePlanProposal): Annotation[] {
  const flags = proposal.recommendations
    .filter((r) => r.kind === 'flag')
    .map((r) => `Flag for review (${r.id}): ${r.title}. ${r.clinicianExplanation}`);
  const held = proposal.suppressed.map(
    (s) => `Held back (${s.id}): ${s.title}, because ${s.by.join(', ')} applies.`,
  );
  const missing = proposal.missing.map((m) => `Missing data: ${m.message}.`);
  return [...flags, ...held, ...missing].map((text) => ({ text }));
}

function describePlan(ctx: PlanContext): { title: string; description: string } {
  const { basis, proposal } = ctx;
  const knee = KNEE_NAMES[basis.laterality];
  return {
    title: `Knee osteoarthritis care proposal, ${knee}, ${klGradeText(basis.klGrade)}`,
    description: [
      `Guideline-based proposal (OARSI 2019, ACR/AF 2019, NICE NG226 2022) for the ${knee},`,
      `from the AI ${klGradeText(basis.klGrade)} (not verified) and the patient's record as of ${proposal.asOf}.`,
      `Care rules ${proposal.rulesVersion} (${proposal.rulesStatus}).`,
      'Decision support for a clinician to review: nothing here is an order.',
    ].join(' '),
  };
}

/** The CarePlan of one knee, its proposal resources and their Provenance. */
export function buildCarePlan(input: CareInput, basis: CareBasis): CareResources {
  checkCareInput(input, basis);
  const { proposal } = input;
  const rules = careRulesDevice(proposal.rulesVersion, proposal.rulesStatus);
  const ctx: PlanContext = {
    basis,
    proposal,
    patient: input.patient,
    recorded: fhirInstant(input.recorded, 'recorded'),
    rules,
  };

  const activities = proposal.recommendations.map((rec) => activity(ctx, rec));
  const requests = activities.flatMap((a) => (a.request === undefined ? [] : [a.request]));
  const notes = planNotes(proposal);
  const key = derivedKey(
    KEY_SYSTEMS.carePlan,
    basis.studyInstanceUid,
    basis.laterality,
    basis.modelId,
  );
  const resource: CarePlan = {
    resourceType: 'CarePlan',
    identifier: [key],
    instantiatesUri: [ruleUri(proposal)],
    status: 'draft',
    intent: 'proposal',
    ...describePlan(ctx),
    subject: input.patient,
    created: ctx.recorded,
    author: referenceTo(rules),
    supportingInfo: [referenceTo(basis.report), referenceTo(basis.klObservation)],
    activity: activities.map((a) => a.activity),
    ...(notes.length === 0 ? {} : { note: notes }),
  };
  const carePlan = built(resource, key);

  return {
    device: rules,
    carePlan,
    requests,
    provenance: provenance({
      keyParts: [basis.studyInstanceUid, 'care', basis.laterality, basis.modelId],
      targets: [carePlan, ...requests],
      agent: rules,
      entities: [
        { role: 'source', what: referenceTo(basis.report) },
        { role: 'source', what: referenceTo(basis.klObservation) },
      ],
      recorded: ctx.recorded,
    }),
  };
}
