/**
 * The knee localiser: a centred val crop comes back essentially unchanged, both knees of a
 * synthetic bilateral composite are found with the right sides (radiological convention, or
 * Patient Orientation), the crop size follows the pixel spacing when known, and images that
 * are not knee radiographs yield no joint.
 */
import test from 'ava';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { JointspaceError } from '../../src/errors.js';
import { loadKneeCheckModel, type KneeCheckModel } from '../../src/grading/knee-check.js';
import {
  CENTRE_ABOVE_JOINT,
  cropPointToImage,
  cropSquare,
  localiseKnees,
} from '../../src/grading/localise.js';
import { findMargins } from '../../src/measurement/margins.js';
import { loadImageFile } from '../../src/imaging/load.js';
import type { GrayImage } from '../../src/imaging/types.js';
import { dicomSamples, valImages } from '../helpers/paths.js';
import { buildComposite, seededRandom, squareIoU, type Composite } from './knee-composite.js';

let cachedModel: Promise<KneeCheckModel> | undefined;
function model(): Promise<KneeCheckModel> {
  cachedModel ??= loadKneeCheckModel();
  return cachedModel;
}

const lateralityOf = (path: string): 'R' | 'L' => (path.endsWith('L.png') ? 'L' : 'R');

async function bilateral(seed: number): Promise<Composite> {
  const images = valImages(10);
  const right = images.find((item) => item.grade === 1 && lateralityOf(item.path) === 'R');
  const left = images.find((item) => item.grade === 2 && lateralityOf(item.path) === 'L');
  if (right === undefined || left === undefined) throw new Error('val images missing');
  return buildComposite(
    [
      { image: (await loadImageFile(right.path)).image, laterality: 'R' },
      { image: (await loadImageFile(left.path)).image, laterality: 'L' },
    ],
    seededRandom(seed),
  );
}

test('a centred val crop comes back essentially unchanged', async (t) => {
  const kneeCheck = await model();
  const errors: number[] = [];
  for (const { path } of valImages(1)) {
    const { image } = await loadImageFile(path);
    const result = localiseKnees(image, kneeCheck, { imageLaterality: lateralityOf(path) });
    t.is(result.knees.length, 1, path);
    const knee = result.knees[0];
    if (knee === undefined) continue;
    t.is(knee.laterality, lateralityOf(path));
    t.is(knee.lateralitySource, 'image-laterality');
    t.is(knee.sizeSource, 'bone-width');
    t.true(Math.abs(knee.box.size - 224) < 224 * 0.15, `crop side ${knee.box.size.toFixed(0)}`);
    t.is(knee.crop.width, 224);
    t.true(knee.kneeCheck.accepted);
    errors.push(Math.hypot(knee.centre.x - 111.5, knee.centre.y - 111.5));

    // Self-consistent: the same centre as the margins found on the crop directly.
    const found = findMargins(image);
    if (!found.found) continue;
    const { plateau, jointRow } = found.margins;
    const width = plateau.right - plateau.left;
    const direct = {
      x: (plateau.left + plateau.right + 1) / 2,
      y: jointRow + 0.5 - CENTRE_ABOVE_JOINT * width,
    };
    t.true(
      Math.hypot(knee.centre.x - direct.x, knee.centre.y - direct.y) < 3,
      `${path}: localised ${knee.centre.x.toFixed(1)},${knee.centre.y.toFixed(1)} vs ${direct.x.toFixed(1)},${direct.y.toFixed(1)}`,
    );
  }
  // The crops' own centring varies by 6 to 9 pixels (sd) around the joint line and plateau
  // centre (src/measurement/README.md), which bounds how close any joint-based centre can be.
  t.true(Math.max(...errors) < 20, `centre errors ${errors.map((e) => e.toFixed(1)).join(', ')}`);
});

test('both knees of a bilateral composite: centres, boxes and sides by convention', async (t) => {
  const kneeCheck = await model();
  for (const seed of [3, 11]) {
    const composite = await bilateral(seed);
    const result = localiseKnees(composite.image, kneeCheck);
    t.is(result.knees.length, 2, `seed ${seed}: ${JSON.stringify(result.refusals)}`);
    t.regex(result.notes.join(' '), /radiological convention/);
    composite.truth.forEach((truth, index) => {
      const knee = result.knees[index];
      if (knee === undefined) return;
      const error = Math.hypot(knee.centre.x - truth.centre.x, knee.centre.y - truth.centre.y);
      t.true(error < truth.size * 0.1, `seed ${seed} knee ${index}: error ${error.toFixed(1)}`);
      t.true(squareIoU({ centre: knee.centre, size: knee.box.size }, truth) > 0.5);
      t.is(knee.laterality, truth.laterality);
      t.is(knee.lateralitySource, 'radiological-convention');
    });
  }
});

