/**
 * Deterministic business identifiers and bundle addresses of everything jointspace writes to
 * FHIR, so that writing again (a retry, a reprocessed study) updates the same resources.
 *
 * Each resource carries one key: an Identifier whose system names what it is and whose value
 * is a name-based UUID derived, as the SR's UIDs are (src/sr/uids.ts `deriveUid`), from the
 * Study Instance UID, the knee and the model id (`name@version`). The writer sends every
 * resource as a conditional update, `PUT Type?identifier=system|value` (FHIR R4 RESTful API,
 * "Conditional update"), and the server finds the earlier version by that key.
 *
 * Provenance has no `identifier` in R4, so its key is a `meta.tag` and its conditional URL
 * searches `_tag`, a search parameter every resource type has.
 *
 * The bundle address (`fullUrl`) is `urn:uuid:` + the same UUID: references between the
 * resources of one transaction point there, and the server rewrites them to the ids it
 * resolves (FHIR R4 Bundle, "Resolving references in Bundles").
 */
import type { Coding, Identifier, Reference, Resource } from '@medplum/fhirtypes';
import { deriveUid } from '../../sr/uids.js';

const NAMESPACE = 'jointspace-fhir';

/** The identifier systems, one per kind of resource written. */
export const KEY_SYSTEMS = Object.freeze({
  /** Device of the grading model: the value is the model file's SHA-256 (lower case). */
  modelDevice: 'urn:jointspace:model-sha256',
  /** Device of the care rules table: the value is the rules version. */
  careRulesDevice: 'urn:jointspace:care-rules-version',
  klGrade: 'urn:jointspace:kl-grade-observation',
  jsw: 'urn:jointspace:jsw-observation',
  imagingReport: 'urn:jointspace:imaging-report',
  provenance: 'urn:jointspace:provenance',
  carePlan: 'urn:jointspace:care-plan',
  careRequest: 'urn:jointspace:care-request',
});

/** A resource ready for a transaction: its content, its bundle address and its key. */
export interface BuiltResource<T extends Resource = Resource> {
  readonly resource: T;
  /** `urn:uuid:…`, unique in the bundle and stable across runs. */
  readonly fullUrl: string;
  /** The conditional-update key (for Provenance, the tag's system and code). */
  readonly key: Identifier;
  /** `Type?identifier=system|value` (Provenance: `Provenance?_tag=system|code`). */
  readonly conditionalUrl: string;
}

/**
 * A name-based UUID (RFC 9562 version 8) of the parts: the 128 bits behind `deriveUid`, so a
 * UUID and a `2.25.` UID of the same parts are the same number.
 */
export function deriveUuid(...parts: string[]): string {
  const decimal = deriveUid(NAMESPACE, ...parts).slice('2.25.'.length);
  const hex = BigInt(decimal).toString(16).padStart(32, '0');
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join('-');
}

/** The key of a derived resource: `system` and a UUID of the system and the parts. */
export function derivedKey(system: string, ...parts: string[]): Identifier {
  return { system, value: deriveUuid(system, ...parts) };
}

function searchValue(system: string, value: string): string {
  return `${encodeURIComponent(system)}|${encodeURIComponent(value)}`;
}

/** Wraps a resource whose `identifier` holds `key`. */
export function built<T extends Resource>(resource: T, key: Identifier): BuiltResource<T> {
  const system = key.system ?? '';
  const value = key.value ?? '';
  return {
    resource,
    fullUrl: `urn:uuid:${deriveUuid('full-url', resource.resourceType, system, value)}`,
    key,
    conditionalUrl: `${resource.resourceType}?identifier=${searchValue(system, value)}`,
  };
}

/** Wraps a resource keyed by a `meta.tag` (Provenance, which has no identifier in R4). */
export function builtByTag<T extends Resource>(resource: T, tag: Coding): BuiltResource<T> {
  const system = tag.system ?? '';
  const code = tag.code ?? '';
  return {
    resource,
    fullUrl: `urn:uuid:${deriveUuid('full-url', resource.resourceType, system, code)}`,
    key: { system, value: code },
    conditionalUrl: `${resource.resourceType}?_tag=${searchValue(system, code)}`,
  };
}

/**
 * A reference to a resource of the same transaction: the `urn:uuid:` address, which the
 * server rewrites, and the key, which stays meaningful outside the bundle.
 */
export function referenceTo<T extends Resource>(
  target: BuiltResource<T>,
  display?: string,
): Reference<T> {
  return {
    reference: target.fullUrl,
    type: target.resource.resourceType,
    identifier: target.key,
    ...(display === undefined ? {} : { display }),
  };
}
