/**
 * A patient's FHIR record turned into the `CareFacts` the care engine reads (src/care/facts.ts):
 * pure, so every rule of reading is tested without a server (patient-context.ts fetches).
 *
 * Only clean values reach the facts. A value that is absurd (pain 42/10, BMI 400), malformed
 * (no unit, an unknown unit, no date) or not final is left out and listed in `ignored` with
 * its resource and the reason; `sources` lists the resources whose values were used. Facts
 * that could not be read stay missing, and missing is never "no": `conditions` and
 * `treatments` are absent when their part of the record could not be read.
 *
 * Inputs (standards.md, FHIR R4): Patient.birthDate and gender; Observation pain 0–10
 * (LOINC 72514-3, 38208-5), BMI (39156-5), body weight (29463-7), body height (8302-2), KOOS JR
 * and KOOS subscales; Condition; MedicationStatement, MedicationRequest, Procedure.
 */
import type {
  Condition,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Patient,
  Procedure,
  Resource,
} from '@medplum/fhirtypes';
import {
  SEXES,
  type CareFacts,
  type ConditionCode,
  type KneeFacts,
  type KoosScores,
  type PainScore,
  type TreatmentRecord,
} from '../care/facts.js';
import type { FhirCodes, ObservationKind, Range } from './codes.js';
import { ageAt, fhirDay, monthsBetween } from './dates.js';
import {
  classifyProcedure,
  classifyRequest,
  classifyStatement,
  type Classified,
  type Medications,
} from './treatments.js';
import { convertQuantity, readScore, type Reading } from './units.js';

/** The parts of a patient's record; a part that could not be read is absent. */
export interface PatientRecord {
  patient: Patient;
  observations?: Observation[];
  conditions?: Condition[];
  medicationStatements?: MedicationStatement[];
  medicationRequests?: MedicationRequest[];
  procedures?: Procedure[];
  /** Medications referenced by statements and requests, by `Medication/<id>`. */
  medications?: Medications;
}

export interface IgnoredValue {
  /** `Observation/123`. */
  resource: string;
  reason: string;
}

export interface PatientFacts {
  facts: CareFacts;
  ignored: IgnoredValue[];
  /** References of the resources whose values are in the facts, each once. */
  sources: string[];
}

export interface FactsOptions {
  /** The study date (YYYY-MM-DD): the patient's age is counted to it. */
  studyDate: string;
  /** The day the advice is for (YYYY-MM-DD); the study date when absent. */
  asOf?: string;
  /** What the study found for the knee. */
  knee?: KneeFacts;
}

const FINAL_OBSERVATION = new Set(['final', 'amended', 'corrected']);
const ACTIVE_CONDITION = new Set(['active', 'recurrence', 'relapse']);
const RESOLVED_CONDITION = new Set(['inactive', 'remission', 'resolved']);
const VOID_VERIFICATION = new Set(['refuted', 'entered-in-error']);
const CLINICAL_STATUS = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const VERIFICATION_STATUS = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';

/** A value read from one Observation, with its day. */
interface Dated {
  value: number;
  day: string;
  resource: string;
}

/** Collects what is used and what is ignored while the record is read. */
class Ledger {
  readonly ignored: IgnoredValue[] = [];
  readonly sources = new Set<string>();

  ignore(resource: Resource, reason: string): void {
    this.ignored.push({ resource: referenceOf(resource), reason });
  }

  use(resource: Resource | string): void {
    this.sources.add(typeof resource === 'string' ? resource : referenceOf(resource));
  }
}

export function buildCareFacts(
  record: PatientRecord,
  codes: FhirCodes,
  options: FactsOptions,
): PatientFacts {
  const asOf = options.asOf ?? options.studyDate;
  const ledger = new Ledger();
  const facts: CareFacts = { asOf, knee: options.knee ?? {} };

  readDemographics(record.patient, options.studyDate, facts, ledger);
  if (record.observations !== undefined) {
    readObservations(record.observations, codes, asOf, facts, ledger);
  }
  if (record.conditions !== undefined) {
    facts.conditions = readConditions(record.conditions, codes, asOf, ledger);
  }
  const treatments = readTreatments(record, codes, asOf, ledger);
  if (treatments !== undefined) facts.treatments = treatments;

  return { facts, ignored: ledger.ignored, sources: [...ledger.sources] };
}

