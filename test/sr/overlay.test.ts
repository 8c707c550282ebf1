/**
 * The Secondary Capture overlay built from a val knee: valid for dciodvfy (no errors),
 * decoded by DCMTK (dcmj2pnm) to the picture's size with the source gray where there is no
 * heat, colour where there is, the marks burned in; the header says what it is; the same
 * input gives the same bytes; nothing is logged.
 */
import test from 'ava';
import { join } from 'node:path';
import sharp from 'sharp';
import { JointspaceError } from '../../src/errors.js';
import { SECONDARY_CAPTURE_IMAGE_STORAGE } from '../../src/sr/codes.js';
import {
  OVERLAY_SERIES_DESCRIPTION,
  UNVERIFIED_MARK,
  buildOverlay,
  gradeLabel,
  type OverlayInput,
} from '../../src/sr/overlay.js';
import { overlayUids } from '../../src/sr/uids.js';
import {
  algorithm,
  camHotTopLeft,
  captureOutput,
  errorLines,
  fakeHeader,
  grading,
  items,
  patientValues,
  readDataset,
  rightImage,
  tool,
  valPicture,
  when,
  withFile,
} from './fixtures.js';

async function input(overrides: Partial<OverlayInput> = {}): Promise<OverlayInput> {
  return {
    header: fakeHeader,
    source: rightImage,
    image: await valPicture(),
    grading: { ...grading, cam: camHotTopLeft(grading.klGrade) },
    algorithm,
    contentDateTime: when,
    ...overrides,
  };
}

interface Decoded {
  width: number;
  height: number;
  channels: number;
  data: Buffer;
}

/** The overlay as DCMTK decodes it. */
async function decodeWithDcmtk(bytes: Uint8Array): Promise<Decoded> {
  return withFile(bytes, 'overlay.dcm', async (path, dir) => {
    const png = join(dir, 'overlay.png');
    const { code, output } = await tool('dcmj2pnm', ['+on', path, png]);
    if (code !== 0) throw new Error(`dcmj2pnm failed: ${output}`);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, channels: info.channels, data };
  });
}

function rgbAt(image: Decoded, x: number, y: number): number[] {
  const offset = (y * image.width + x) * image.channels;
  return [...image.data.subarray(offset, offset + 3)];
}

test('dciodvfy finds no errors in the overlay', async (t) => {
  await withFile(await buildOverlay(await input()), 'overlay.dcm', async (path) => {
    const { output } = await tool('dciodvfy', [path]);
    t.true(output.includes('SCImage'), output);
    t.deepEqual(errorLines(output), []);
  });
});

test('DCMTK decodes the overlay: picture size, source gray without heat, colour with it', async (t) => {
  const picture = await valPicture();
  const decoded = await decodeWithDcmtk(await buildOverlay(await input()));
  t.is(decoded.width, picture.width);
  t.is(decoded.height, picture.height);

  // Right of the centre: far from the hot top-left cell, the outline and the text bands.
  for (const [x, y] of [
    [160, 112],
    [112, 150],
    [200, 60],
  ] as const) {
    const gray = picture.pixels[y * picture.width + x] ?? -1;
    t.deepEqual(rgbAt(decoded, x, y), [gray, gray, gray], `pixel ${x},${y} is the source gray`);
  }
  const [red, green, blue] = rgbAt(decoded, 22, 40);
  t.false(red === green && green === blue, 'the hot cell is coloured');
});

test('the grade, the unverified mark and the region outline are burned in', async (t) => {
  const picture = await valPicture();
  const decoded = await decodeWithDcmtk(await buildOverlay(await input()));
  const count = (
    [y0, y1]: [number, number],
    [x0, x1]: [number, number],
    is: (rgb: number[]) => boolean,
  ) => {
    let found = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) if (is(rgbAt(decoded, x, y))) found++;
    }
    return found;
  };
  const all: [number, number] = [0, picture.width];
  const bottom: [number, number] = [picture.height - 16, picture.height];
  const yellow = ([r = 0, g = 0, b = 0]: number[]) => r > 200 && g > 200 && b < 100;
  const red = ([r = 0, g = 0, b = 0]: number[]) => r > 200 && g < 100 && b < 100;
  const green = ([r = 0, g = 0, b = 0]: number[]) => g > 150 && r < 100 && b < 100;
  t.true(count([0, 16], all, yellow) > 100, 'yellow grade text in the top band');
  t.true(count(bottom, all, red) > 100, 'red unverified text in the bottom band');
  t.true(count([40, 180], [0, 1], green) > 100, 'green outline on the left edge');
});

