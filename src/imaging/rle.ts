/**
 * RLE Lossless decoding (PS3.5 Annex G).
 *
 * A frame is one fragment: a 64-byte header (number of segments, then up to 15 segment
 * offsets, all 32-bit little endian) followed by the segments. Each segment is one byte plane,
 * PackBits-encoded (G.3.1): for each sample in turn, the most significant byte plane first.
 * Decoding is bounded by the expected plane size, so hostile input cannot grow the output.
 */

export interface RleLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

const HEADER_BYTES = 64;
const MAX_SEGMENTS = 15;
const OFFSET_BYTES = 4;
const BITS_PER_BYTE = 8;
const SUPPORTED_BYTES_PER_SAMPLE = [1, 2, 4];
/** PackBits header byte −128 is a no-op (G.3.2). */
const NO_OP = -128;
const SIGN_BIT = 0x80;
const BYTE_RANGE = 0x100;

/** Thrown for malformed RLE data; the message says what is wrong. */
export class RleError extends Error {
  override readonly name = 'RleError';
}

function uint32le(data: Uint8Array, offset: number): number {
  return (
    (data[offset] ?? 0) +
    (data[offset + 1] ?? 0) * 0x100 +
    (data[offset + 2] ?? 0) * 0x10000 +
    (data[offset + 3] ?? 0) * 0x1000000
  );
}

/**
 * Decodes one RLE frame into composite sample values (PS3.5 8.1.1 bit layout), pixel
 * interleaved: for 8-bit data a Uint8Array, for 16-bit a Uint16Array, for 32-bit a Uint32Array.
 */
export function decodeRle(
  data: Uint8Array,
  layout: RleLayout,
): Uint8Array | Uint16Array | Uint32Array {
  const bytesPerSample = layout.bitsAllocated / BITS_PER_BYTE;
  if (!SUPPORTED_BYTES_PER_SAMPLE.includes(bytesPerSample)) {
    throw new RleError(
      `Bits Allocated ${layout.bitsAllocated} cannot be RLE encoded (expected 8, 16 or 32)`,
    );
  }
  const expectedSegments = layout.samplesPerPixel * bytesPerSample;
  const offsets = readSegmentOffsets(data, expectedSegments);
  const pixels = layout.rows * layout.columns;
  const planes = offsets.map((start, index) =>
    decodeSegment(data, start, offsets[index + 1] ?? data.length, pixels, index),
  );
  return assemble(planes, layout.samplesPerPixel, bytesPerSample, pixels);
}

function readSegmentOffsets(data: Uint8Array, expected: number): number[] {
  if (data.length < HEADER_BYTES)
    throw new RleError(`RLE frame is ${data.length} bytes, shorter than its 64-byte header`);
  const count = uint32le(data, 0);
  if (count !== expected || count > MAX_SEGMENTS) {
    throw new RleError(
      `RLE header lists ${count} segments; Samples per Pixel × bytes per sample needs ${expected}`,
    );
  }
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const offset = uint32le(data, OFFSET_BYTES * (i + 1));
    const previous = offsets.at(-1) ?? HEADER_BYTES - 1;
    if (offset < HEADER_BYTES || offset <= previous || offset >= data.length) {
      throw new RleError(`RLE segment ${i} offset ${offset} is outside the frame or out of order`);
    }
    offsets.push(offset);
  }
  return offsets;
}

/** PackBits decoding of one segment into exactly `size` bytes (G.3.2). */
function decodeSegment(
  data: Uint8Array,
  start: number,
  end: number,
  size: number,
  index: number,
): Uint8Array {
  const out = new Uint8Array(size);
  let pos = start;
  let filled = 0;
  while (filled < size && pos < end) {
    const header = (data[pos] ?? 0) >= SIGN_BIT ? (data[pos] ?? 0) - BYTE_RANGE : (data[pos] ?? 0);
    pos += 1;
    if (header >= 0) {
      const count = Math.min(header + 1, size - filled, end - pos);
      out.set(data.subarray(pos, pos + count), filled);
      filled += count;
      pos += header + 1;
    } else if (header !== NO_OP) {
      const count = Math.min(1 - header, size - filled);
      out.fill(data[pos] ?? 0, filled, filled + count);
      filled += count;
      pos += 1;
    }
  }
  if (filled < size) {
    throw new RleError(
      `RLE segment ${index} decodes to ${filled} bytes; Rows × Columns needs ${size}`,
    );
  }
  return out;
}

/** Joins byte planes (most significant first, sample by sample) into interleaved samples. */
function assemble(
  planes: Uint8Array[],
  samplesPerPixel: number,
  bytesPerSample: number,
  pixels: number,
): Uint8Array | Uint16Array | Uint32Array {
  const out =
    bytesPerSample === 1
      ? new Uint8Array(pixels * samplesPerPixel)
      : bytesPerSample === 2
        ? new Uint16Array(pixels * samplesPerPixel)
        : new Uint32Array(pixels * samplesPerPixel);
  for (let sample = 0; sample < samplesPerPixel; sample++) {
    for (let byte = 0; byte < bytesPerSample; byte++) {
      const plane = planes[sample * bytesPerSample + byte];
      if (plane === undefined) continue;
      const weight = 2 ** (BITS_PER_BYTE * (bytesPerSample - 1 - byte));
      for (let i = 0; i < pixels; i++) {
        const index = i * samplesPerPixel + sample;
        out[index] = (out[index] ?? 0) + (plane[i] ?? 0) * weight;
      }
    }
  }
  return out;
}
