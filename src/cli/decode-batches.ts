import { loadImageFile } from '../imaging/load.js';
import type { DecodedImage } from '../imaging/types.js';

export type Loaded<T> = { item: T; decoded: DecodedImage } | { item: T; error: unknown };

/**
 * Decodes files a batch at a time, so that memory holds one batch of images
 * however many files are given. A file that cannot be decoded comes back with
 * its error; the others in the batch are unaffected.
 */
export async function* decodeInBatches<T>(
  items: T[],
  pathOf: (item: T) => string,
  batchSize: number,
): AsyncGenerator<Loaded<T>[]> {
  for (let start = 0; start < items.length; start += batchSize) {
    yield Promise.all(
      items.slice(start, start + batchSize).map(async (item): Promise<Loaded<T>> => {
        try {
          return { item, decoded: await loadImageFile(pathOf(item)) };
        } catch (error) {
          return { item, error };
        }
      }),
    );
  }
}

export function isDecoded<T>(entry: Loaded<T>): entry is { item: T; decoded: DecodedImage } {
  return 'decoded' in entry;
}
