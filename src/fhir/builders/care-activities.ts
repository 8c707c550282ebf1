/**
 * How each care rule (mappings/care-rules.json) becomes a CarePlan activity: which proposal
 * resource it gets, if any, and what is proposed or avoided, in clinician words.
 *
 * The table is keyed by rule id because the rules file says what to advise, not which FHIR
 * request carries it. A rule added to the rules file and not listed here still becomes an
 * activity, by its kind (see `careActivitySpec`): it simply gets no proposal resource until
 * a row is added. Codes are text only: no ServiceRequest or medication code was checked
 * against a terminology, and an unchecked code is worse than none.
 */
import type { RuleKind } from '../../care/rules.js';

export type ProposalType = 'ServiceRequest' | 'MedicationRequest';

/** CarePlan.activity.detail.kind (R4 care-plan-activity-kind). */
export type DetailKind = 'ServiceRequest' | 'MedicationRequest' | 'Task';

export interface CareActivitySpec {
  /** The proposal resource built for the rule; never for kind "avoid" or "flag". */
  request?: ProposalType;
  /** detail.kind, for rules that get no proposal resource. */
  detailKind?: DetailKind;
  /** What is proposed (ServiceRequest.code, the medication) or avoided (detail.product). */
  text: string;
}

export const CARE_ACTIVITIES: ReadonlyMap<string, CareActivitySpec> = new Map<
  string,
  CareActivitySpec
>([
  [
    'R1',
    {
      request: 'ServiceRequest',
      text: 'Structured exercise programme (muscle strengthening and aerobic exercise) with education for self-management',
    },
  ],
  ['R2', { request: 'ServiceRequest', text: 'Weight management programme' }],
  [
    'R11',
    {
      request: 'ServiceRequest',
      text: 'Referral to physiotherapy or occupational therapy for a walking aid or knee brace',
    },
  ],
  [
    'R13',
    {
      request: 'ServiceRequest',
      text: 'Referral to orthopaedic surgery for assessment for knee replacement',
    },
  ],
  [
    'R3',
    {
      request: 'MedicationRequest',
      text: 'Topical NSAID (for example diclofenac or ibuprofen gel) on the painful knee',
    },
  ],
  [
    'R4',
    {
      request: 'MedicationRequest',
      text: 'Oral NSAID at the lowest effective dose for the shortest time, with a proton pump inhibitor',
    },
  ],
  [
    'R5',
    {
      request: 'MedicationRequest',
      text: 'COX-2 inhibitor, or a non-selective NSAID with a proton pump inhibitor, at the lowest effective dose for the shortest time',
    },
  ],
  [
    'R7',
    { request: 'MedicationRequest', text: 'Intra-articular corticosteroid injection of the knee' },
  ],
  ['R16', { request: 'MedicationRequest', text: 'Duloxetine' }],
  ['R6', { detailKind: 'MedicationRequest', text: 'Oral NSAIDs, COX-2 inhibitors included' }],
  ['R8', { detailKind: 'MedicationRequest', text: 'Intra-articular hyaluronic acid' }],
  ['R9', { detailKind: 'MedicationRequest', text: 'Opioids' }],
  ['R10', { detailKind: 'MedicationRequest', text: 'Paracetamol (regular use)' }],
  ['R12', { text: 'Assessment for other causes of knee pain' }],
  ['R14', { detailKind: 'Task', text: 'Review accelerated progression' }],
  ['R15', { detailKind: 'Task', text: 'Review joint-space loss' }],
]);

/**
 * The activity of a rule: its row in `CARE_ACTIVITIES`, or for an unlisted rule, an activity
 * without a proposal resource (a flag is a Task to review). A proposal resource is never
 * built for a rule whose kind is "avoid" or "flag", whatever the table says.
 */
export function careActivitySpec(rule: {
  id: string;
  kind: RuleKind;
  title: string;
}): CareActivitySpec {
  const listed = CARE_ACTIVITIES.get(rule.id);
  const spec: CareActivitySpec = listed ?? {
    ...(rule.kind === 'flag' ? { detailKind: 'Task' as const } : {}),
    text: rule.title,
  };
  if (rule.kind !== 'avoid' && rule.kind !== 'flag') return spec;
  return spec.detailKind === undefined
    ? { text: spec.text }
    : { detailKind: spec.detailKind, text: spec.text };
}
