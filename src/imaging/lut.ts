/**
 * Lookup tables as used by the Modality LUT (PS3.3 C.11.1) and VOI LUT (C.11.2) modules:
 * LUT Descriptor (0028,3002) gives the number of entries (0 meaning 65536), the first stored
 * value mapped, and the bits per entry; LUT Data (0028,3006) holds the entries.
 */
import type { DicomDataset } from './dicom-parse.js';
import { Tag } from './dicom-tags.js';
import { imagingError } from './fail.js';

export interface Lut {
  firstMapped: number;
  entries: Uint16Array;
  bitsPerEntry: number;
}

const DESCRIPTOR_VALUES = 3;
const ZERO_MEANS_ENTRIES = 65536;
const SIGNED_OFFSET = 65536;
const SIGNED_THRESHOLD = 32768;
const BITS_PER_BYTE = 8;
const WORD_BYTES = 2;

/**
 * Reads the LUT of one Modality LUT or VOI LUT Sequence item. `signedInput` says whether the
 * first mapped value is a signed (SS) value: it follows Pixel Representation (C.11.1.1.1).
 */
export function readLut(
  item: DicomDataset,
  signedInput: boolean,
  what: string,
  label: string | undefined,
): Lut {
  const descriptor = item.numbers(Tag.LUTDescriptor);
  const [count, first, bits] = descriptor;
  if (
    descriptor.length < DESCRIPTOR_VALUES ||
    count === undefined ||
    first === undefined ||
    bits === undefined
  ) {
    throw imagingError(
      'invalid-dicom',
      label,
      `${what}: LUT Descriptor (0028,3002) needs 3 values, has ${descriptor.length}`,
    );
  }
  const entries = count === 0 ? ZERO_MEANS_ENTRIES : count;
  const firstMapped = signedInput && first >= SIGNED_THRESHOLD ? first - SIGNED_OFFSET : first;
  const data = readEntries(item, entries, bits);
  if (data === undefined || data.length < entries) {
    throw imagingError(
      'invalid-dicom',
      label,
      `${what}: LUT Data (0028,3006) has ${data?.length ?? 0} entries; LUT Descriptor says ${entries}`,
    );
  }
  return { firstMapped, entries: data.subarray(0, entries), bitsPerEntry: bits };
}

/** LUT Data comes as US numbers or as OW bytes (16-bit words, or bytes for 8-bit tables). */
function readEntries(item: DicomDataset, entries: number, bits: number): Uint16Array | undefined {
  const raw = item.bytes(Tag.LUTData);
  if (raw === undefined) {
    const numbers = item.numbers(Tag.LUTData);
    return numbers.length === 0 ? undefined : Uint16Array.from(numbers);
  }
  if (bits <= BITS_PER_BYTE && raw.length === entries) return Uint16Array.from(raw);
  const words = Math.floor(raw.length / WORD_BYTES);
  const out = new Uint16Array(words);
  for (let i = 0; i < words; i++)
    out[i] = (raw[WORD_BYTES * i] ?? 0) | ((raw[WORD_BYTES * i + 1] ?? 0) << BITS_PER_BYTE);
  return out;
}

/** Maps a value through a LUT: below the first mapped value the first entry, above it the last. */
export function lookup(lut: Lut, value: number): number {
  const last = lut.entries.length - 1;
  const index = Math.round(value) - lut.firstMapped;
  return lut.entries[index <= 0 ? 0 : index >= last ? last : index] ?? 0;
}

/**
 * Top of a LUT's output range, 2^n − 1, with n the bits its largest entry needs (at least 8).
 * The descriptor's bits per entry is not trusted: tables declaring 16 bits but holding 12-bit
 * values are common and would display almost black.
 */
export function lutMaxOutput(lut: Lut): number {
  let max = 0;
  for (const entry of lut.entries) if (entry > max) max = entry;
  const bits = Math.max(BITS_PER_BYTE, Math.ceil(Math.log2(max + 1)));
  return 2 ** bits - 1;
}
