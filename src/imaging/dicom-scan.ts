/**
 * A bounded, non-recursive walk over the structure of a DICOM data set (PS3.5 Section 7).
 *
 * It runs before any full parse and does three jobs:
 * - reject structurally broken or hostile files early: element lengths running past their
 *   container, sequences nested deeper than MAX_SEQUENCE_DEPTH, too many elements, files that
 *   end inside a sequence;
 * - find the top-level Pixel Data element and, when encapsulated, its Basic Offset Table and
 *   fragments (PS3.5 A.4), so that pixel bytes never go through the attribute parser;
 * - note where Specific Character Set sits (see `dicom-parse.ts` for why).
 *
 * The walk keeps its own stack of open sequences and items, so its memory and time are linear
 * in the file size whatever the nesting.
 */
import {
  ITEM_GROUP,
  SHORT_HEADER_BYTES,
  TAG_BYTES,
  Tags,
  UNDEFINED_LENGTH,
  readElementHeader,
  readTag,
  type ByteRange,
  type ElementHeader,
  type ElementSyntax,
} from './dicom-binary.js';
import {
  readEncapsulatedItems,
  readEncapsulatedPixelData,
  type EncapsulatedPixelData,
} from './encapsulated.js';
import { imagingError, formatTag } from './fail.js';
import { MAX_ELEMENTS, MAX_SEQUENCE_DEPTH } from './limits.js';

export type { ByteRange, ElementSyntax, EncapsulatedPixelData };

export interface NativePixelData extends ByteRange {
  kind: 'native';
}

export type PixelDataLocation = NativePixelData | EncapsulatedPixelData;

export interface DatasetLayout {
  /** Offset of the top-level Pixel Data element, or the end of the data set when absent. */
  headerEnd: number;
  pixelData?: PixelDataLocation;
  /** Value bytes of the top-level Specific Character Set (0008,0005), when present. */
  specificCharacterSet?: ByteRange;
}

export interface ScanOptions {
  label: string | undefined;
  /** Whether a tag is a sequence (SQ) in the data dictionary; implicit VR does not say. */
  isSequenceTag: (tag: number) => boolean;
}

/** Contents of a UN element holding a sequence are implicit VR little endian (PS3.5 6.2.2). */
const IMPLICIT_LE: ElementSyntax = { implicitVr: true, littleEndian: true };

interface Container {
  kind: 'sequence' | 'item';
  /** Absolute end offset, or undefined for undefined length (ends with a delimiter). */
  end: number | undefined;
  /** Syntax of the elements inside (UN sequences switch to implicit VR LE, PS3.5 6.2.2). */
  syntax: ElementSyntax;
  tag: number;
}

const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

function isVrChar(code: number | undefined): boolean {
  return code !== undefined && code >= UPPER_A && code <= UPPER_Z;
}

/** Reads an element header at `pos`, or throws when it does not fit in `limit`. */
function readHeader(
  bytes: Uint8Array,
  pos: number,
  limit: number,
  syntax: ElementSyntax,
  label: string | undefined,
): ElementHeader {
  if (pos + SHORT_HEADER_BYTES > limit) {
    throw imagingError(
      'invalid-dicom',
      label,
      `data set ends inside an element header at byte ${pos} (file truncated?)`,
    );
  }
  const tag = readTag(bytes, pos, syntax.littleEndian);
  const explicit = !syntax.implicitVr && tag >>> 16 !== ITEM_GROUP;
  if (explicit && (!isVrChar(bytes[pos + TAG_BYTES]) || !isVrChar(bytes[pos + TAG_BYTES + 1]))) {
    throw imagingError(
      'invalid-dicom',
      label,
      `element ${formatTag(tag)} at byte ${pos} has no valid explicit VR (expected two upper-case letters)`,
    );
  }
  const header = readElementHeader(bytes, pos, syntax);
  if (pos + header.headerBytes > limit) {
    throw imagingError(
      'invalid-dicom',
      label,
      `data set ends inside the header of ${formatTag(tag)} (file truncated?)`,
    );
  }
  return header;
}

/** Walks a data set starting at `start` and returns where its parts are. */
export function scanDataset(
  bytes: Uint8Array,
  start: number,
  syntax: ElementSyntax,
  options: ScanOptions,
): DatasetLayout {
  const { label } = options;
  const stack: Container[] = [];
  const layout: DatasetLayout = { headerEnd: bytes.length };
  let pos = start;
  let elements = 0;

  for (;;) {
    closeFinishedContainers(stack, pos, label);
    const top = stack.at(-1);
    const limit = top?.end ?? bytes.length;
    if (pos >= bytes.length) {
      if (top !== undefined) {
        throw imagingError(
          'invalid-dicom',
          label,
          `file ends inside sequence ${formatTag(top.tag)} (missing delimitation item; file truncated?)`,
        );
      }
      return layout;
    }
    elements += 1;
    if (elements > MAX_ELEMENTS) {
      throw imagingError(
        'limit-exceeded',
        label,
        `more than ${MAX_ELEMENTS} data elements before Pixel Data`,
      );
    }
    const currentSyntax = top?.syntax ?? syntax;
    const header = readHeader(bytes, pos, limit, currentSyntax, label);
    const valueStart = pos + header.headerBytes;

    if (header.tag >>> 16 === ITEM_GROUP) {
      pos = handleItemTag(stack, header, valueStart, limit, label);
      continue;
    }
    if (top?.kind === 'sequence') {
      throw imagingError(
        'invalid-dicom',
        label,
        `sequence ${formatTag(top.tag)} holds element ${formatTag(header.tag)} at byte ${pos} where an Item (FFFE,E000) was expected`,
      );
    }
    if (top === undefined && header.tag === Tags.PixelData) {
      layout.headerEnd = pos;
      layout.pixelData = locatePixelData(bytes, header, valueStart, currentSyntax, label);
      return layout;
    }
    if (
      top === undefined &&
      header.tag === Tags.SpecificCharacterSet &&
      header.length !== UNDEFINED_LENGTH
    ) {
      layout.specificCharacterSet = { offset: valueStart, length: header.length };
    }
    pos = enterOrSkip(bytes, stack, header, valueStart, limit, currentSyntax, options);
  }
}