function readDemographics(patient: Patient, studyDate: string, facts: CareFacts, ledger: Ledger) {
  const sex = SEXES.find((s) => s === patient.gender);
  if (sex !== undefined) {
    facts.sex = sex;
    ledger.use(patient);
  }

  if (patient.birthDate === undefined) return;
  const age = ageAt(patient.birthDate, studyDate);
  if (age === undefined) {
    ledger.ignore(patient, 'birthDate is not a valid FHIR date');
  } else if (age < 0) {
    ledger.ignore(patient, `birthDate is after the study date ${studyDate}`);
  } else if (age > 130) {
    ledger.ignore(patient, `birthDate gives an age of ${age} years at the study date`);
  } else {
    facts.age = age;
    ledger.use(patient);
  }
}

function readObservations(
  observations: Observation[],
  codes: FhirCodes,
  asOf: string,
  facts: CareFacts,
  ledger: Ledger,
): void {
  const readings = new Map<ObservationKind, Dated[]>();
  for (const observation of observations) {
    const kind = observationKind(observation, codes);
    if (kind === undefined) continue;
    const dated = readObservation(observation, kind, codes, asOf);
    if ('reason' in dated) {
      ledger.ignore(observation, dated.reason);
      continue;
    }
    readings.set(kind, [...(readings.get(kind) ?? []), dated]);
  }

  const pain = (readings.get('pain') ?? []).sort((a, b) => a.day.localeCompare(b.day));
  if (pain.length > 0) {
    facts.painScores = pain.map((p): PainScore => ({ date: p.day, score: p.value }));
    pain.forEach((p) => ledger.use(p.resource));
  }

  const koos = readKoos(readings, codes, asOf, ledger);
  if (Object.keys(koos).length > 0) facts.koos = koos;

  const bmi = chooseBmi(readings, codes, asOf, ledger);
  if (bmi !== undefined) facts.bmi = bmi;
}

function observationKind(observation: Observation, codes: FhirCodes): ObservationKind | undefined {
  return (Object.keys(codes.observations) as ObservationKind[]).find((kind) =>
    codes.observations[kind].matches(observation.code),
  );
}

const WHAT: Record<ObservationKind, string> = {
  pain: 'pain score',
  bmi: 'BMI',
  bodyWeight: 'body weight',
  bodyHeight: 'body height',
  koosJr: 'KOOS JR score',
  koosPain: 'KOOS pain score',
  koosSymptoms: 'KOOS symptoms score',
  koosAdl: 'KOOS daily living score',
  koosSportRec: 'KOOS sport and recreation score',
  koosQol: 'KOOS quality of life score',
};

/** The observation's value in the facts' unit and its day, or why it cannot be used. */
function readObservation(
  observation: Observation,
  kind: ObservationKind,
  codes: FhirCodes,
  asOf: string,
): Dated | { reason: string } {
  const what = WHAT[kind];
  if (!FINAL_OBSERVATION.has(observation.status)) {
    return { reason: `${what} with status "${observation.status}", not a final result` };
  }
  const effective =
    observation.effectiveDateTime ??
    observation.effectivePeriod?.start ??
    observation.effectiveInstant;
  const day = fhirDay(effective);
  if (day === undefined) {
    return { reason: `${what} has no effective date precise to the day` };
  }
  if (day > asOf) {
    return { reason: `${what} is dated ${day}, after ${asOf}, the day the advice is for` };
  }
  if (observation.dataAbsentReason !== undefined) {
    return { reason: `${what} has no value (data absent)` };
  }

  const reading = measure(observation, kind, codes, what);
  if ('reason' in reading) return reading;
  return { value: reading.value, day, resource: referenceOf(observation) };
}

