/**
 * Treatments already tried, from MedicationStatement, MedicationRequest and Procedure
 * (https://hl7.org/fhir/R4/medicationstatement.html, medicationrequest.html, procedure.html),
 * classified by the code sets of mappings/fhir-codes.json.
 *
 * A record counts when it says the treatment was taken or done: statements that were
 * `intended` or `not-taken`, requests that are proposals or plans (jointspace writes its own
 * advice as MedicationRequest proposals) or were cancelled, procedures `not-done`, and
 * anything entered in error do not. Partial dates (a year, a month) are dropped rather than
 * guessed, so a course's length is never overstated; the record still counts as tried.
 */
import type {
  CodeableConcept,
  Dosage,
  Medication,
  MedicationRequest,
  MedicationStatement,
  Period,
  Procedure,
} from '@medplum/fhirtypes';
import type { TreatmentCode, TreatmentRecord } from '../care/facts.js';
import type { FhirCodes, Route } from './codes.js';
import { fhirDay } from './dates.js';

/** What became of one resource: courses to use, or the reason it is not used. */
export type Classified = { use: TreatmentRecord[] } | { skip: true } | { ignore: string };

const TAKEN_STATEMENT = new Set(['active', 'completed', 'stopped', 'on-hold', 'unknown']);
const TAKEN_REQUEST = new Set(['active', 'completed', 'stopped', 'on-hold']);
const ORDER_INTENTS = new Set([
  'order',
  'original-order',
  'reflex-order',
  'filler-order',
  'instance-order',
]);
const DONE_PROCEDURE = new Set(['completed', 'in-progress', 'stopped']);

/** `Medication/<id>` to the Medication read for it. */
export type Medications = ReadonlyMap<string, Medication>;

export function classifyStatement(
  statement: MedicationStatement,
  codes: FhirCodes,
  medications: Medications,
  asOf: string,
): Classified {
  const concept = medicationConcept(statement, medications);
  if ('ignore' in concept) return concept;
  const treatments = medicationTreatments(codes, concept.concept, routeOf(codes, statement.dosage));
  if ('ignore' in treatments || treatments.codes.length === 0) {
    return 'ignore' in treatments ? treatments : { skip: true };
  }
  if (!TAKEN_STATEMENT.has(statement.status)) {
    return { ignore: `status "${statement.status}": not a medicine that was taken` };
  }

  const period = coursePeriod(statement.effectiveDateTime, statement.effectivePeriod);
  if ('ignore' in period) return period;
  const current =
    statement.status === 'active' ? true : statement.status === 'unknown' ? undefined : false;
  return records(treatments.codes, period, current, asOf);
}

export function classifyRequest(
  request: MedicationRequest,
  codes: FhirCodes,
  medications: Medications,
  asOf: string,
): Classified {
  const concept = medicationConcept(request, medications);
  if ('ignore' in concept) return concept;
  const route = routeOf(codes, request.dosageInstruction);
  const treatments = medicationTreatments(codes, concept.concept, route);
  if ('ignore' in treatments || treatments.codes.length === 0) {
    return 'ignore' in treatments ? treatments : { skip: true };
  }
  if (!ORDER_INTENTS.has(request.intent)) {
    return { ignore: `intent "${request.intent}": a proposal or plan, not a prescription` };
  }
  if (!TAKEN_REQUEST.has(request.status)) {
    return { ignore: `status "${request.status}": not a prescription that was issued` };
  }

  const period = coursePeriod(request.authoredOn, undefined);
  if ('ignore' in period) return period;
  return records(treatments.codes, period, request.status === 'active', asOf);
}

export function classifyProcedure(
  procedure: Procedure,
  codes: FhirCodes,
  asOf: string,
): Classified {
  const treatments = [...codes.procedures]
    .filter(([, set]) => set.matches(procedure.code))
    .map(([treatment]) => treatment);
  if (treatments.length === 0) return { skip: true };
  if (!DONE_PROCEDURE.has(procedure.status)) {
    return { ignore: `status "${procedure.status}": not a procedure that was done` };
  }

  const period = coursePeriod(procedure.performedDateTime, procedure.performedPeriod);
  if ('ignore' in period) return period;
  return records(treatments, period, procedure.status === 'in-progress', asOf);
}

