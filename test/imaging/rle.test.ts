/**
 * RLE Lossless decoder (PS3.5 Annex G): round trips through a test encoder, and malformed input.
 */
import test from 'ava';
import { decodeRle, RleError } from '../../src/imaging/rle.js';
import { encodeRle } from './rle-encoder.js';

/** Deterministic pseudo-random values with long runs mixed in, as in real images. */
function testSamples(count: number, max: number, seed: number): number[] {
  let state = seed;
  const values: number[] = [];
  while (values.length < count) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const value = state % (max + 1);
    const run = state % 7 === 0 ? 1 + (state % 300) : 1;
    for (let i = 0; i < run && values.length < count; i++) values.push(value);
  }
  return values;
}

const cases = [
  { name: '8-bit grayscale', rows: 37, columns: 53, samplesPerPixel: 1, bitsAllocated: 8 },
  { name: '16-bit grayscale', rows: 64, columns: 61, samplesPerPixel: 1, bitsAllocated: 16 },
  { name: '8-bit RGB', rows: 20, columns: 33, samplesPerPixel: 3, bitsAllocated: 8 },
  { name: '32-bit grayscale', rows: 9, columns: 15, samplesPerPixel: 1, bitsAllocated: 32 },
];

for (const layout of cases) {
  test(`RLE round trip: ${layout.name}`, (t) => {
    const bytesPerSample = layout.bitsAllocated / 8;
    const samples = testSamples(
      layout.rows * layout.columns * layout.samplesPerPixel,
      2 ** layout.bitsAllocated - 1,
      7,
    );
    const encoded = encodeRle(samples, layout.samplesPerPixel, bytesPerSample);
    const decoded = decodeRle(encoded, layout);
    t.is(decoded.length, samples.length);
    t.deepEqual(Array.from(decoded), samples);
  });
}

const layout = { rows: 8, columns: 8, samplesPerPixel: 1, bitsAllocated: 16 };
const good = encodeRle(testSamples(64, 65535, 3), 1, 2);

test('RLE: segment count must match Samples per Pixel × bytes per sample', (t) => {
  const error = t.throws(() => decodeRle(good, { ...layout, bitsAllocated: 8 }), {
    instanceOf: RleError,
  });
  t.regex(error.message, /lists 2 segments.*needs 1/);
});

test('RLE: a short header is refused', (t) => {
  t.throws(() => decodeRle(good.subarray(0, 40), layout), {
    instanceOf: RleError,
    message: /64-byte header/,
  });
});

test('RLE: a truncated segment is refused', (t) => {
  t.throws(() => decodeRle(good.subarray(0, good.length - 6), layout), {
    instanceOf: RleError,
    message: /decodes to \d+ bytes/,
  });
});

test('RLE: segment offsets outside the frame are refused', (t) => {
  const broken = new Uint8Array(good);
  new DataView(broken.buffer).setUint32(8, 0x7fffffff, true);
  t.throws(() => decodeRle(broken, layout), { instanceOf: RleError, message: /offset/ });
});

test('RLE: output is bounded by the image size whatever the runs say', (t) => {
  // One segment of 200 replicate runs of 128 bytes would be 25600 bytes for a 64-pixel plane.
  const runs = Array.from({ length: 200 }, () => [0x81, 7]).flat();
  const frame = new Uint8Array(64 + runs.length);
  new DataView(frame.buffer).setUint32(0, 1, true);
  new DataView(frame.buffer).setUint32(4, 64, true);
  frame.set(runs, 64);
  const decoded = decodeRle(frame, { rows: 8, columns: 8, samplesPerPixel: 1, bitsAllocated: 8 });
  t.is(decoded.length, 64);
  t.true(Array.from(decoded).every((value) => value === 7));
});
