/**
 * Joint-space width: exact on synthetic joints with a known gap (pixels and millimetres),
 * medial/lateral named from the laterality, consistent under a horizontal flip with the side
 * swapped, plausible on real val crops (narrower medially at higher KL), and refused with a
 * reason on flat, noisy and non-knee images.
 */
import test from 'ava';
import { join } from 'node:path';
import { JointspaceError } from '../../src/errors.js';
import { loadImageFile } from '../../src/imaging/load.js';
import type { GrayImage } from '../../src/imaging/types.js';
import {
  measureJointSpace,
  POSITION_FRACTIONS,
  type CompartmentWidth,
  type JswMeasurement,
  type JswResult,
} from '../../src/measurement/jsw.js';
import { seededRandom } from '../grading/knee-composite.js';
import { dicomSamples, valImages } from '../helpers/paths.js';

interface SyntheticJoint {
  /** First dark row below the femur block. */
  femurEnd: number;
  /** Gap (rows of joint space) on the image-left and image-right side. */
  leftGap: number;
  rightGap: number;
  noise?: number;
  /** Rows the joint descends per column (0: horizontal). */
  tilt?: number;
}

/**
 * A schematic knee: soft tissue, a bright femur block with a dark notch arch in the middle,
 * a dark joint space of the given height per side, a bright tibia block below; the gap
 * changes linearly between the sides across the middle.
 */
function syntheticJoint(spec: SyntheticJoint, seed = 1): GrayImage {
  const size = 224;
  const random = seededRandom(seed);
  const pixels = new Uint8Array(size * size);
  const boneLeft = 30;
  const boneRight = 194;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let value = 70;
      if (x >= boneLeft && x <= boneRight) {
        const t = Math.min(1, Math.max(0, (x - 100) / 24));
        const gap = Math.round(spec.leftGap + t * (spec.rightGap - spec.leftGap));
        const femurEnd = spec.femurEnd + Math.round((spec.tilt ?? 0) * (x - 112));
        const inNotch = Math.hypot(x - 112, y - femurEnd) < 16 && y < femurEnd;
        if (y < femurEnd) value = inNotch ? 90 : 200;
        else if (y < femurEnd + gap) value = 90;
        else value = 190;
      }
      pixels[y * size + x] = Math.round(value + (spec.noise ?? 2) * (random() - 0.5) * 2);
    }
  }
  return { width: size, height: size, pixels };
}

function flipped(image: GrayImage): GrayImage {
  const pixels = new Uint8Array(image.pixels.length);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      pixels[y * image.width + x] = image.pixels[y * image.width + image.width - 1 - x] ?? 0;
    }
  }
  return { ...image, pixels };
}

function measured(t: { fail: (message: string) => void }, result: JswResult): JswMeasurement {
  if (result.status !== 'measured') {
    t.fail(`expected a measurement, got a refusal: ${result.reason} (${result.detail})`);
    throw new Error('unreachable');
  }
  return result;
}

function width(compartment: CompartmentWidth): number {
  if (compartment.status !== 'measured') {
    throw new Error(`${compartment.compartment} refused: ${compartment.detail}`);
  }
  return compartment.minWidth;
}

const lateralityOf = (path: string): 'R' | 'L' => (path.endsWith('L.png') ? 'L' : 'R');

test('a synthetic joint with a 10-pixel gap measures 10 pixels in both compartments', (t) => {
  const image = syntheticJoint({ femurEnd: 120, leftGap: 10, rightGap: 10 });
  const result = measured(t, measureJointSpace(image, { laterality: 'R' }));
  t.is(result.unit, 'px');
  t.deepEqual(result.calibration, { unit: 'px' });
  t.true(Math.abs(width(result.medial) - 10) <= 1, `medial ${width(result.medial)}`);
  t.true(Math.abs(width(result.lateral) - 10) <= 1, `lateral ${width(result.lateral)}`);
  t.regex(result.notes.join(' '), /pixels/);
  if (result.medial.status === 'measured') {
    const { femurPoint, tibiaPoint } = result.medial;
    t.true(Math.abs(femurPoint.y - 119.5) <= 1, `femur end point at row ${femurPoint.y}`);
    t.true(Math.abs(tibiaPoint.y - 129.5) <= 1, `tibia end point at row ${tibiaPoint.y}`);
    t.is(femurPoint.x, tibiaPoint.x);
  }
  t.is(result.positions.length, POSITION_FRACTIONS.length);
  for (const position of result.positions) {
    t.true(position.width !== undefined && Math.abs(position.width - 10) <= 1);
  }
});