interface CoursePeriod {
  start?: string;
  end?: string;
}

/** Start and end days; a single dateTime is the start. */
function coursePeriod(
  dateTime: string | undefined,
  period: Period | undefined,
): CoursePeriod | { ignore: string } {
  const start = fhirDay(dateTime ?? period?.start);
  const end = fhirDay(period?.end);
  if (start !== undefined && end !== undefined && end < start) {
    return { ignore: `the period ends (${end}) before it starts (${start})` };
  }
  return { ...(start === undefined ? {} : { start }), ...(end === undefined ? {} : { end }) };
}

function records(
  treatments: TreatmentCode[],
  period: CoursePeriod,
  current: boolean | undefined,
  asOf: string,
): Classified {
  if (period.start !== undefined && period.start > asOf) {
    return { ignore: `starts ${period.start}, after ${asOf}, the day the advice is for` };
  }
  // The dates decide over the status: a course ending after asOf was going on that day, one
  // that ended by then was not (whatever the status says now).
  const endsLater = period.end !== undefined && period.end > asOf;
  const end = endsLater ? undefined : period.end;
  const ongoing = endsLater ? true : end !== undefined ? false : current;
  return {
    use: [...new Set(treatments)].map((treatment) => ({
      treatment,
      ...(period.start === undefined ? {} : { start: period.start }),
      ...(end === undefined ? {} : { end }),
      ...(ongoing === undefined ? {} : { current: ongoing }),
    })),
  };
}

/** The coded medicine: inline, contained (`#id`), or a Medication read with the record. */
function medicationConcept(
  resource: MedicationStatement | MedicationRequest,
  medications: Medications,
): { concept: CodeableConcept } | { ignore: string } {
  if (resource.medicationCodeableConcept !== undefined) {
    return { concept: resource.medicationCodeableConcept };
  }
  const reference = resource.medicationReference?.reference;
  const medication = reference?.startsWith('#')
    ? resource.contained?.find(
        (c) => `#${c.id ?? ''}` === reference && c.resourceType === 'Medication',
      )
    : medications.get(reference ?? '');
  const code = (medication as Medication | undefined)?.code;
  if (code === undefined) {
    return {
      ignore:
        reference === undefined
          ? 'names no medication'
          : 'its Medication could not be read or has no code',
    };
  }
  return { concept: code };
}

/** References to Medication resources outside the record's own `contained`. */
export function medicationReferences(
  resources: readonly (MedicationStatement | MedicationRequest)[],
): string[] {
  const references = resources
    .map((r) => r.medicationReference?.reference)
    .filter(
      (ref): ref is string => ref !== undefined && /^Medication\/[A-Za-z0-9\-.]{1,64}$/.test(ref),
    );
  return [...new Set(references)];
}

/** The first route of the dosages that the table knows; undefined when none is coded. */
function routeOf(codes: FhirCodes, dosages: Dosage[] | undefined): Route | undefined {
  for (const dosage of dosages ?? []) {
    for (const [route, set] of codes.routes) {
      if (set.matches(dosage.route)) return route;
    }
  }
  return undefined;
}

/**
 * The treatments a coded medicine is. An ingredient that needs a route (an NSAID, a
 * glucocorticoid) without a known route is refused with the reason, not guessed.
 */
function medicationTreatments(
  codes: FhirCodes,
  concept: CodeableConcept,
  route: Route | undefined,
): { codes: TreatmentCode[] } | { ignore: string } {
  const found: TreatmentCode[] = [];
  const undecided: string[] = [];
  for (const entry of codes.medications) {
    if (!entry.codes.matches(concept)) continue;
    if (entry.treatment !== undefined) {
      found.push(entry.treatment);
    } else if (route === undefined) {
      undecided.push(Object.values(entry.byRoute ?? {}).join(' or '));
    } else {
      const byRoute = entry.byRoute?.[route];
      if (byRoute !== undefined) found.push(byRoute);
    }
  }
  if (found.length === 0 && undecided.length > 0) {
    return {
      ignore: `the medicine is coded by ingredient and has no known route, so whether it is ${undecided.join(', ')} cannot be told`,
    };
  }
  return { codes: found };
}
