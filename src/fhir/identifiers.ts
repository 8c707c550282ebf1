/**
 * Which `Patient.identifier.system` a study's PatientID belongs to, from the DICOM Issuer of
 * Patient ID (0010,0021): mappings/patient-identifiers.json, read and validated once.
 *
 * PS3.3 C.7.1.1: Issuer of Patient ID names the assigning authority of Patient ID (0010,0020).
 * FHIR R4 Identifier (https://hl7.org/fhir/R4/datatypes.html#Identifier) carries the same
 * authority as a URI in `system`; a token search `identifier=<system>|<value>` then finds the
 * patient (https://hl7.org/fhir/R4/search.html#token).
 */
import { loadMapping } from '../mappings.js';
import { fromRoot } from '../paths.js';
import { FieldReader } from './fields.js';

export const UNMAPPED_ISSUER_POLICIES = ['search-value-only', 'refuse'] as const;
export type UnmappedIssuerPolicy = (typeof UNMAPPED_ISSUER_POLICIES)[number];

export interface PatientIdentifierMap {
  version: string;
  /** Issuer of Patient ID, trimmed, to identifier system. */
  issuers: ReadonlyMap<string, string>;
  /** The system of studies without an issuer, when the site has one. */
  defaultSystem?: string;
  unmappedIssuer: UnmappedIssuerPolicy;
}

/** How to search for one study's patient. */
export type IdentifierQuery =
  | { kind: 'system'; system: string; source: 'issuer' | 'default' }
  | { kind: 'value-only'; reason: string }
  | { kind: 'refused'; reason: string };

export const PATIENT_IDENTIFIERS_PATH = fromRoot('mappings', 'patient-identifiers.json');

/** The mapping of mappings/patient-identifiers.json (or `path`), read and validated once. */
export function patientIdentifierMap(path = PATIENT_IDENTIFIERS_PATH): PatientIdentifierMap {
  return loadMapping(path, 'patient identifiers', (json) => parsePatientIdentifiers(json, path));
}

/** Validates every field, so a hand-edited file fails with a message naming the field. */
export function parsePatientIdentifiers(
  json: unknown,
  source = 'patient identifiers',
): PatientIdentifierMap {
  const read = new FieldReader(source);
  const root = read.object(json, 'the document');
  read.only(root, '', ['kind', 'version', 'about', 'unmappedIssuer', 'defaultSystem', 'issuers']);
  if (root.kind !== 'jointspace-patient-identifiers') {
    read.fail('kind', '"jointspace-patient-identifiers"');
  }

  const issuers = new Map<string, string>();
  read.list(root.issuers, 'issuers').forEach((entry, index) => {
    const field = `issuers[${index}]`;
    const item = read.object(entry, field);
    read.only(item, field, ['issuer', 'system', 'description']);
    const issuer = read.text(item.issuer, `${field}.issuer`).trim();
    if (issuers.has(issuer)) read.fail(`${field}.issuer`, `unique ("${issuer}" is listed twice)`);
    read.optionalText(item.description, `${field}.description`);
    issuers.set(issuer, read.uri(item.system, `${field}.system`));
  });

  const defaultSystem =
    root.defaultSystem === null || root.defaultSystem === undefined
      ? undefined
      : read.uri(root.defaultSystem, 'defaultSystem');

  return {
    version: read.version(root.version, 'version'),
    issuers,
    ...(defaultSystem === undefined ? {} : { defaultSystem }),
    unmappedIssuer: read.choice(root.unmappedIssuer, 'unmappedIssuer', UNMAPPED_ISSUER_POLICIES),
  };
}

/**
 * How the patient of a study with this issuer is searched. Reasons name the issuer (an
 * organisation, not patient data) but never the PatientID.
 */
export function identifierQuery(
  map: PatientIdentifierMap,
  issuerOfPatientId: string | undefined,
): IdentifierQuery {
  const issuer = issuerOfPatientId?.trim() ?? '';
  const mapped = issuer === '' ? undefined : map.issuers.get(issuer);
  if (mapped !== undefined) return { kind: 'system', system: mapped, source: 'issuer' };
  if (issuer === '' && map.defaultSystem !== undefined) {
    return { kind: 'system', system: map.defaultSystem, source: 'default' };
  }

  const why =
    issuer === ''
      ? 'the study has no Issuer of Patient ID'
      : `Issuer of Patient ID "${issuer}" is not in the patient identifier mapping`;
  return map.unmappedIssuer === 'refuse'
    ? { kind: 'refused', reason: `${why}, and the mapping refuses unmapped issuers` }
    : { kind: 'value-only', reason: why };
}
