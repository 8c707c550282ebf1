/**
 * The data set in front of Pixel Data, rewrapped as a DICOM Part 10 file for dcmjs: preamble,
 * "DICM", and a File Meta Information group (PS3.10 7.1) holding only its group length and the
 * Transfer Syntax UID that names the data set's encoding.
 *
 * This covers files without a File Meta Information header, files whose meta header dcmjs
 * would reject (missing group length), and deflated files (inflated before the scan).
 */
import {
  PART10_MAGIC,
  PART10_PREAMBLE_BYTES,
  Tags,
  type ByteRange,
  type ElementSyntax,
} from './dicom-binary.js';
import { TransferSyntax } from './transfer-syntax.js';

export interface ParseInput {
  /** Bytes holding the data set (for deflated files: the inflated data set). */
  bytes: Uint8Array;
  /** Where the data set starts in `bytes`. */
  start: number;
  /** Where Pixel Data starts (or the end of the data set). */
  end: number;
  syntax: ElementSyntax;
  /** Value of Specific Character Set, to be blanked (see `blankCharacterSet`). */
  specificCharacterSet?: ByteRange;
}

const FILE_META_GROUP_LENGTH = 0x00020000;
const SPACE = 0x20;
const BYTE_MASK = 0xff;
const BITS_PER_BYTE = 8;
const UINT16_BYTES = 2;
const UINT32_BYTES = 4;
const ELEMENT_MASK = 0xffff;

/** Preamble, magic, meta group, then a copy of the data set up to Pixel Data. */
export function wrapAsPart10(input: ParseInput): ArrayBuffer {
  const uid = padUid(syntaxUid(input.syntax));
  const uidElement = explicitElement(Tags.TransferSyntaxUID, 'UI', ascii(uid));
  const groupLength = explicitElement(
    FILE_META_GROUP_LENGTH,
    'UL',
    littleEndian(uidElement.length, UINT32_BYTES),
  );
  const header = [...ascii(PART10_MAGIC), ...groupLength, ...uidElement];
  const dataset = input.bytes.subarray(input.start, input.end);
  const datasetStart = PART10_PREAMBLE_BYTES + header.length;
  const out = new Uint8Array(datasetStart + dataset.length);
  out.set(header, PART10_PREAMBLE_BYTES);
  out.set(dataset, datasetStart);
  if (input.specificCharacterSet !== undefined) {
    const { offset, length } = input.specificCharacterSet;
    blankCharacterSet(out, datasetStart + offset - input.start, length);
  }
  return out.buffer;
}

function syntaxUid(syntax: ElementSyntax): string {
  if (!syntax.littleEndian) return TransferSyntax.ExplicitVrBigEndian;
  return syntax.implicitVr
    ? TransferSyntax.ImplicitVrLittleEndian
    : TransferSyntax.ExplicitVrLittleEndian;
}

/** UI values are padded to even length with NUL (PS3.5 6.2). */
function padUid(uid: string): string {
  return uid.length % 2 === 0 ? uid : `${uid}\0`;
}

/** An explicit VR little endian element with a 2-byte length (PS3.5 7.1.2). */
function explicitElement(tag: number, vr: 'UI' | 'UL', value: number[]): number[] {
  const group = tag >>> (UINT16_BYTES * BITS_PER_BYTE);
  const element = tag & ELEMENT_MASK;
  return [
    ...littleEndian(group, UINT16_BYTES),
    ...littleEndian(element, UINT16_BYTES),
    ...ascii(vr),
    ...littleEndian(value.length, UINT16_BYTES),
    ...value,
  ];
}

/**
 * Replaces the value of Specific Character Set with spaces (the default repertoire).
 *
 * Every attribute read here is ASCII-only (CS, UI, DS, IS, binary), so the character set does
 * not matter, while dcmjs refuses to parse at all when it meets a repertoire it lacks (e.g.
 * ISO 2022 code extensions). Names and other text are never read.
 */
function blankCharacterSet(bytes: Uint8Array, offset: number, length: number): void {
  bytes.fill(SPACE, offset, offset + length);
}

function ascii(text: string): number[] {
  return Array.from(text, (char) => char.charCodeAt(0));
}

function littleEndian(value: number, bytes: number): number[] {
  return Array.from(
    { length: bytes },
    (_, index) => Math.floor(value / 2 ** (BITS_PER_BYTE * index)) & BYTE_MASK,
  );
}