function measure(
  observation: Observation,
  kind: ObservationKind,
  codes: FhirCodes,
  what: string,
): Reading {
  const { units, limits } = codes;
  const quantity = observation.valueQuantity;
  switch (kind) {
    case 'pain':
      return inRange(score(observation, units.score, what), limits.pain, what, '');
    case 'bmi':
      return inRange(convertQuantity(quantity, units.bmi, what), limits.bmi, what, ' kg/m²');
    case 'bodyWeight': {
      const kg = convertQuantity(quantity, units.mass, what);
      return inRange(kg, limits.bodyWeightKg, what, ' kg');
    }
    case 'bodyHeight': {
      const metres = convertQuantity(quantity, units.length, what);
      return inRange(metres, limits.bodyHeightM, what, ' m');
    }
    case 'koosJr':
    case 'koosPain':
    case 'koosSymptoms':
    case 'koosAdl':
    case 'koosSportRec':
    case 'koosQol':
      return inRange(score(observation, units.score, what), limits.koos, what, '');
  }
}

/** A score given as an integer or as a unitless Quantity. */
function score(observation: Observation, allowed: ReadonlySet<string>, what: string): Reading {
  if (typeof observation.valueInteger === 'number') return { value: observation.valueInteger };
  return readScore(observation.valueQuantity, allowed, what);
}

function inRange(reading: Reading, range: Range, what: string, unit: string): Reading {
  if ('reason' in reading) return reading;
  if (reading.value >= range.min && reading.value <= range.max) return reading;
  return {
    reason: `${what} ${round(reading.value, 2)}${unit} is outside the plausible range ${range.min}–${range.max}${unit}`,
  };
}

/** The latest value on or before asOf, if it is recent enough; a stale latest is recorded. */
function latest(
  readings: Dated[] | undefined,
  lookbackMonths: number | undefined,
  asOf: string,
  what: string,
  ledger: Ledger,
): Dated | undefined {
  const last = [...(readings ?? [])].sort((a, b) => a.day.localeCompare(b.day)).at(-1);
  if (last === undefined || lookbackMonths === undefined) return last;
  if (monthsBetween(last.day, asOf) <= lookbackMonths) return last;
  ledger.ignored.push({
    resource: last.resource,
    reason: `the latest ${what} is from ${last.day}, more than ${lookbackMonths} months before ${asOf}`,
  });
  return undefined;
}

const KOOS_FIELDS: [ObservationKind, keyof KoosScores][] = [
  ['koosJr', 'koosJr'],
  ['koosPain', 'pain'],
  ['koosSymptoms', 'symptoms'],
  ['koosAdl', 'adl'],
  ['koosSportRec', 'sportRec'],
  ['koosQol', 'qol'],
];

function readKoos(
  readings: Map<ObservationKind, Dated[]>,
  codes: FhirCodes,
  asOf: string,
  ledger: Ledger,
): KoosScores {
  const koos: KoosScores = {};
  for (const [kind, field] of KOOS_FIELDS) {
    const found = latest(readings.get(kind), codes.lookbackMonths.koos, asOf, WHAT[kind], ledger);
    if (found === undefined) continue;
    koos[field] = round(found.value, 1);
    ledger.use(found.resource);
  }
  return koos;
}

/**
 * The BMI: the recorded one or the one computed from weight and height (kg / m²), whichever
 * rests on the later measurement (the recorded BMI on a tie). Height may be of any date.
 */
function chooseBmi(
  readings: Map<ObservationKind, Dated[]>,
  codes: FhirCodes,
  asOf: string,
  ledger: Ledger,
): number | undefined {
  const months = codes.lookbackMonths;
  const recorded = latest(readings.get('bmi'), months.bmi, asOf, 'BMI', ledger);
  const weight = latest(readings.get('bodyWeight'), months.bodyWeight, asOf, 'body weight', ledger);
  const height = latest(readings.get('bodyHeight'), undefined, asOf, 'body height', ledger);

  let computed: Dated | undefined;
  if (weight !== undefined && height !== undefined) {
    const value = weight.value / (height.value * height.value);
    const range = codes.limits.bmi;
    if (value >= range.min && value <= range.max) {
      computed = { value, day: weight.day, resource: weight.resource };
    } else {
      ledger.ignored.push({
        resource: weight.resource,
        reason: `BMI from body weight ${round(weight.value, 1)} kg and height ${round(height.value, 2)} m (${height.resource}) is ${round(value, 1)} kg/m², outside ${range.min}–${range.max} kg/m²`,
      });
    }
  }

  if (recorded !== undefined && (computed === undefined || recorded.day >= computed.day)) {
    ledger.use(recorded.resource);
    return round(recorded.value, 1);
  }
  if (computed === undefined || height === undefined) return undefined;
  ledger.use(computed.resource);
  ledger.use(height.resource);
  return round(computed.value, 1);
}