test('millimetres from the pixel spacing, and from an assumed crop width said to be assumed', (t) => {
  const image = syntheticJoint({ femurEnd: 110, leftGap: 12, rightGap: 12 });
  const spacing = { rowMm: 0.3, columnMm: 0.3, source: 'PixelSpacing' as const };
  const calibrated = measured(
    t,
    measureJointSpace(image, { laterality: 'L', pixelSpacing: spacing }),
  );
  t.is(calibrated.unit, 'mm');
  t.true(Math.abs(width(calibrated.medial) - 3.6) <= 0.3, `medial ${width(calibrated.medial)} mm`);

  const assumed = measured(
    t,
    measureJointSpace(image, { laterality: 'L', assumedCropWidthMm: 140 }),
  );
  t.is(assumed.unit, 'mm');
  t.like(assumed.calibration, { source: 'assumed-crop-width', cropWidthMm: 140 });
  t.true(Math.abs(width(assumed.medial) - 12 * 0.625) <= 0.625);
  t.regex(assumed.notes.join(' '), /ASSUME/);
});

test('the medial compartment follows the laterality: image right for R, image left for L', (t) => {
  const image = syntheticJoint({ femurEnd: 118, leftGap: 14, rightGap: 6 });
  const right = measured(t, measureJointSpace(image, { laterality: 'R' }));
  t.is(right.medialSide, 'right');
  t.true(Math.abs(width(right.medial) - 6) <= 1, `R medial ${width(right.medial)}`);
  t.true(Math.abs(width(right.lateral) - 14) <= 1, `R lateral ${width(right.lateral)}`);

  const left = measured(t, measureJointSpace(image, { laterality: 'L' }));
  t.is(left.medialSide, 'left');
  t.true(Math.abs(width(left.medial) - 14) <= 1);
  t.true(Math.abs(width(left.lateral) - 6) <= 1);

  const mirrored = measured(t, measureJointSpace(image, { laterality: 'R', mirrored: true }));
  t.is(mirrored.medialSide, 'left');
  // Positions run from the medial edge: the first ones lie in the medial compartment.
  const first = right.positions[0];
  t.true(first !== undefined && first.femurPoint.x > 112 && first.compartment === 'medial');
});

test('flat, noisy and blank-ish images are refused with a reason, never measured', (t) => {
  const flat: GrayImage = { width: 224, height: 224, pixels: new Uint8Array(224 * 224).fill(128) };
  const refusedFlat = measureJointSpace(flat, { laterality: 'R' });
  t.like(refusedFlat, { status: 'refused', reason: 'flat' });

  const random = seededRandom(42);
  const noise: GrayImage = {
    width: 224,
    height: 224,
    pixels: Uint8Array.from({ length: 224 * 224 }, () => Math.floor(random() * 256)),
  };
  const refusedNoise = measureJointSpace(noise, { laterality: 'L' });
  t.is(refusedNoise.status, 'refused');
  if (refusedNoise.status === 'refused') t.true(refusedNoise.detail.length > 20);

  const tiny: GrayImage = { width: 40, height: 40, pixels: new Uint8Array(1600).fill(90) };
  t.like(measureJointSpace(tiny, { laterality: 'R' }), { status: 'refused', reason: 'too-small' });
});

test('a joint line tilted far beyond a frontal view is refused, a mild tilt measured', (t) => {
  const steep = syntheticJoint({ femurEnd: 112, leftGap: 10, rightGap: 10, tilt: 0.3 });
  const refused = measureJointSpace(steep, { laterality: 'R' });
  t.like(refused, { status: 'refused', reason: 'tilted' });
  const mild = syntheticJoint({ femurEnd: 115, leftGap: 10, rightGap: 10, tilt: 0.08 });
  const result = measured(t, measureJointSpace(mild, { laterality: 'R' }));
  t.true(Math.abs(width(result.medial) - 10) <= 1, `medial ${width(result.medial)}`);
});

