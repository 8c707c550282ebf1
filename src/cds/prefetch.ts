/**
 * The prefetch of the patient-view service (CDS Hooks 2.0, Providing FHIR Resources to a CDS
 * Service: https://cds-hooks.hl7.org/2.0/#providing-fhir-resources-to-a-cds-service): the
 * templates announced in discovery, and the `PatientRecord` read back from what the EHR sends.
 *
 * The templates ask for what `buildCareFacts` (src/fhir/care-facts.ts) reads: the Patient, the
 * Observations of the LOINC codes of mappings/fhir-codes.json, and every Condition,
 * MedicationStatement, MedicationRequest (with the Medications they reference, by `_include`)
 * and Procedure of the patient.
 *
 * A key the EHR did not send, sent as null, or sent malformed (not the Patient of the context,
 * not a searchset Bundle, a Bundle with a `next` page, resources of another type or of another
 * patient) is not used, and the reason is returned: advice is never built on half a search.
 */
import type {
  Condition,
  Medication,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Patient,
  Procedure,
  Resource,
} from '@medplum/fhirtypes';
import type { PatientRecord } from '../fhir/care-facts.js';
import type { FhirCodes } from '../fhir/codes.js';

export const PREFETCH_KEYS = [
  'patient',
  'observations',
  'conditions',
  'medicationStatements',
  'medicationRequests',
  'procedures',
] as const;
export type PrefetchKey = (typeof PREFETCH_KEYS)[number];

const PATIENT = '{{context.patientId}}';

/** The prefetch templates of the patient-view service. */
export function prefetchTemplates(codes: FhirCodes): Record<PrefetchKey, string> {
  const observationCodes = Object.values(codes.observations).flatMap((set) => set.searchTokens());
  return {
    patient: `Patient/${PATIENT}`,
    observations: `Observation?patient=${PATIENT}&code=${observationCodes.join(',')}`,
    conditions: `Condition?patient=${PATIENT}`,
    medicationStatements: `MedicationStatement?patient=${PATIENT}&_include=MedicationStatement:medication`,
    medicationRequests: `MedicationRequest?patient=${PATIENT}&_include=MedicationRequest:medication`,
    procedures: `Procedure?patient=${PATIENT}`,
  };
}

export interface PrefetchReading {
  /** The record when the Patient and every part arrived usable; otherwise absent. */
  record?: PatientRecord;
  /** Each key that was not usable, with the reason. */
  unusable: { key: PrefetchKey; reason: string }[];
}

type JsonObject = Record<string, unknown>;

const SEARCH_TYPES: Record<Exclude<PrefetchKey, 'patient'>, string> = {
  observations: 'Observation',
  conditions: 'Condition',
  medicationStatements: 'MedicationStatement',
  medicationRequests: 'MedicationRequest',
  procedures: 'Procedure',
};

/**
 * The patient's record from the prefetch. Usable only when every key is: a record with a part
 * missing would leave facts unknown that the proposal made at grading time had.
 */
export function readPrefetch(prefetch: unknown, patientId: string): PrefetchReading {
  const sent = isObject(prefetch) ? prefetch : {};
  const unusable: PrefetchReading['unusable'] = [];
  const medications = new Map<string, Medication>();

  const patient = readPatient(sent.patient, patientId);
  if (typeof patient === 'string') unusable.push({ key: 'patient', reason: patient });

  const parts = new Map<PrefetchKey, Resource[]>();
  for (const [key, type] of Object.entries(SEARCH_TYPES) as [PrefetchKey, string][]) {
    const read = readSearchset(sent[key], type, patientId);
    if (typeof read === 'string') {
      unusable.push({ key, reason: read });
      continue;
    }
    parts.set(key, read.matches);
    for (const medication of read.medications) {
      if (medication.id !== undefined) medications.set(`Medication/${medication.id}`, medication);
    }
  }

  if (typeof patient === 'string' || unusable.length > 0) return { unusable };
  const part = <T extends Resource>(key: PrefetchKey) => (parts.get(key) ?? []) as T[];
  return {
    record: {
      patient,
      observations: part<Observation>('observations'),
      conditions: part<Condition>('conditions'),
      medicationStatements: part<MedicationStatement>('medicationStatements'),
      medicationRequests: part<MedicationRequest>('medicationRequests'),
      procedures: part<Procedure>('procedures'),
      medications,
    },
    unusable,
  };
}

function readPatient(value: unknown, patientId: string): Patient | string {
  if (value === undefined) return 'not sent';
  if (value === null) return 'sent as null (no data)';
  if (!isObject(value) || value.resourceType !== 'Patient') return 'not a Patient resource';
  if (value.id !== patientId) return 'a Patient other than context.patientId';
  return value as unknown as Patient;
}

/** The matches of a searchset Bundle, with the Medications it includes, or why it is unusable. */
function readSearchset(
  value: unknown,
  type: string,
  patientId: string,
): { matches: Resource[]; medications: Medication[] } | string {
  if (value === undefined) return 'not sent';
  if (value === null) return 'sent as null (no data)';
  if (!isObject(value) || value.resourceType !== 'Bundle') return 'not a Bundle';
  if (value.type !== undefined && value.type !== 'searchset') return 'not a searchset Bundle';
  const links = Array.isArray(value.link) ? value.link : [];
  if (links.some((link) => isObject(link) && link.relation === 'next')) {
    return 'only the first page of the search (the Bundle has a next link)';
  }
  const entries = value.entry ?? [];
  if (!Array.isArray(entries)) return 'Bundle.entry is not an array';

  const matches: Resource[] = [];
  const medications: Medication[] = [];
  for (const entry of entries) {
    const resource = isObject(entry) ? entry.resource : undefined;
    if (!isObject(resource) || typeof resource.resourceType !== 'string') {
      return 'a Bundle entry without a resource';
    }
    if (resource.resourceType === 'OperationOutcome') continue;
    if (resource.resourceType === 'Medication') {
      medications.push(resource as unknown as Medication);
      continue;
    }
    if (resource.resourceType !== type) return `a Bundle entry that is not a ${type}`;
    if (!aboutPatient(resource, patientId)) return `a ${type} of another patient`;
    matches.push(resource as unknown as Resource);
  }
  return { matches, medications };
}

/** Whether `subject` (or `patient`, for the few types that use it) is the context's patient. */
function aboutPatient(resource: JsonObject, patientId: string): boolean {
  const subject = resource.subject ?? resource.patient;
  if (!isObject(subject) || typeof subject.reference !== 'string') return false;
  const reference = subject.reference;
  return reference === `Patient/${patientId}` || reference.endsWith(`/Patient/${patientId}`);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
