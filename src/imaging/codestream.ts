/**
 * Just enough parsing of compressed codestreams to check them against the DICOM header before
 * a codec allocates anything: frame size, components and precision from the JPEG frame header
 * (ITU-T T.81 B.2.2, JPEG-LS T.87 C.2.2) or the JPEG 2000 SIZ marker (ISO/IEC 15444-1 A.5.1),
 * and whether the stream ends with its end marker (EOI / EOC) rather than being cut short.
 */

export interface CodestreamHeader {
  width: number;
  height: number;
  components: number;
  precision: number;
  /** JPEG family only: the frame marker tells baseline/extended, lossless and JPEG-LS apart. */
  process?: 'dct' | 'lossless' | 'jpeg-ls' | 'other';
}

const MARKER_PREFIX = 0xff;
const MARKER_BYTES = 2;
const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const RST_FIRST = 0xd0;
const RST_LAST = 0xd7;
const SOF_BASELINE = 0xc0;
const SOF_EXTENDED = 0xc1;
const SOF_LOSSLESS = 0xc3;
const SOF_JPEG_LS = 0xf7;
const DHT = 0xc4;
const JPG = 0xc8;
const DAC = 0xcc;
const SOF_FIRST = 0xc0;
const SOF_LAST = 0xcf;
const J2K_SOC = 0xff4f;
const J2K_SIZ = 0xff51;
/** Byte offsets in a JPEG frame header, from its marker (T.81 Figure B.3). */
const SOF_FIELD = { length: 2, precision: 4, lines: 5, samplesPerLine: 7, components: 9 } as const;

/** Byte offsets in a J2K codestream that starts SOC, SIZ (15444-1 Figure A.7). */
const SIZ_FIELD = {
  marker: 2,
  xsiz: 8,
  ysiz: 12,
  xOffset: 16,
  yOffset: 20,
  csiz: 40,
  firstSsiz: 42,
} as const;
const SSIZ_PRECISION_MASK = 0x7f;

/** Bytes after the end marker tolerated as padding (fragments are padded to even length). */
const END_MARKER_SLACK = 16;

function u16(data: Uint8Array, offset: number): number {
  return ((data[offset] ?? 0) << 8) | (data[offset + 1] ?? 0);
}

function u32(data: Uint8Array, offset: number): number {
  return u16(data, offset) * 0x10000 + u16(data, offset + 2);
}

function isStartOfFrame(marker: number): boolean {
  return (
    marker >= SOF_FIRST && marker <= SOF_LAST && marker !== DHT && marker !== JPG && marker !== DAC
  );
}

function processOf(marker: number): CodestreamHeader['process'] {
  if (marker === SOF_BASELINE || marker === SOF_EXTENDED) return 'dct';
  if (marker === SOF_LOSSLESS) return 'lossless';
  if (marker === SOF_JPEG_LS) return 'jpeg-ls';
  return 'other';
}

/** Reads the frame header of a JPEG or JPEG-LS stream, or returns a reason it cannot. */
export function readJpegHeader(data: Uint8Array): CodestreamHeader | string {
  if (data[0] !== MARKER_PREFIX || data[1] !== SOI)
    return 'stream does not start with the SOI marker';
  let pos = MARKER_BYTES;
  while (pos + MARKER_BYTES * 2 <= data.length) {
    if (data[pos] !== MARKER_PREFIX) return `expected a marker at byte ${pos}`;
    const marker = data[pos + 1] ?? 0;
    if (marker === MARKER_PREFIX) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === TEM || (marker >= RST_FIRST && marker <= RST_LAST)) {
      pos += MARKER_BYTES;
      continue;
    }
    if (marker === SOS || marker === EOI) return 'no frame header before the scan';
    const length = u16(data, pos + SOF_FIELD.length);
    if (isStartOfFrame(marker) || marker === SOF_JPEG_LS) {
      if (pos + SOF_FIELD.components >= data.length) return 'frame header is truncated';
      return {
        precision: data[pos + SOF_FIELD.precision] ?? 0,
        height: u16(data, pos + SOF_FIELD.lines),
        width: u16(data, pos + SOF_FIELD.samplesPerLine),
        components: data[pos + SOF_FIELD.components] ?? 0,
        process: processOf(marker),
      };
    }
    pos += MARKER_BYTES + length;
  }
  return 'stream ends before a frame header';
}

/** Reads the SIZ marker of a JPEG 2000 (or HTJ2K) codestream, or returns a reason it cannot. */
export function readJ2kHeader(data: Uint8Array): CodestreamHeader | string {
  if (u16(data, 0) !== J2K_SOC) return 'codestream does not start with the SOC marker (FF4F)';
  if (u16(data, SIZ_FIELD.marker) !== J2K_SIZ) return 'SIZ marker (FF51) does not follow SOC';
  if (data.length <= SIZ_FIELD.firstSsiz) return 'SIZ marker is truncated';
  return {
    width: u32(data, SIZ_FIELD.xsiz) - u32(data, SIZ_FIELD.xOffset),
    height: u32(data, SIZ_FIELD.ysiz) - u32(data, SIZ_FIELD.yOffset),
    components: u16(data, SIZ_FIELD.csiz),
    precision: ((data[SIZ_FIELD.firstSsiz] ?? 0) & SSIZ_PRECISION_MASK) + 1,
  };
}

/**
 * Whether the stream ends with FFD9 (EOI for JPEG and JPEG-LS, EOC for JPEG 2000), allowing a
 * little padding after it. Entropy-coded data cannot contain FFD9, so a missing end marker
 * means the stream was cut short.
 */
export function hasEndMarker(data: Uint8Array): boolean {
  const from = Math.max(0, data.length - END_MARKER_SLACK - MARKER_BYTES);
  for (let i = data.length - MARKER_BYTES; i >= from; i--) {
    if (data[i] === MARKER_PREFIX && data[i + 1] === EOI) return true;
  }
  return false;
}
