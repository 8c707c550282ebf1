/**
 * A minimal DICOM writer for synthetic test inputs: explicit VR little endian (or implicit VR
 * for bare data sets), sequences of undefined length, native or encapsulated Pixel Data.
 */

export type Value = string | number[] | Uint8Array | Element[][];

export interface Element {
  tag: number;
  vr: string;
  value: Value;
}

export interface WriteOptions {
  /** Written into the File Meta Information; ignored when `part10` is false. */
  transferSyntax?: string;
  /** Preamble, "DICM" and File Meta Information (default true). */
  part10?: boolean;
  /** Encode the data set with implicit VR (default false). */
  implicit?: boolean;
  /** Encapsulated Pixel Data: offset table entries and fragments. */
  encapsulated?: { offsetTable?: number[]; fragments: Uint8Array[] };
}

const LONG_FORM = new Set([
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'SQ',
  'SV',
  'UC',
  'UN',
  'UR',
  'UT',
  'UV',
]);
const UNDEFINED = 0xffffffff;

class Bytes {
  readonly parts: number[] = [];
  u8(...values: number[]): this {
    this.parts.push(...values.map((value) => value & 0xff));
    return this;
  }
  u16(value: number): this {
    return this.u8(value, value >> 8);
  }
  u32(value: number): this {
    return this.u8(value, value >>> 8, value >>> 16, value >>> 24);
  }
  tag(tag: number): this {
    return this.u16(tag >>> 16).u16(tag & 0xffff);
  }
  raw(bytes: Uint8Array | number[]): this {
    for (const byte of bytes) this.parts.push(byte);
    return this;
  }
  toUint8Array(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function encodeValue(vr: string, value: Value): Uint8Array {
  if (value instanceof Uint8Array)
    return value.length % 2 === 0 ? value : Uint8Array.from([...value, 0]);
  if (typeof value === 'string') {
    const pad = vr === 'UI' ? '\0' : ' ';
    const text = value.length % 2 === 0 ? value : value + pad;
    return Uint8Array.from(text, (char) => char.charCodeAt(0));
  }
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'number')) {
    const out = new Bytes();
    for (const number of value) {
      if (vr === 'US' || vr === 'SS') out.u16(number);
      else if (vr === 'UL' || vr === 'SL') out.u32(number);
      else throw new Error(`numbers are only written for US, SS, UL, SL (got ${vr})`);
    }
    return out.toUint8Array();
  }
  throw new Error(`cannot encode ${vr}`);
}

function writeElements(out: Bytes, elements: Element[], implicit: boolean): void {
  for (const element of [...elements].sort((a, b) => a.tag - b.tag)) {
    out.tag(element.tag);
    if (element.vr === 'SQ') {
      if (!implicit) out.u8(0x53, 0x51, 0, 0);
      out.u32(UNDEFINED);
      for (const item of element.value as Element[][]) {
        out.tag(0xfffee000).u32(UNDEFINED);
        writeElements(out, item, implicit);
        out.tag(0xfffee00d).u32(0);
      }
      out.tag(0xfffee0dd).u32(0);
      continue;
    }
    const bytes = encodeValue(element.vr, element.value);
    if (implicit) {
      out.u32(bytes.length);
    } else if (LONG_FORM.has(element.vr)) {
      out.u8(element.vr.charCodeAt(0), element.vr.charCodeAt(1), 0, 0).u32(bytes.length);
    } else {
      out.u8(element.vr.charCodeAt(0), element.vr.charCodeAt(1)).u16(bytes.length);
    }
    out.raw(bytes);
  }
}

function writeEncapsulated(out: Bytes, pixels: NonNullable<WriteOptions['encapsulated']>): void {
  out.tag(0x7fe00010).u8(0x4f, 0x42, 0, 0).u32(UNDEFINED);
  const table = pixels.offsetTable ?? [];
  out.tag(0xfffee000).u32(table.length * 4);
  for (const offset of table) out.u32(offset);
  for (const fragment of pixels.fragments) {
    const even = fragment.length % 2 === 0 ? fragment : Uint8Array.from([...fragment, 0]);
    out.tag(0xfffee000).u32(even.length).raw(even);
  }
  out.tag(0xfffee0dd).u32(0);
}

/** Writes a DICOM file (or bare data set) holding `elements`. */
export function writeDicom(elements: Element[], options: WriteOptions = {}): Uint8Array {
  const out = new Bytes();
  if (options.part10 !== false) {
    const meta = new Bytes();
    writeElements(
      meta,
      [{ tag: 0x00020010, vr: 'UI', value: options.transferSyntax ?? '1.2.840.10008.1.2.1' }],
      false,
    );
    out.raw(new Uint8Array(128)).raw([0x44, 0x49, 0x43, 0x4d]);
    out.tag(0x00020000).u8(0x55, 0x4c).u16(4).u32(meta.parts.length).raw(meta.parts);
  }
  writeElements(out, elements, options.implicit === true);
  if (options.encapsulated !== undefined) writeEncapsulated(out, options.encapsulated);
  return out.toUint8Array();
}

/** Little-endian bytes of 16-bit values. */
export function words(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const value = values[i] ?? 0;
    out[2 * i] = value & 0xff;
    out[2 * i + 1] = (value >> 8) & 0xff;
  }
  return out;
}

/** The Image Pixel Module of a monochrome image, SOP Class, Modality, and a Patient's Name. */
export function imageElements(options: {
  rows: number;
  columns: number;
  bitsAllocated?: number;
  bitsStored?: number;
  signed?: boolean;
  photometric?: string;
  extra?: Element[];
}): Element[] {
  const bitsAllocated = options.bitsAllocated ?? 16;
  const bitsStored = options.bitsStored ?? bitsAllocated;
  const extra = options.extra ?? [];
  const base: Element[] = [
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.1.1' },
    { tag: 0x00080018, vr: 'UI', value: '1.2.3.4.5.6' },
    { tag: 0x00080060, vr: 'CS', value: 'DX' },
    { tag: 0x00100010, vr: 'PN', value: 'Doe^Jane' },
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: options.photometric ?? 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: [options.rows] },
    { tag: 0x00280011, vr: 'US', value: [options.columns] },
    { tag: 0x00280100, vr: 'US', value: [bitsAllocated] },
    { tag: 0x00280101, vr: 'US', value: [bitsStored] },
    { tag: 0x00280102, vr: 'US', value: [bitsStored - 1] },
    { tag: 0x00280103, vr: 'US', value: [options.signed === true ? 1 : 0] },
  ];
  // Extra elements replace base elements with the same tag.
  return [...base.filter((element) => !extra.some((other) => other.tag === element.tag)), ...extra];
}

export function pixelData(bytes: Uint8Array): Element {
  return { tag: 0x7fe00010, vr: 'OW', value: bytes };
}
