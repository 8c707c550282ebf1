/**
 * The transaction Bundle that writes a study's resources in one go (FHIR R4 RESTful API,
 * "Transaction"): every entry a conditional update, `PUT Type?identifier=system|value`, so a
 * second write after reprocessing updates the resources the first one created instead of
 * adding copies; references between entries point at `urn:uuid:` fullUrls that the server
 * rewrites to the ids it resolves.
 *
 * Refused before anything is sent: an entry that fails validation, two entries with one
 * address or one key, and a `urn:uuid:` reference to no entry of the bundle (the server
 * would reject the whole transaction, or worse, store a dangling reference).
 */
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { JointspaceError } from '../../errors.js';
import { validateFhirResource } from '../validate.js';
import type { BuiltResource } from './keys.js';

function invalid(message: string): JointspaceError {
  return new JointspaceError('invalid-argument', message);
}

/** Every `reference` string in a resource, with the path it was found at. */
export function internalReferences(
  value: unknown,
  path: string,
): { path: string; reference: string }[] {
  if (Array.isArray(value)) {
    return value.flatMap((item, i) => internalReferences(item, `${path}[${i}]`));
  }
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([name, item]) => {
    const here = `${path}.${name}`;
    if (name === 'reference' && typeof item === 'string' && item.startsWith('urn:uuid:')) {
      return [{ path: here, reference: item }];
    }
    return internalReferences(item, here);
  });
}

function requireUnique(entries: readonly BuiltResource[]): void {
  const seen = new Set<string>();
  for (const entry of entries) {
    for (const address of [entry.fullUrl, entry.conditionalUrl]) {
      if (seen.has(address)) {
        throw invalid(
          `transaction: two entries share ${address.startsWith('urn:') ? 'the fullUrl' : 'the key'} of a ${entry.resource.resourceType}`,
        );
      }
      seen.add(address);
    }
  }
}

function requireResolvable(entries: readonly BuiltResource[]): void {
  const addresses = new Set(entries.map((e) => e.fullUrl));
  for (const entry of entries) {
    const type = entry.resource.resourceType;
    for (const { path, reference } of internalReferences(entry.resource, type)) {
      if (!addresses.has(reference)) {
        throw invalid(`transaction: ${path} refers to a resource that is not in the bundle`);
      }
    }
  }
}

/**
 * One transaction of conditional updates. Each resource is validated first
 * (`validateFhirResource`); the resources are sent without `id`, which the server assigns or
 * keeps.
 */
export function transactionBundle(entries: readonly BuiltResource[]): Bundle {
  if (entries.length === 0) throw invalid('transaction: at least one resource is needed');
  requireUnique(entries);
  requireResolvable(entries);
  for (const entry of entries) validateFhirResource(entry.resource);

  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map((entry): BundleEntry => ({
      fullUrl: entry.fullUrl,
      resource: entry.resource,
      request: { method: 'PUT', url: entry.conditionalUrl },
    })),
  };
}