test('Patient Orientation decides the sides, and the spacing the crop size', async (t) => {
  const kneeCheck = await model();
  const composite = await bilateral(5);
  const pixelMm = composite.truth[0]?.pixelMm ?? 1;
  const result = localiseKnees(composite.image, kneeCheck, {
    patientOrientation: ['R', 'F'],
    pixelSpacing: { rowMm: pixelMm, columnMm: pixelMm, source: 'ImagerPixelSpacing' },
  });
  t.is(result.knees.length, 2);
  t.deepEqual(
    result.knees.map((knee) => knee.laterality),
    ['L', 'R'],
  );
  for (const knee of result.knees) {
    t.is(knee.lateralitySource, 'patient-orientation');
    t.is(knee.sizeSource, 'pixel-spacing');
    t.true(Math.abs(knee.box.size - 140 / pixelMm) < 1e-6);
    t.true(Math.abs((knee.cropPixelMm ?? 0) - 140 / 224) < 1e-9);
  }
});

test('a single knee with long shafts is found and keeps the header laterality', async (t) => {
  const kneeCheck = await model();
  const [item] = valImages(1);
  if (item === undefined) throw new Error('no val image');
  const composite = buildComposite(
    [{ image: (await loadImageFile(item.path)).image, laterality: 'L' }],
    seededRandom(8),
  );
  const result = localiseKnees(composite.image, kneeCheck, { imageLaterality: 'L' });
  t.is(result.knees.length, 1);
  const [knee] = result.knees;
  const [truth] = composite.truth;
  if (knee === undefined || truth === undefined) return;
  t.true(
    Math.hypot(knee.centre.x - truth.centre.x, knee.centre.y - truth.centre.y) < truth.size * 0.1,
  );
  t.is(knee.laterality, 'L');
});

test('non-knee images yield no joint: the DICOM samples, a flat image, noise', async (t) => {
  const kneeCheck = await model();
  const names = (await readdir(dicomSamples)).filter((name) => name.endsWith('.dcm'));
  t.true(names.length >= 5);
  for (const name of names) {
    const { image, metadata } = await loadImageFile(join(dicomSamples, name));
    const result = localiseKnees(
      image,
      kneeCheck,
      metadata.pixelSpacing === undefined ? {} : { pixelSpacing: metadata.pixelSpacing },
    );
    t.is(result.knees.length, 0, name);
    t.true(result.refusals.length > 0, name);
  }
  const flat: GrayImage = { width: 300, height: 400, pixels: new Uint8Array(120000).fill(100) };
  t.is(localiseKnees(flat, kneeCheck).knees.length, 0);
  const random = seededRandom(9);
  const noise: GrayImage = {
    width: 300,
    height: 400,
    pixels: Uint8Array.from({ length: 120000 }, () => Math.floor(random() * 256)),
  };
  t.is(localiseKnees(noise, kneeCheck).knees.length, 0);
});

test('crops repeat the edge outside the image, or pad black when asked; bad options throw', async (t) => {
  const image: GrayImage = { width: 4, height: 4, pixels: new Uint8Array(16).fill(200) };
  const edge = cropSquare(image, { x: -4, y: -4, size: 8 }, 8, 'edge');
  t.is(edge.pixels[0], 200);
  const black = cropSquare(image, { x: -4, y: -4, size: 8 }, 8);
  t.is(black.pixels[0], 0);
  t.is(black.pixels[7 * 8 + 7], 200);
  const kneeCheck = await model();
  t.throws(() => localiseKnees(image, kneeCheck, { cropMm: 0 }), { instanceOf: JointspaceError });
});

test('crop points map back to the source image', (t) => {
  const crop: GrayImage = { width: 224, height: 224, pixels: new Uint8Array(224 * 224) };
  const knee = { box: { x: 100, y: 50, size: 448 }, crop };
  t.deepEqual(cropPointToImage({ x: 0, y: 0 }, knee), { x: 100.5, y: 50.5 });
  t.deepEqual(cropPointToImage({ x: 111.5, y: 223 }, knee), { x: 323.5, y: 496.5 });
  const same = { box: { x: 0, y: 0, size: 224 }, crop };
  t.deepEqual(cropPointToImage({ x: 17.25, y: 40 }, same), { x: 17.25, y: 40 });
});
