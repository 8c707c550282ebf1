/**
 * The pixel pipeline on small synthetic files: stored values (PS3.5 8.1.1), Modality LUT
 * (PS3.3 C.11.1), VOI (C.11.2), polarity, and the header checks and limits.
 */
import test from 'ava';
import type { ErrorCode } from '../../src/errors.js';
import { decodeDicom, readDicomModality } from '../../src/imaging/dicom.js';
import { loadImage } from '../../src/imaging/load.js';
import { imageElements, pixelData, words, writeDicom, type Element } from './dicom-writer.js';
import { encodeRle } from './rle-encoder.js';
import { errorOf } from '../helpers/errors.js';

/** A one-row 16-bit image holding `values`, with extra header elements. */
function row(
  values: number[],
  extra: Element[] = [],
  options: { bitsStored?: number; signed?: boolean } = {},
): Uint8Array {
  return writeDicom([
    ...imageElements({ rows: 1, columns: values.length, extra, ...options }),
    pixelData(words(values)),
  ]);
}

const window = (center: string, width: string, fn?: string): Element[] => [
  { tag: 0x00281050, vr: 'DS', value: center },
  { tag: 0x00281051, vr: 'DS', value: width },
  ...(fn === undefined ? [] : [{ tag: 0x00281056, vr: 'CS', value: fn }]),
];

test('Window Center/Width, LINEAR (C.11.2.1.2.1)', async (t) => {
  const { image } = await decodeDicom(row([0, 50, 100, 200, 300], window('100.5', '201')));
  t.deepEqual(Array.from(image.pixels), [0, 64, 128, 255, 255]);
});

test('only the first of several windows is used', async (t) => {
  const { image } = await decodeDicom(row([0, 100, 200], window('100.5\\1000', '201\\10')));
  t.deepEqual(Array.from(image.pixels), [0, 128, 255]);
});

test('VOI LUT Function LINEAR_EXACT and SIGMOID (C.11.2.1.3)', async (t) => {
  const exact = await decodeDicom(row([0, 100, 200], window('100', '200', 'LINEAR_EXACT')));
  t.deepEqual(Array.from(exact.image.pixels), [0, 128, 255]);
  const sigmoid = await decodeDicom(row([0, 100, 200], window('100', '50', 'SIGMOID')));
  t.deepEqual(Array.from(sigmoid.image.pixels), [0, 128, 255]);
});