/** Ink of a text rendered the way the overlay renders its marks. */
async function ink(text: string): Promise<number> {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="30">' +
    `<text x="4" y="22" font-family="'DejaVu Sans', sans-serif" font-size="18" ` +
    `font-weight="bold" fill="white">${text}</text></svg>`;
  const { data } = await sharp(Buffer.from(svg))
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data.reduce((sum, value) => sum + value, 0);
}

test('a real font draws the marks: different letters leave different ink', async (t) => {
  // Without any font, every glyph becomes the same empty box and both would be equal.
  t.not(await ink('IIIIIIII'), await ink('WWWWWWWW'), 'install a font, e.g. fonts-dejavu-core');
});

test('the overlay header says what it is and where it came from', async (t) => {
  const dataset = readDataset(await buildOverlay(await input()));
  t.is(dataset.SOPClassUID, SECONDARY_CAPTURE_IMAGE_STORAGE);
  t.is(dataset.BurnedInAnnotation, 'YES');
  t.is(dataset.ConversionType, 'WSD');
  t.is(dataset.PhotometricInterpretation, 'RGB');
  t.is(dataset.SamplesPerPixel, 3);
  t.is(dataset.SeriesDescription, OVERLAY_SERIES_DESCRIPTION);
  t.true(String(dataset.ImageComments).includes(UNVERIFIED_MARK));
  t.true(String(dataset.ImageComments).includes('KL grade 2 (p=0.71)'));
  t.deepEqual(dataset.PatientName, [{ Alphabetic: fakeHeader.PatientName }]);
  t.is(dataset.PatientID, fakeHeader.PatientID);
  t.is(dataset.StudyInstanceUID, fakeHeader.StudyInstanceUID);
  for (const name of ['SourceImageSequence', 'ReferencedImageSequence']) {
    const reference = items(dataset[name])[0];
    t.is(reference?.ReferencedSOPInstanceUID, rightImage.sopInstanceUid, name);
    t.is(reference?.ReferencedSOPClassUID, rightImage.sopClassUid, name);
  }
  const equipment = items(dataset.ContributingEquipmentSequence)[0];
  t.is(items(equipment?.PurposeOfReferenceCodeSequence)[0]?.CodeValue, '109102');
  t.deepEqual(dataset.PixelSpacing, [0.15, 0.15]);
});

test('Pixel Spacing is copied only for the same geometry and a true Pixel Spacing', async (t) => {
  const smaller = { ...rightImage, rows: 448, columns: 448 };
  const resized = readDataset(await buildOverlay(await input({ source: smaller })));
  t.is(resized.PixelSpacing, undefined);
  const imager = {
    ...rightImage,
    pixelSpacing: { rowMm: 0.15, columnMm: 0.15, source: 'ImagerPixelSpacing' as const },
  };
  const detector = readDataset(await buildOverlay(await input({ source: imager })));
  t.is(detector.PixelSpacing, undefined);
});

test('the same input gives the same bytes and the derived UIDs', async (t) => {
  const first = await buildOverlay(await input());
  t.deepEqual(await buildOverlay(await input()), first);
  const dataset = readDataset(first);
  const uids = overlayUids(
    fakeHeader.StudyInstanceUID,
    rightImage.sopInstanceUid,
    `${algorithm.name}@${algorithm.version}`,
  );
  t.is(dataset.SOPInstanceUID, uids.sopInstanceUid);
  t.is(dataset.SeriesInstanceUID, uids.seriesInstanceUid);
});

test('the grade label shows the grade and its probability', (t) => {
  t.is(gradeLabel({ ...grading, klGrade: 3, confidence: 0.456 }), 'KL grade 3 (p=0.46)');
});

test('bad input is refused naming the attribute, never quoting patient data', async (t) => {
  const cases: [Partial<OverlayInput>, string][] = [
    [{ image: { width: 4, height: 4, pixels: new Uint8Array(15) } }, 'image'],
    [{ region: { x: 0, y: 0, width: 500, height: 10 } }, 'region'],
    [{ header: { ...fakeHeader, PatientSex: 'female' } }, 'PatientSex'],
    [{ grading: { ...grading, cam: { width: 7, height: 7, data: new Float32Array(10) } } }, 'cam'],
  ];
  for (const [overrides, name] of cases) {
    const error = await t.throwsAsync(buildOverlay(await input(overrides)), {
      instanceOf: JointspaceError,
    });
    t.true(error.message.includes(name), error.message);
    for (const value of patientValues) t.false(error.message.includes(value));
  }
});

test.serial('building the overlay writes nothing to stdout, stderr or the console', async (t) => {
  const prepared = await input();
  const output = await captureOutput(() => buildOverlay(prepared));
  t.is(output, '');
  const probe = await captureOutput(() => Promise.resolve(process.stderr.write('probe')));
  t.is(probe, 'probe', 'the capture sees what is written');
});
