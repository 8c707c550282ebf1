/**
 * Where the data set of a DICOM file starts and how it is encoded.
 *
 * Handles Part 10 files (128-byte preamble, "DICM", File Meta Information, PS3.10 7.1), files
 * that start directly with the File Meta Information group, and bare data sets without any
 * header (old or stripped files), whose encoding is recognised from the first elements.
 */
import { inflateRawSync } from 'node:zlib';
import { errorMessage } from '../errors.js';
import {
  META_GROUP,
  PART10_MAGIC,
  PART10_PREAMBLE_BYTES,
  SHORT_HEADER_BYTES,
  TAG_BYTES,
  Tags,
  UNDEFINED_LENGTH,
  VRS,
  VR_BYTES,
  asciiAt,
  readElementHeader,
  readUint16,
  type ElementSyntax,
} from './dicom-binary.js';
import { formatTag, imagingError } from './fail.js';
import { MAX_INFLATED_BYTES } from './limits.js';
import { TransferSyntax } from './transfer-syntax.js';

/** UIDs are at most 64 characters (PS3.5 9.1). */
const MAX_UID_LENGTH = 64;
/** Elements inspected when recognising a bare data set. */
const SNIFF_ELEMENTS = 4;
/** Groups a bare data set may plausibly start with (File Meta, Identifying, or later). */
const FIRST_GROUP_MIN = 0x0002;
const FIRST_GROUP_MAX = 0x0028;

export interface DicomFileLayout {
  /** Transfer Syntax UID from the meta header, or the one recognised for a bare data set. */
  transferSyntaxUid: string;
  /** Bytes that hold the data set (a new, inflated buffer for deflated files). */
  datasetBytes: Uint8Array;
  /** Where the data set starts within `datasetBytes`. */
  datasetOffset: number;
}

/** "DICM" at byte 128 (PS3.10 7.1). */
export function hasPart10Magic(bytes: Uint8Array): boolean {
  return (
    bytes.length >= PART10_PREAMBLE_BYTES + PART10_MAGIC.length &&
    asciiAt(bytes, PART10_PREAMBLE_BYTES, PART10_MAGIC.length) === PART10_MAGIC
  );
}

/**
 * Recognises a data set without preamble: its first elements must parse as explicit or
 * implicit VR little endian with plausible, ascending tags. Returns the encoding, or undefined.
 */
export function sniffBareDataset(bytes: Uint8Array): ElementSyntax | undefined {
  const group = readUint16(bytes, 0, true);
  if (
    bytes.length < SHORT_HEADER_BYTES ||
    group < FIRST_GROUP_MIN ||
    group > FIRST_GROUP_MAX ||
    group % 2 !== 0
  ) {
    return undefined;
  }
  for (const syntax of [
    { implicitVr: false, littleEndian: true },
    { implicitVr: true, littleEndian: true },
  ]) {
    if (elementsParse(bytes, syntax)) return syntax;
  }
  return undefined;
}

function elementsParse(bytes: Uint8Array, syntax: ElementSyntax): boolean {
  let pos = 0;
  let previous = -1;
  for (let i = 0; i < SNIFF_ELEMENTS && pos < bytes.length; i++) {
    if (pos + SHORT_HEADER_BYTES > bytes.length) return false;
    const header = readElementHeader(bytes, pos, syntax);
    if (header.tag <= previous) return false;
    previous = header.tag;
    if (!syntax.implicitVr && !VRS.has(header.vr ?? '')) return false;
    // Only sequences may have undefined length; we stop at them rather than follow them.
    if (header.length === UNDEFINED_LENGTH) return true;
    pos += header.headerBytes + header.length;
  }
  return pos <= bytes.length;
}

/** Finds the data set and its transfer syntax in a Part 10 file or a bare data set. */
export function locateDataset(bytes: Uint8Array, label: string | undefined): DicomFileLayout {
  let metaStart: number | undefined;
  if (hasPart10Magic(bytes)) {
    metaStart = PART10_PREAMBLE_BYTES + PART10_MAGIC.length;
  } else if (readUint16(bytes, 0, true) === META_GROUP) {
    metaStart = 0;
  }
  if (metaStart === undefined) {
    const syntax = sniffBareDataset(bytes);
    if (syntax === undefined) {
      throw imagingError(
        'invalid-dicom',
        label,
        'neither a DICOM Part 10 file nor a recognisable DICOM data set',
      );
    }
    const uid = syntax.implicitVr
      ? TransferSyntax.ImplicitVrLittleEndian
      : TransferSyntax.ExplicitVrLittleEndian;
    return { transferSyntaxUid: uid, datasetBytes: bytes, datasetOffset: 0 };
  }
  const meta = readFileMeta(bytes, metaStart, label);
  if (meta.transferSyntaxUid === TransferSyntax.DeflatedExplicitVrLittleEndian) {
    return {
      transferSyntaxUid: meta.transferSyntaxUid,
      datasetBytes: inflate(bytes, meta.end, label),
      datasetOffset: 0,
    };
  }
  return {
    transferSyntaxUid: meta.transferSyntaxUid,
    datasetBytes: bytes,
    datasetOffset: meta.end,
  };
}

/**
 * Reads the File Meta Information group (always explicit VR little endian, PS3.10 7.1) for
 * its Transfer Syntax UID, element by element while the group is 0002, so that a wrong or
 * missing group length does not matter.
 */
function readFileMeta(
  bytes: Uint8Array,
  start: number,
  label: string | undefined,
): { transferSyntaxUid: string; end: number } {
  let pos = start;
  let transferSyntaxUid: string | undefined;
  while (pos + SHORT_HEADER_BYTES <= bytes.length && readUint16(bytes, pos, true) === META_GROUP) {
    // Always explicit VR little endian, though some old files write it implicit.
    const implicitVr = !VRS.has(asciiAt(bytes, pos + TAG_BYTES, VR_BYTES));
    const {
      tag,
      length,
      headerBytes: header,
    } = readElementHeader(bytes, pos, { implicitVr, littleEndian: true });
    if (pos + header + length > bytes.length) {
      throw imagingError(
        'invalid-dicom',
        label,
        `File Meta Information element ${formatTag(tag)} declares ${length} bytes past the end of the file (truncated?)`,
      );
    }
    if (tag === Tags.TransferSyntaxUID) {
      if (length > MAX_UID_LENGTH) {
        throw imagingError(
          'invalid-dicom',
          label,
          `Transfer Syntax UID (0002,0010) is ${length} bytes long (at most ${MAX_UID_LENGTH} expected)`,
        );
      }
      transferSyntaxUid = asciiAt(bytes, pos + header, length).replace(/[\0 ]+$/, '');
    }
    pos += header + length;
  }
  if (transferSyntaxUid === undefined || transferSyntaxUid === '') {
    throw imagingError(
      'invalid-dicom',
      label,
      'File Meta Information has no Transfer Syntax UID (0002,0010) (file truncated or not DICOM?)',
    );
  }
  return { transferSyntaxUid, end: pos };
}

/** Inflates a deflated data set (PS3.5 A.5: raw deflate, no zlib header), bounded in size. */
function inflate(bytes: Uint8Array, start: number, label: string | undefined): Uint8Array {
  try {
    return inflateRawSync(bytes.subarray(start), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (error) {
    if (error instanceof RangeError) {
      throw imagingError(
        'limit-exceeded',
        label,
        `deflated data set inflates to more than ${MAX_INFLATED_BYTES} bytes`,
        error,
      );
    }
    throw imagingError(
      'invalid-dicom',
      label,
      `deflated data set could not be inflated: ${errorMessage(error)}`,
      error,
    );
  }
}