test('non-knee radiographs (chest, dental, lower leg) get no joint-space width', async (t) => {
  for (const name of [
    'cr-chest-mono1-jpeg-baseline.dcm',
    'cr-dental-jpeg-lossless-modality-lut.dcm',
    'cr-lower-leg-j2k-lossless.dcm',
  ]) {
    const { image } = await loadImageFile(join(dicomSamples, name));
    const result = measureJointSpace(image, { laterality: 'R' });
    t.is(result.status, 'refused', name);
  }
});

test('invalid spacing is an error that names the argument', (t) => {
  const image = syntheticJoint({ femurEnd: 120, leftGap: 10, rightGap: 10 });
  const error = t.throws(
    () =>
      measureJointSpace(image, {
        laterality: 'R',
        pixelSpacing: { rowMm: 0, columnMm: 0.2, source: 'PixelSpacing' },
      }),
    { instanceOf: JointspaceError },
  );
  t.regex(error.message, /pixel spacing/);
});

test('real val crops: mostly measured, plausible, the same after a flip with the side swapped', async (t) => {
  const images = valImages(2);
  let measuredCount = 0;
  for (const { path, grade } of images) {
    const { image } = await loadImageFile(path);
    const laterality = lateralityOf(path);
    const result = measureJointSpace(image, { laterality });
    if (result.status === 'refused') {
      // A refusal is allowed (2 % of val), but it must say why.
      t.regex(result.detail, /\d/, path);
      continue;
    }
    measuredCount++;
    for (const compartment of [result.medial, result.lateral]) {
      if (compartment.status !== 'measured') continue;
      t.true(compartment.minWidth >= 0 && compartment.minWidth < 30, `KL${grade} ${path}`);
      t.true(compartment.tibiaPoint.y >= compartment.femurPoint.y);
    }
    t.true(result.medial.status === 'measured' || result.lateral.status === 'measured');

    const swapped = laterality === 'R' ? 'L' : 'R';
    const mirror = measured(t, measureJointSpace(flipped(image), { laterality: swapped }));
    t.not(mirror.medialSide, result.medialSide);
    if (result.medial.status === 'measured' && mirror.medial.status === 'measured') {
      t.true(Math.abs(result.medial.minWidth - mirror.medial.minWidth) <= 0.5, path);
      t.true(Math.abs(result.medial.femurPoint.x - (223 - mirror.medial.femurPoint.x)) <= 1, path);
    }
  }
  t.true(measuredCount >= images.length - 2, `${measuredCount} of ${images.length} measured`);
});

test('val: the medial compartment is narrower at KL 3-4 than at KL 0, on average', async (t) => {
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const medialWidths = async (grades: number[]): Promise<number[]> => {
    const widths: number[] = [];
    for (const { path } of valImages(8).filter((item) => grades.includes(item.grade))) {
      const { image } = await loadImageFile(path);
      const result = measureJointSpace(image, { laterality: lateralityOf(path) });
      if (result.status === 'measured' && result.medial.status === 'measured') {
        widths.push(result.medial.minWidth);
      }
    }
    return widths;
  };
  const healthy = await medialWidths([0]);
  const narrowed = await medialWidths([3, 4]);
  t.true(healthy.length >= 6 && narrowed.length >= 12);
  t.true(
    mean(narrowed) < mean(healthy) - 1,
    `KL3-4 medial mean ${mean(narrowed).toFixed(2)} px vs KL0 ${mean(healthy).toFixed(2)} px`,
  );
});

test('an image stored inverted is measured on its negative when the polarity says so', async (t) => {
  const [first] = valImages(1);
  if (first === undefined) throw new Error('no val image');
  const { image } = await loadImageFile(first.path);
  const laterality = lateralityOf(first.path);
  const negative = { ...image, pixels: image.pixels.map((value) => 255 - value) };
  const direct = measured(t, measureJointSpace(image, { laterality }));
  const inverted = measured(t, measureJointSpace(negative, { laterality, polarity: 'inverted' }));
  t.is(width(inverted.medial), width(direct.medial));
  t.regex(inverted.notes.join(' '), /negative/);
});
