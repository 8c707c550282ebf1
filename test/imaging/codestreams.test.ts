/**
 * Encapsulated codestreams that are cut short, disagree with the header, or come from a codec
 * no sample uses (HTJ2K): rewrapped from the samples with the test writer.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readDicomModality } from '../../src/imaging/dicom.js';
import { locateDataset } from '../../src/imaging/dicom-file.js';
import { isSequenceTag } from '../../src/imaging/dicom-parse.js';
import { scanDataset } from '../../src/imaging/dicom-scan.js';
import { loadImage } from '../../src/imaging/load.js';
import { imageElements, writeDicom } from './dicom-writer.js';
import { samplesDir } from './reference.js';
import { errorOf } from '../helpers/errors.js';

const J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';
const HTJ2K_LOSSLESS = '1.2.840.10008.1.2.4.201';

/** The joined fragments of a single-frame encapsulated sample. */
async function codestreamOf(file: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(join(samplesDir, file)));
  const { datasetBytes, datasetOffset } = locateDataset(bytes, file);
  const layout = scanDataset(
    datasetBytes,
    datasetOffset,
    { implicitVr: false, littleEndian: true },
    {
      label: file,
      isSequenceTag,
    },
  );
  if (layout.pixelData?.kind !== 'encapsulated') throw new Error(`${file} is not encapsulated`);
  const parts = layout.pixelData.fragments.map((fragment) =>
    datasetBytes.subarray(fragment.offset, fragment.offset + fragment.length),
  );
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

const leg = {
  rows: 1760,
  columns: 1760,
  bitsAllocated: 16,
  bitsStored: 10,
  photometric: 'MONOCHROME1',
};
const chest = {
  rows: 2446,
  columns: 2010,
  bitsAllocated: 8,
  bitsStored: 8,
  photometric: 'MONOCHROME1',
};

test('a JPEG 2000 codestream cut short is decode-failed (no EOC marker)', async (t) => {
  const stream = await codestreamOf('cr-lower-leg-j2k-lossless.dcm');
  const bytes = writeDicom(imageElements(leg), {
    transferSyntax: J2K_LOSSLESS,
    encapsulated: { fragments: [stream.subarray(0, Math.floor(stream.length / 2))] },
  });
  const error = await errorOf(loadImage(bytes, 'half.dcm'));
  t.is(error.code, 'decode-failed');
  t.regex(
    error.message,
    /^half\.dcm: JPEG 2000 codestream has no end marker \(FFD9\): the frame is truncated/,
  );
});

test('a JPEG baseline stream cut short is decode-failed', async (t) => {
  const stream = await codestreamOf('cr-chest-mono1-jpeg-baseline.dcm');
  const bytes = writeDicom(imageElements(chest), {
    transferSyntax: JPEG_BASELINE,
    encapsulated: { fragments: [stream.subarray(0, 100_000)] },
  });
  const error = await errorOf(loadImage(bytes, 'cut.dcm'));
  t.is(error.code, 'decode-failed');
  t.regex(error.message, /truncated/);
});

test('a JPEG 2000 header that disagrees with Rows/Columns is refused before decoding', async (t) => {
  const stream = await codestreamOf('cr-lower-leg-j2k-lossless.dcm');
  const bytes = writeDicom(imageElements({ ...leg, rows: 100 }), {
    transferSyntax: J2K_LOSSLESS,
    encapsulated: { fragments: [stream] },
  });
  const error = await errorOf(loadImage(bytes, 'wrong.dcm'));
  t.is(error.code, 'invalid-dicom');
  t.regex(
    error.message,
    /JPEG 2000 frame is 1760x1760 with 1 component\(s\), but Columns × Rows × Samples per Pixel are 1760x100x1/,
  );
});

test('a JPEG 2000 stream without SIZ is decode-failed', async (t) => {
  const bytes = writeDicom(imageElements(leg), {
    transferSyntax: J2K_LOSSLESS,
    encapsulated: { fragments: [Uint8Array.from([0xff, 0x4f, 0x12, 0x34, 0, 0, 0xff, 0xd9])] },
  });
  const error = await errorOf(loadImage(bytes, 'nosiz.dcm'));
  t.is(error.code, 'decode-failed');
  t.regex(error.message, /SIZ marker \(FF51\) does not follow SOC/);
});

test('a baseline JPEG frame labelled JPEG Lossless is still decoded by the right codec', async (t) => {
  const stream = await codestreamOf('cr-chest-mono1-jpeg-baseline.dcm');
  const right = await readDicomModality(
    await readFile(join(samplesDir, 'cr-chest-mono1-jpeg-baseline.dcm')),
  );
  const mislabelled = writeDicom(imageElements(chest), {
    transferSyntax: JPEG_LOSSLESS_SV1,
    encapsulated: { fragments: [stream] },
  });
  const decoded = await readDicomModality(mislabelled);
  t.is(decoded.values.length, right.values.length);
  t.true(decoded.values.every((value, index) => value === right.values[index]));
});

test('HTJ2K (OpenJPH) round trip', async (t) => {
  interface Encoder {
    getDecodedBuffer(info: Record<string, unknown>): Uint8Array;
    encode(): void;
    getEncodedBuffer(): Uint8Array;
    delete(): void;
  }
  const require = createRequire(import.meta.url);
  const factory = require('@cornerstonejs/codec-openjph/wasmjs') as (
    options: Record<string, unknown>,
  ) => Promise<{ HTJ2KEncoder: new () => Encoder }>;
  const codec = await factory({ print: () => undefined, printErr: () => undefined });
  const width = 37;
  const height = 23;
  const values = Array.from({ length: width * height }, (_, i) => (i * 37) % 4096);
  const encoder = new codec.HTJ2KEncoder();
  let stream: Uint8Array;
  try {
    const raw = encoder.getDecodedBuffer({
      width,
      height,
      bitsPerSample: 12,
      componentCount: 1,
      isSigned: false,
      isUsingColorTransform: false,
    });
    new Uint16Array(raw.buffer, raw.byteOffset, width * height).set(values);
    encoder.encode();
    stream = new Uint8Array(encoder.getEncodedBuffer());
  } finally {
    encoder.delete();
  }
  const bytes = writeDicom(imageElements({ rows: height, columns: width, bitsStored: 12 }), {
    transferSyntax: HTJ2K_LOSSLESS,
    encapsulated: { fragments: [stream] },
  });
  const decoded = await readDicomModality(bytes, 'htj2k.dcm');
  t.deepEqual(Array.from(decoded.values), values);
});