/** Pops defined-length items and sequences whose end has been reached. */
function closeFinishedContainers(stack: Container[], pos: number, label: string | undefined): void {
  for (let top = stack.at(-1); top?.end !== undefined && pos >= top.end; top = stack.at(-1)) {
    if (pos > top.end) {
      throw imagingError(
        'invalid-dicom',
        label,
        `contents of ${top.kind} in ${formatTag(top.tag)} run past its declared length (ends at byte ${top.end}, reached ${pos})`,
      );
    }
    stack.pop();
  }
}

function sequenceDepth(stack: Container[]): number {
  return stack.filter((container) => container.kind === 'sequence').length;
}

/** Handles Item, Item Delimitation and Sequence Delimitation tags (PS3.5 7.5). */
function handleItemTag(
  stack: Container[],
  header: ElementHeader,
  valueStart: number,
  limit: number,
  label: string | undefined,
): number {
  const top = stack.at(-1);
  if (header.tag === Tags.Item && top?.kind === 'sequence') {
    if (header.length === UNDEFINED_LENGTH) {
      stack.push({ kind: 'item', end: undefined, syntax: top.syntax, tag: top.tag });
    } else {
      checkFits(header, valueStart, limit, label);
      stack.push({
        kind: 'item',
        end: valueStart + header.length,
        syntax: top.syntax,
        tag: top.tag,
      });
    }
    return valueStart;
  }
  if (header.tag === Tags.ItemDelimitation && top?.kind === 'item' && top.end === undefined) {
    stack.pop();
    return valueStart;
  }
  if (
    header.tag === Tags.SequenceDelimitation &&
    top?.kind === 'sequence' &&
    top.end === undefined
  ) {
    stack.pop();
    return valueStart;
  }
  throw imagingError(
    'invalid-dicom',
    label,
    `unexpected ${formatTag(header.tag)} at byte ${valueStart - header.headerBytes}` +
      (top === undefined
        ? ' outside any sequence'
        : ` inside ${top.kind} of ${formatTag(top.tag)}`),
  );
}

function checkFits(
  header: ElementHeader,
  valueStart: number,
  limit: number,
  label: string | undefined,
): void {
  if (valueStart + header.length > limit) {
    throw imagingError(
      'invalid-dicom',
      label,
      `element ${formatTag(header.tag)} at byte ${valueStart - header.headerBytes} declares ${header.length} bytes ` +
        `but only ${Math.max(0, limit - valueStart)} remain in its container (file truncated?)`,
    );
  }
}

/** Opens a sequence (counting its depth) or steps over a plain value. Returns the next position. */
function enterOrSkip(
  bytes: Uint8Array,
  stack: Container[],
  header: ElementHeader,
  valueStart: number,
  limit: number,
  syntax: ElementSyntax,
  options: ScanOptions,
): number {
  const { label } = options;
  const defined = header.length !== UNDEFINED_LENGTH;
  const dictionarySequence = options.isSequenceTag(header.tag);
  let inner: ElementSyntax | undefined;
  if (header.vr === 'SQ' || (header.vr === undefined && (dictionarySequence || !defined))) {
    inner = syntax;
  } else if (header.vr === 'UN' && (dictionarySequence || !defined)) {
    inner = IMPLICIT_LE;
  }
  if (inner === undefined) {
    if (!defined && header.tag === Tags.PixelData) {
      // Encapsulated icon or other nested Pixel Data: step over its items.
      return readEncapsulatedItems(bytes, valueStart, syntax, label).end;
    }
    if (!defined) {
      throw imagingError(
        'invalid-dicom',
        label,
        `element ${formatTag(header.tag)} (VR ${header.vr ?? 'implicit'}) has undefined length but is not a sequence`,
      );
    }
    checkFits(header, valueStart, limit, label);
    return valueStart + header.length;
  }
  if (defined) checkFits(header, valueStart, limit, label);
  if (sequenceDepth(stack) >= MAX_SEQUENCE_DEPTH) {
    throw imagingError(
      'invalid-dicom',
      label,
      `sequences nested deeper than ${MAX_SEQUENCE_DEPTH} levels (at ${formatTag(header.tag)}, byte ${valueStart - header.headerBytes})`,
    );
  }
  stack.push({
    kind: 'sequence',
    end: defined ? valueStart + header.length : undefined,
    syntax: inner,
    tag: header.tag,
  });
  return valueStart;
}

/** Locates native Pixel Data (PS3.5 8.1) or the items of encapsulated Pixel Data (PS3.5 A.4). */
function locatePixelData(
  bytes: Uint8Array,
  header: ElementHeader,
  valueStart: number,
  syntax: ElementSyntax,
  label: string | undefined,
): PixelDataLocation {
  if (header.length !== UNDEFINED_LENGTH) {
    if (valueStart + header.length > bytes.length) {
      throw imagingError(
        'invalid-dicom',
        label,
        `Pixel Data declares ${header.length} bytes but only ${bytes.length - valueStart} remain (file truncated?)`,
      );
    }
    return { kind: 'native', offset: valueStart, length: header.length };
  }
  return readEncapsulatedPixelData(bytes, valueStart, syntax, label);
}
