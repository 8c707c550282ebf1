/**
 * Sends a transaction of conditional updates as several smaller transactions, in order.
 *
 * Some servers cap the size of a transaction that needs strict isolation: Medplum refuses
 * one with conditional operations and more than 8 entries ("Transaction requires strict
 * isolation but has too many entries"). A study with two knees, each with a care plan, writes
 * more than that. The bundles jointspace builds list every resource after those it refers to
 * (src/fhir/resources.ts, `studyTransaction`), so the entries can be cut into consecutive
 * chunks: after each chunk, every `urn:uuid:` address it wrote is replaced, in the chunks
 * still to send, by the `Type/id` the server answered.
 *
 * What is lost is atomicity across chunks: a failure after the first chunk leaves the first
 * chunk written. Every entry is a conditional update keyed by study, knee and model, so the
 * retry of the job rewrites the same resources and completes the set; nothing is duplicated.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { fhirInvalidResponse } from './errors.js';

/** Entries per transaction: Medplum's limit for transactions with conditional operations. */
export const MAX_TRANSACTION_ENTRIES = 8;

export interface TransactionSender {
  transaction(bundle: Bundle): Promise<Bundle>;
}

/**
 * The response entries of every chunk, in the order of `bundle.entry`, as one
 * transaction-response would list them.
 */
export async function sendInChunks(
  client: TransactionSender,
  bundle: Bundle,
  maxEntries = MAX_TRANSACTION_ENTRIES,
): Promise<Bundle> {
  const entries = bundle.entry ?? [];
  const written = new Map<string, string>();
  const answers: BundleEntry[] = [];
  for (let start = 0; start < entries.length; start += maxEntries) {
    const chunk = entries
      .slice(start, start + maxEntries)
      .map((entry) => resolveReferences(entry, written));
    const response = await client.transaction({ ...bundle, entry: chunk });
    const answered = response.entry ?? [];
    if (answered.length !== chunk.length) {
      throw fhirInvalidResponse(
        'FHIR transaction',
        `a response of ${answered.length} entries to ${chunk.length}`,
      );
    }
    chunk.forEach((entry, index) => {
      const id = writtenReference(answered[index]);
      if (entry.fullUrl !== undefined && id !== undefined) written.set(entry.fullUrl, id);
    });
    answers.push(...answered);
  }
  return { resourceType: 'Bundle', type: 'transaction-response', entry: answers };
}

/** `Type/id` of what a transaction-response entry says was written (from its location). */
export function writtenReference(answer: BundleEntry | undefined): string | undefined {
  const location = answer?.response?.location;
  return location === undefined ? undefined : /^([A-Za-z]+\/[^/]+)/.exec(location)?.[1];
}

/** The entry with each `reference` to an address already written replaced by `Type/id`. */
function resolveReferences(entry: BundleEntry, written: ReadonlyMap<string, string>): BundleEntry {
  if (entry.resource === undefined || written.size === 0) return entry;
  return { ...entry, resource: replaceReferences(entry.resource, written) as Resource };
}

function replaceReferences(value: unknown, written: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => replaceReferences(item, written));
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const target =
      key === 'reference' && typeof field === 'string' ? written.get(field) : undefined;
    copy[key] = target ?? replaceReferences(field, written);
  }
  return copy;
}
