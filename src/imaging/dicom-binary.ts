/**
 * Byte-level building blocks of the DICOM encoding (PS3.5 Section 7): element header layout,
 * the item and delimiter tags, and endian-aware integer reads.
 */

/** How the elements of a data set are encoded (PS3.5 7.1). */
export interface ElementSyntax {
  implicitVr: boolean;
  littleEndian: boolean;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export const Tags = {
  TransferSyntaxUID: 0x00020010,
  SpecificCharacterSet: 0x00080005,
  PixelData: 0x7fe00010,
  Item: 0xfffee000,
  ItemDelimitation: 0xfffee00d,
  SequenceDelimitation: 0xfffee0dd,
} as const;

/** A Part 10 file starts with a 128-byte preamble, then "DICM" (PS3.10 7.1). */
export const PART10_PREAMBLE_BYTES = 128;
export const PART10_MAGIC = 'DICM';
/** File Meta Information group (PS3.10 7.1). */
export const META_GROUP = 0x0002;
/** Group of Item and delimitation tags (PS3.5 7.5). */
export const ITEM_GROUP = 0xfffe;
/** Value length meaning "undefined, ends with a delimitation item" (PS3.5 7.1.1). */
export const UNDEFINED_LENGTH = 0xffffffff;
export const TAG_BYTES = 4;
/** Tag, then VR and 2-byte length (explicit) or 4-byte length (implicit, items). */
export const SHORT_HEADER_BYTES = 8;
/** Tag, VR, 2 reserved bytes, 4-byte length (PS3.5 7.1.2). */
export const LONG_HEADER_BYTES = 12;
/** Offset of the 2-byte length in a short explicit VR header. */
export const SHORT_LENGTH_OFFSET = 6;
export const VR_BYTES = 2;

/** Every VR of PS3.5 Table 6.2-1. */
export const VRS = new Set(
  'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(
    ' ',
  ),
);

/** VRs whose explicit encoding has a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
export const LONG_FORM_VRS = new Set('OB OD OF OL OV OW SQ SV UC UN UR UT UV'.split(' '));

export function readUint16(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  const a = bytes[offset] ?? 0;
  const b = bytes[offset + 1] ?? 0;
  return littleEndian ? a | (b << 8) : (a << 8) | b;
}

export function readUint32(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  const low = readUint16(bytes, offset + (littleEndian ? 0 : 2), littleEndian);
  const high = readUint16(bytes, offset + (littleEndian ? 2 : 0), littleEndian);
  return high * 0x10000 + low;
}

/** A tag as one number, group in the high 16 bits. */
export function readTag(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  const group = readUint16(bytes, offset, littleEndian);
  const element = readUint16(bytes, offset + 2, littleEndian);
  return group * 0x10000 + element;
}

/** Bytes as Latin-1 text (VRs, UIDs). */
export function asciiAt(bytes: Uint8Array, offset: number, length: number): string {
  let text = '';
  const end = Math.min(bytes.length, offset + length);
  for (let i = offset; i < end; i++) text += String.fromCharCode(bytes[i] ?? 0);
  return text;
}

export interface ElementHeader {
  tag: number;
  /** Undefined for implicit VR, and for items and delimiters, which have no VR. */
  vr: string | undefined;
  length: number;
  headerBytes: number;
}

/**
 * Reads the element header at `pos` as laid out in PS3.5 7.1.2 (explicit VR) or 7.1.3
 * (implicit VR). No validation: callers check bounds and the VR.
 */
export function readElementHeader(
  bytes: Uint8Array,
  pos: number,
  syntax: ElementSyntax,
): ElementHeader {
  const { littleEndian } = syntax;
  const tag = readTag(bytes, pos, littleEndian);
  if (syntax.implicitVr || tag >>> 16 === ITEM_GROUP) {
    return {
      tag,
      vr: undefined,
      length: readUint32(bytes, pos + TAG_BYTES, littleEndian),
      headerBytes: SHORT_HEADER_BYTES,
    };
  }
  const vr = asciiAt(bytes, pos + TAG_BYTES, VR_BYTES);
  if (LONG_FORM_VRS.has(vr)) {
    return {
      tag,
      vr,
      length: readUint32(bytes, pos + SHORT_HEADER_BYTES, littleEndian),
      headerBytes: LONG_HEADER_BYTES,
    };
  }
  return {
    tag,
    vr,
    length: readUint16(bytes, pos + SHORT_LENGTH_OFFSET, littleEndian),
    headerBytes: SHORT_HEADER_BYTES,
  };
}
