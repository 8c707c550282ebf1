/**
 * Encapsulated Pixel Data (PS3.5 8.2, A.4): an undefined-length OB value holding Items, the
 * first a Basic Offset Table (possibly empty), the others fragments of compressed frames,
 * closed by a Sequence Delimitation Item.
 */
import {
  SHORT_HEADER_BYTES,
  TAG_BYTES,
  Tags,
  UNDEFINED_LENGTH,
  readTag,
  readUint32,
  type ByteRange,
  type ElementSyntax,
} from './dicom-binary.js';
import { hasEndMarker } from './codestream.js';
import { formatTag, imagingError } from './fail.js';
import { MAX_FRAGMENTS } from './limits.js';
import type { TransferSyntaxInfo } from './transfer-syntax.js';

export interface EncapsulatedPixelData {
  kind: 'encapsulated';
  /** Basic Offset Table entries: frame starts relative to the first fragment's item tag. */
  offsetTable: number[];
  /** Fragment values, each with its offset relative to the first fragment's item tag. */
  fragments: (ByteRange & { relativeOffset: number })[];
}

/** Reads encapsulated Pixel Data whose value starts at `valueStart`. */
export function readEncapsulatedPixelData(
  bytes: Uint8Array,
  valueStart: number,
  syntax: ElementSyntax,
  label: string | undefined,
): EncapsulatedPixelData {
  const { items } = readEncapsulatedItems(bytes, valueStart, syntax, label);
  return splitOffsetTable(bytes, items, syntax, label);
}

/**
 * Reads the items of an undefined-length OB/OW value up to its Sequence Delimitation Item
 * (PS3.5 A.4). Returns the item values and the offset just past the delimiter.
 */
export function readEncapsulatedItems(
  bytes: Uint8Array,
  valueStart: number,
  syntax: ElementSyntax,
  label: string | undefined,
): { items: ByteRange[]; end: number } {
  const items: ByteRange[] = [];
  let pos = valueStart;
  for (;;) {
    if (pos + SHORT_HEADER_BYTES > bytes.length) {
      throw imagingError(
        'decode-failed',
        label,
        `encapsulated Pixel Data is truncated: it ends at byte ${bytes.length} without a Sequence Delimitation Item (PS3.5 A.4)`,
      );
    }
    const tag = readTag(bytes, pos, syntax.littleEndian);
    const length = readUint32(bytes, pos + TAG_BYTES, syntax.littleEndian);
    if (tag === Tags.SequenceDelimitation) return { items, end: pos + SHORT_HEADER_BYTES };
    if (tag !== Tags.Item || length === UNDEFINED_LENGTH) {
      throw imagingError(
        'invalid-dicom',
        label,
        `encapsulated Pixel Data holds ${formatTag(tag)} at byte ${pos} where a defined-length Item was expected`,
      );
    }
    if (pos + SHORT_HEADER_BYTES + length > bytes.length) {
      throw imagingError(
        'decode-failed',
        label,
        `encapsulated Pixel Data is truncated: item ${items.length} declares ${length} bytes but only ` +
          `${bytes.length - pos - SHORT_HEADER_BYTES} remain`,
      );
    }
    if (items.length >= MAX_FRAGMENTS) {
      throw imagingError(
        'limit-exceeded',
        label,
        `encapsulated Pixel Data has more than ${MAX_FRAGMENTS} items`,
      );
    }
    items.push({ offset: pos + SHORT_HEADER_BYTES, length });
    pos += SHORT_HEADER_BYTES + length;
  }
}

/** The first item is the Basic Offset Table (possibly empty); the rest are fragments. */
function splitOffsetTable(
  bytes: Uint8Array,
  items: ByteRange[],
  syntax: ElementSyntax,
  label: string | undefined,
): EncapsulatedPixelData {
  const [table, ...rest] = items;
  if (table === undefined) {
    throw imagingError(
      'invalid-dicom',
      label,
      'encapsulated Pixel Data has no Basic Offset Table item (PS3.5 A.4)',
    );
  }
  const offsetTable: number[] = [];
  for (let i = 0; i + TAG_BYTES <= table.length; i += TAG_BYTES) {
    offsetTable.push(readUint32(bytes, table.offset + i, syntax.littleEndian));
  }
  const firstItemTag = rest[0] === undefined ? 0 : rest[0].offset - SHORT_HEADER_BYTES;
  const fragments = rest.map((item) => ({
    ...item,
    relativeOffset: item.offset - SHORT_HEADER_BYTES - firstItemTag,
  }));
  return { kind: 'encapsulated', offsetTable, fragments };
}

/**
 * The bytes of frame 1 (PS3.5 A.4): with a Basic Offset Table, the fragments before the second
 * frame's offset; for a single frame, all fragments; otherwise one fragment per frame when the
 * counts match, else fragments up to the first that ends the codestream.
 */
export function firstFrameBytes(
  bytes: Uint8Array,
  location: EncapsulatedPixelData,
  numberOfFrames: number,
  syntax: TransferSyntaxInfo,
  label: string | undefined,
): Uint8Array {
  const { fragments, offsetTable } = location;
  if (fragments.length === 0)
    throw imagingError('invalid-dicom', label, 'encapsulated Pixel Data has no fragments');
  const secondFrame = offsetTable[1];
  let count: number;
  if (secondFrame !== undefined) {
    count = fragments.filter((fragment) => fragment.relativeOffset < secondFrame).length;
  } else if (numberOfFrames === 1) {
    count = fragments.length;
  } else if (syntax.pixels === 'rle' || fragments.length === numberOfFrames) {
    count = 1; // one fragment per frame (always so for RLE, PS3.5 A.4.2)
  } else {
    const ending = fragments.findIndex((fragment) =>
      hasEndMarker(bytes.subarray(fragment.offset, fragment.offset + fragment.length)),
    );
    count = ending >= 0 ? ending + 1 : fragments.length;
  }
  const parts = fragments.slice(0, Math.max(1, count));
  if (parts.length === 1 && parts[0] !== undefined)
    return bytes.subarray(parts[0].offset, parts[0].offset + parts[0].length);
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    joined.set(bytes.subarray(part.offset, part.offset + part.length), at);
    at += part.length;
  }
  return joined;
}
