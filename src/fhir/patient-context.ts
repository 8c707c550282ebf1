/**
 * Reading a matched patient's record from the FHIR server and turning it into care facts
 * (care-facts.ts does the turning). Searches, all by `subject=Patient/<id>`
 * (https://hl7.org/fhir/R4/search.html#reference): Observation restricted to the codes of
 * mappings/fhir-codes.json, Condition, MedicationStatement, MedicationRequest, Procedure; then a
 * read of each Medication the medicines refer to.
 *
 * Failures: a transient one (server down, 5xx, timeout) is thrown, so the whole read is
 * retried later and advice is never built on half a record. A part the server refuses for
 * good (a resource type it does not support, or that the client may not read) is listed in
 * `unavailable` and its facts stay missing, which the engine reports as missing data.
 */
import type {
  Condition,
  Medication,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Procedure,
} from '@medplum/fhirtypes';
import { JointspaceError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  buildCareFacts,
  type FactsOptions,
  type PatientFacts,
  type PatientRecord,
} from './care-facts.js';
import type { FhirClient } from './client.js';
import { fhirCodes, type FhirCodes } from './codes.js';
import type { MatchedPatient } from './patient-match.js';
import { medicationReferences } from './treatments.js';

export interface UnavailablePart {
  /** The resource type that could not be read. */
  resourceType: string;
  reason: string;
}

export interface PatientContext extends PatientFacts {
  /** Parts of the record the server refused; the facts they would give are missing. */
  unavailable: UnavailablePart[];
}

export interface ContextOptions extends FactsOptions {
  /** The code table; mappings/fhir-codes.json when absent. */
  codes?: FhirCodes;
  logger?: Logger;
}

/** Medications read for one patient at most; more references than this are not followed. */
export const MAX_MEDICATION_READS = 100;

type Reader = Pick<FhirClient, 'search' | 'read'>;

export async function readPatientContext(
  client: Reader,
  patient: MatchedPatient,
  options: ContextOptions,
): Promise<PatientContext> {
  const codes = options.codes ?? fhirCodes();
  const unavailable: UnavailablePart[] = [];
  const subject = { subject: `Patient/${patient.id}` };
  const part = <T>(resourceType: string, read: () => Promise<T>) =>
    unlessRefused(resourceType, read, unavailable);

  const observationCodes = Object.values(codes.observations).flatMap((set) => set.searchTokens());
  const [observations, conditions, medicationStatements, medicationRequests, procedures] =
    await Promise.all([
      part('Observation', () =>
        client.search<Observation>('Observation', { ...subject, code: observationCodes.join(',') }),
      ),
      part('Condition', () => client.search<Condition>('Condition', subject)),
      part('MedicationStatement', () =>
        client.search<MedicationStatement>('MedicationStatement', subject),
      ),
      part('MedicationRequest', () =>
        client.search<MedicationRequest>('MedicationRequest', subject),
      ),
      part('Procedure', () => client.search<Procedure>('Procedure', subject)),
    ]);
  const medications = await readMedications(client, [
    ...(medicationStatements ?? []),
    ...(medicationRequests ?? []),
  ]);

  const record: PatientRecord = {
    patient,
    ...(observations === undefined ? {} : { observations }),
    ...(conditions === undefined ? {} : { conditions }),
    ...(medicationStatements === undefined ? {} : { medicationStatements }),
    ...(medicationRequests === undefined ? {} : { medicationRequests }),
    ...(procedures === undefined ? {} : { procedures }),
    medications,
  };
  const context = { ...buildCareFacts(record, codes, options), unavailable };
  options.logger?.info('fhir.patient-context', {
    sources: context.sources.length,
    ignored: context.ignored.length,
    unavailable: unavailable.map((u) => u.resourceType),
    codesVersion: codes.version,
  });
  return context;
}

/** The part, or undefined with the reason recorded when the server refuses it for good. */
async function unlessRefused<T>(
  resourceType: string,
  read: () => Promise<T>,
  unavailable: UnavailablePart[],
): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof JointspaceError) || !error.permanent) throw error;
    unavailable.push({ resourceType, reason: error.message });
    return undefined;
  }
}

/**
 * The Medications referenced as `Medication/<id>`; one that cannot be read for good is left
 * out (the medicine using it is then ignored with the reason).
 */
async function readMedications(
  client: Reader,
  resources: (MedicationStatement | MedicationRequest)[],
): Promise<Map<string, Medication>> {
  const references = medicationReferences(resources).slice(0, MAX_MEDICATION_READS);
  const read = await Promise.all(
    references.map(async (reference) => {
      const id = reference.slice('Medication/'.length);
      const medication = await unlessRefused(
        'Medication',
        () => client.read<Medication>('Medication', id),
        [],
      );
      return [reference, medication] as const;
    }),
  );
  const medications = new Map<string, Medication>();
  for (const [reference, medication] of read) {
    if (medication !== undefined) medications.set(reference, medication);
  }
  return medications;
}
