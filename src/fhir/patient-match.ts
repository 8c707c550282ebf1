/**
 * Finding the FHIR Patient of a study from its DICOM PatientID (0010,0020) and Issuer of
 * Patient ID (0010,0021): a token search on `Patient.identifier`
 * (https://hl7.org/fhir/R4/search.html#token), `<system>|<value>` when the issuer maps to a
 * system (mappings/patient-identifiers.json), the value alone otherwise.
 *
 * Exactly one Patient must carry the identifier. None is `unmatched`; more than one is
 * `ambiguous` and refused, since advice for the wrong patient is worse than none. Results are
 * checked again here for the exact system and value, because some servers match tokens
 * without regard to case (Medplum's memory repository does).
 *
 * The PatientID is patient data: it is sent in the search and nowhere else, not in reasons,
 * errors or logs.
 */
import type { Identifier, Patient } from '@medplum/fhirtypes';
import type { Logger } from '../log.js';
import type { FhirClient } from './client.js';
import { identifierQuery, patientIdentifierMap, type PatientIdentifierMap } from './identifiers.js';

/** The patient attributes of a study. */
export interface StudyPatient {
  /** Patient ID (0010,0020). */
  patientId?: string | undefined;
  /** Issuer of Patient ID (0010,0021). */
  issuerOfPatientId?: string | undefined;
}

export type MatchedPatient = Patient & { id: string };

export type PatientMatch =
  | { status: 'matched'; patient: MatchedPatient; search: 'system' | 'value-only' }
  | { status: 'unmatched' | 'ambiguous'; reason: string };

export interface MatchOptions {
  /** The issuer mapping; mappings/patient-identifiers.json when absent. */
  identifiers?: PatientIdentifierMap;
  logger?: Logger;
}

/** Searches the study's patient; server failures are thrown (see errors.ts), not "unmatched". */
export async function matchPatient(
  client: Pick<FhirClient, 'search'>,
  study: StudyPatient,
  options: MatchOptions = {},
): Promise<PatientMatch> {
  const match = await findPatient(client, study, options.identifiers ?? patientIdentifierMap());
  options.logger?.info('fhir.patient-match', {
    status: match.status,
    ...(match.status === 'matched' ? { search: match.search } : {}),
  });
  return match;
}

async function findPatient(
  client: Pick<FhirClient, 'search'>,
  study: StudyPatient,
  identifiers: PatientIdentifierMap,
): Promise<PatientMatch> {
  const value = study.patientId?.trim() ?? '';
  if (value === '') return { status: 'unmatched', reason: 'the study has no PatientID' };

  const query = identifierQuery(identifiers, study.issuerOfPatientId);
  if (query.kind === 'refused') return { status: 'unmatched', reason: query.reason };

  const system = query.kind === 'system' ? query.system : undefined;
  const token = `${system === undefined ? '' : `${system}|`}${escapeSearchValue(value)}`;
  const found = await client.search<Patient>('Patient', { identifier: token });
  const patients = unique(found.filter((p) => hasIdentifier(p, system, value)));

  const where =
    query.kind === 'system'
      ? `with the study's PatientID under identifier system ${query.system}`
      : `with the study's PatientID under any identifier system (${query.reason})`;
  const [patient, ...others] = patients;
  if (patient === undefined) return { status: 'unmatched', reason: `no Patient ${where}` };
  if (others.length > 0) {
    return {
      status: 'ambiguous',
      reason: `${patients.length} Patients ${where}; refused, as the study cannot be told apart between them`,
    };
  }
  return { status: 'matched', patient, search: system === undefined ? 'value-only' : 'system' };
}

/**
 * A search value with the characters FHIR search gives meaning to escaped
 * (https://hl7.org/fhir/R4/search.html#escaping): a PatientID holding "," or "|" must not turn
 * into two values or a system.
 */
export function escapeSearchValue(value: string): string {
  return value.replace(/[\\$,|]/g, (c) => `\\${c}`);
}

function hasIdentifier(patient: Patient, system: string | undefined, value: string): boolean {
  return (patient.identifier ?? []).some(
    (identifier: Identifier) =>
      identifier.value?.trim() === value && (system === undefined || identifier.system === system),
  );
}

/** Patients with an id, each once (a server may repeat an entry across pages). */
function unique(patients: Patient[]): MatchedPatient[] {
  const byId = new Map<string, MatchedPatient>();
  for (const patient of patients) {
    if (patient.id !== undefined && patient.id !== '') {
      byId.set(patient.id, patient as MatchedPatient);
    }
  }
  return [...byId.values()];
}