test('MONOCHROME1 is inverted for display', async (t) => {
  const { image } = await decodeDicom(
    row(
      [0, 50, 100, 200],
      [...window('100.5', '201'), { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME1' }],
    ),
  );
  t.deepEqual(Array.from(image.pixels), [255, 191, 127, 0]);
});

test('stored values: Bits Stored mask and sign extension (Pixel Representation 1)', async (t) => {
  // 12 bits stored in 16: the top 4 bits hold garbage (e.g. overlay bits) and are ignored.
  const modality = await readDicomModality(
    row([0xf800, 0x07ff, 0xa001, 0x0fff], [], { bitsStored: 12, signed: true }),
  );
  t.deepEqual(Array.from(modality.values), [-2048, 2047, 1, -1]);
  const unsigned = await readDicomModality(row([0xf800, 0x07ff, 0xa001], [], { bitsStored: 12 }));
  t.deepEqual(Array.from(unsigned.values), [2048, 2047, 1]);
});

test('stored values: High Bit above Bits Stored − 1 shifts the value down', async (t) => {
  const modality = await readDicomModality(
    row([0xfff0, 0x0010], [{ tag: 0x00280102, vr: 'US', value: [15] }], { bitsStored: 12 }),
  );
  t.deepEqual(Array.from(modality.values), [0xfff, 1]);
});

test('Rescale Slope and Intercept (C.11.1)', async (t) => {
  const modality = await readDicomModality(
    row(
      [0, 10, 1000],
      [
        { tag: 0x00281052, vr: 'DS', value: '-1024' },
        { tag: 0x00281053, vr: 'DS', value: '2' },
      ],
    ),
  );
  t.deepEqual(Array.from(modality.values), [-1024, -1004, 976]);
});

test('Modality LUT Sequence wins over rescale, clamps outside its range (C.11.1.1)', async (t) => {
  const lut: Element[][] = [
    [
      { tag: 0x00283002, vr: 'US', value: [4, 10, 16] },
      { tag: 0x00283006, vr: 'OW', value: words([100, 200, 300, 400]) },
    ],
  ];
  const modality = await readDicomModality(
    row(
      [5, 10, 11, 13, 50],
      [
        { tag: 0x00283000, vr: 'SQ', value: lut },
        { tag: 0x00281053, vr: 'DS', value: '7' },
      ],
    ),
  );
  t.deepEqual(Array.from(modality.values), [100, 100, 200, 400, 400]);
});

test('VOI LUT Sequence when there is no window (C.11.2.1.1)', async (t) => {
  const voi: Element[][] = [
    [
      { tag: 0x00283002, vr: 'US', value: [3, 0, 8] },
      { tag: 0x00283006, vr: 'OW', value: words([0, 51, 255]) },
    ],
  ];
  const { image } = await decodeDicom(
    row([0, 1, 2, 9], [{ tag: 0x00283010, vr: 'SQ', value: voi }]),
  );
  t.deepEqual(Array.from(image.pixels), [0, 51, 255, 255]);
});

test('no VOI in the header: 0.5–99.5 percentile window, robust to outliers', async (t) => {
  const values = Array.from({ length: 1000 }, (_, i) => 1000 + i);
  values[0] = 0;
  values[1] = 60000;
  const { image } = await decodeDicom(row(values));
  t.is(image.pixels[0], 0);
  t.is(image.pixels[1], 255);
  // The bulk (1000…1999) spreads over nearly the whole output range.
  t.true((image.pixels[10] ?? 255) < 10);
  t.true((image.pixels[990] ?? 0) > 245);
});

test('a constant image does not break the default window', async (t) => {
  const { image } = await decodeDicom(row([7, 7, 7]));
  t.is(image.pixels.length, 3);
});

test('multi-frame native data: the first frame is taken', async (t) => {
  const bytes = writeDicom([
    ...imageElements({ rows: 1, columns: 2, extra: [{ tag: 0x00280008, vr: 'IS', value: '2' }] }),
    pixelData(words([5, 6, 7, 8])),
  ]);
  t.deepEqual(Array.from((await readDicomModality(bytes)).values), [5, 6]);
});

test('encapsulated RLE, multi-frame, with and without Basic Offset Table', async (t) => {
  const frames = [encodeRle([1, 2, 3, 4], 1, 2), encodeRle([9, 9, 9, 9], 1, 2)];
  const elements = imageElements({
    rows: 2,
    columns: 2,
    extra: [{ tag: 0x00280008, vr: 'IS', value: '2' }],
  });
  const secondAt = 8 + (frames[0]?.length ?? 0);
  for (const offsetTable of [[0, secondAt], []]) {
    const bytes = writeDicom(elements, {
      transferSyntax: '1.2.840.10008.1.2.5',
      encapsulated: { offsetTable, fragments: frames },
    });
    t.deepEqual(Array.from((await readDicomModality(bytes)).values), [1, 2, 3, 4]);
  }
});

test('a Specific Character Set dcmjs does not know does not stop decoding', async (t) => {
  const modality = await readDicomModality(
    row([1, 2], [{ tag: 0x00080005, vr: 'CS', value: 'ISO 2022 IR 87' }]),
  );
  t.deepEqual(Array.from(modality.values), [1, 2]);
});

test('implicit VR bare data set', async (t) => {
  const bytes = writeDicom([...imageElements({ rows: 1, columns: 2 }), pixelData(words([3, 4]))], {
    part10: false,
    implicit: true,
  });
  const modality = await readDicomModality(bytes);
  t.is(modality.metadata.transferSyntaxUid, '1.2.840.10008.1.2');
  t.deepEqual(Array.from(modality.values), [3, 4]);
});

test('no Pixel Data in a non-image SOP Class: "not an image"', async (t) => {
  const sr = writeDicom([
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.88.22' },
    { tag: 0x00080060, vr: 'CS', value: 'SR' },
    { tag: 0x00100010, vr: 'PN', value: 'Doe^Jane' },
  ]);
  const error = await errorOf(loadImage(sr, 'report.dcm'));
  t.is(error.code, 'invalid-dicom');
  t.regex(
    error.message,
    /^report\.dcm: no Pixel Data \(7FE0,0010\): SOP Class 1\.2\.840\.10008\.5\.1\.4\.1\.1\.88\.22 .*is not an image/,
  );
  t.false(error.message.includes('Doe'));
});

test('Image Pixel Module errors name the attribute and the expected value', async (t) => {
  const cases: { elements: Element[]; pixels: number[]; code: ErrorCode; message: RegExp }[] = [
    {
      elements: imageElements({ rows: 20000, columns: 10 }),
      pixels: [0],
      code: 'limit-exceeded',
      message: /Rows \(0028,0010\) is 20000; at most 16384/,
    },
    {
      elements: imageElements({ rows: 0, columns: 10 }),
      pixels: [0],
      code: 'invalid-dicom',
      message: /Rows \(0028,0010\) is 0; expected 1 to 16384/,
    },
    {
      elements: imageElements({ rows: 4, columns: 4 }),
      pixels: [1, 2, 3],
      code: 'invalid-dicom',
      message: /Pixel Data holds 6 bytes but Rows \(4\) × Columns \(4\) .* needs 32/,
    },
    {
      elements: imageElements({ rows: 16384, columns: 16384, bitsAllocated: 32 }),
      pixels: [0],
      code: 'limit-exceeded',
      message: /at most 536870912 is decoded/,
    },
    {
      elements: imageElements({
        rows: 1,
        columns: 1,
        extra: [{ tag: 0x00280100, vr: 'US', value: [12] }],
      }),
      pixels: [0],
      code: 'unsupported-format',
      message: /Bits Allocated \(0028,0100\) is 12; expected 8, 16 or 32/,
    },
    {
      elements: imageElements({ rows: 1, columns: 1, photometric: 'PALETTE COLOR' }),
      pixels: [0],
      code: 'unsupported-format',
      message: /Photometric Interpretation \(0028,0004\) PALETTE COLOR is not supported/,
    },
    {
      elements: imageElements({
        rows: 1,
        columns: 1,
        bitsStored: 12,
        extra: [{ tag: 0x00280102, vr: 'US', value: [3] }],
      }),
      pixels: [0],
      code: 'invalid-dicom',
      message: /High Bit \(0028,0102\) is 3; expected 11 to 15/,
    },
  ];
  for (const { elements, pixels, code, message } of cases) {
    const error = await errorOf(
      loadImage(writeDicom([...elements, pixelData(words(pixels))]), 'x.dcm'),
    );
    t.is(error.code, code, error.message);
    t.regex(error.message, message);
  }
});

test('an unsupported transfer syntax is named', async (t) => {
  const bytes = writeDicom(imageElements({ rows: 1, columns: 1 }), {
    transferSyntax: '1.2.840.10008.1.2.4.100',
    encapsulated: { fragments: [new Uint8Array(4)] },
  });
  const error = await errorOf(loadImage(bytes, 'mpeg.dcm'));
  t.is(error.code, 'unsupported-transfer-syntax');
  t.regex(
    error.message,
    /Transfer Syntax UID \(0002,0010\) 1\.2\.840\.10008\.1\.2\.4\.100 is not supported/,
  );
});

test('deep sequence nesting is refused quickly, without recursion', async (t) => {
  let nested: Element[] = [{ tag: 0x00080100, vr: 'SH', value: 'X' }];
  for (let depth = 0; depth < 1000; depth++)
    nested = [{ tag: 0x00400275, vr: 'SQ', value: [nested] }];
  const bytes = writeDicom([
    ...imageElements({ rows: 1, columns: 1 }),
    ...nested,
    pixelData(words([0])),
  ]);
  const started = performance.now();
  const error = await errorOf(loadImage(bytes, 'deep.dcm'));
  t.true(performance.now() - started < 1000);
  t.is(error.code, 'invalid-dicom');
  t.regex(error.message, /nested deeper than 32 levels/);
});

test('an element longer than the file is reported as truncation', async (t) => {
  const bytes = row([1, 2, 3, 4]);
  const error = await errorOf(loadImage(bytes.subarray(0, bytes.length - 3), 'short.dcm'));
  t.is(error.code, 'invalid-dicom');
  t.regex(error.message, /Pixel Data declares 8 bytes but only 5 remain \(file truncated\?\)/);
});