/**
 * The conditions that change treatment, each once. A Condition counts when active (or, for a
 * condition whose code set says so, also when resolved), not refuted or entered in error, and
 * with onset on or before asOf. A Condition without clinicalStatus counts as active: for a
 * contraindication, an unsaid status is not "resolved".
 */
function readConditions(
  conditions: Condition[],
  codes: FhirCodes,
  asOf: string,
  ledger: Ledger,
): ConditionCode[] {
  const found = new Set<ConditionCode>();
  for (const condition of conditions) {
    const matching = [...codes.conditions].filter(([, set]) => set.codes.matches(condition.code));
    if (matching.length === 0) continue;

    const verification = statusCode(condition.verificationStatus, VERIFICATION_STATUS);
    if (verification !== undefined && VOID_VERIFICATION.has(verification)) {
      ledger.ignore(condition, `verificationStatus "${verification}"`);
      continue;
    }
    const onset = fhirDay(condition.onsetDateTime ?? condition.onsetPeriod?.start);
    if (onset !== undefined && onset > asOf) {
      ledger.ignore(condition, `onset ${onset} is after ${asOf}, the day the advice is for`);
      continue;
    }

    const resolved = isResolved(condition, asOf);
    for (const [code, set] of matching) {
      if (resolved && !set.countResolved) continue;
      found.add(code);
      ledger.use(condition);
    }
  }
  return [...found];
}

function isResolved(condition: Condition, asOf: string): boolean {
  const clinical = statusCode(condition.clinicalStatus, CLINICAL_STATUS);
  if (clinical !== undefined && RESOLVED_CONDITION.has(clinical)) return true;
  if (clinical !== undefined && ACTIVE_CONDITION.has(clinical)) return false;
  const abated = fhirDay(condition.abatementDateTime ?? condition.abatementPeriod?.end);
  return abated !== undefined && abated <= asOf;
}

function statusCode(
  concept: { coding?: { system?: string; code?: string }[] } | undefined,
  system: string,
): string | undefined {
  return concept?.coding?.find((c) => c.system === system || c.system === undefined)?.code;
}

/** Every course tried; absent unless statements, requests and procedures were all read. */
function readTreatments(
  record: PatientRecord,
  codes: FhirCodes,
  asOf: string,
  ledger: Ledger,
): TreatmentRecord[] | undefined {
  const { medicationStatements, medicationRequests, procedures } = record;
  if (
    medicationStatements === undefined ||
    medicationRequests === undefined ||
    procedures === undefined
  ) {
    return undefined;
  }
  const medications = record.medications ?? new Map();
  const courses: TreatmentRecord[] = [];
  const take = (
    resource: MedicationStatement | MedicationRequest | Procedure,
    outcome: Classified,
  ) => {
    if ('use' in outcome) {
      courses.push(...outcome.use);
      ledger.use(resource);
      const medication =
        'medicationReference' in resource ? resource.medicationReference?.reference : undefined;
      if (medication?.startsWith('Medication/') === true) ledger.use(medication);
    } else if ('ignore' in outcome) {
      ledger.ignore(resource, outcome.ignore);
    }
  };

  for (const s of medicationStatements) take(s, classifyStatement(s, codes, medications, asOf));
  for (const r of medicationRequests) take(r, classifyRequest(r, codes, medications, asOf));
  for (const p of procedures) take(p, classifyProcedure(p, codes, asOf));
  return courses.sort((a, b) => (a.start ?? '').localeCompare(b.start ?? ''));
}

export function referenceOf(resource: Resource): string {
  return `${resource.resourceType}/${resource.id ?? '(no id)'}`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
