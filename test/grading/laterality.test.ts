/**
 * The laterality model on val crops: the side named in the file name (`<id>L.png`,
 * `<id>R.png`) is found, and a mirrored image is called the other side.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { LateralityModel } from '../../src/grading/laterality.js';
import { defaultModelDirectory } from '../../src/grading/model.js';
import { loadImageFile } from '../../src/imaging/load.js';
import type { GrayImage } from '../../src/imaging/types.js';
import { valImages } from '../helpers/paths.js';

function mirrored(image: GrayImage): GrayImage {
  const pixels = new Uint8Array(image.pixels.length);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      pixels[y * image.width + x] = image.pixels[y * image.width + (image.width - 1 - x)] ?? 0;
    }
  }
  return { ...image, pixels };
}

test('finds the side of val knees and the opposite side of their mirror images', async (t) => {
  const model = await LateralityModel.load();
  try {
    const files = valImages(12).map((entry) => entry.path);
    const images = await Promise.all(files.map(async (file) => (await loadImageFile(file)).image));
    const truth = files.map((file) => (basename(file, '.png').endsWith('R') ? 'R' : 'L'));
    t.true(truth.includes('L') && truth.includes('R'));

    const estimates = await model.estimate(images);
    const correct = estimates.filter((estimate, i) => estimate.laterality === truth[i]).length;
    t.true(correct / files.length >= 0.95, `${correct} of ${files.length}`);

    const flipped = await model.estimate(images.map(mirrored));
    const opposite = flipped.filter(
      (estimate, i) => estimate.laterality !== estimates[i]?.laterality,
    ).length;
    t.true(opposite / files.length >= 0.95, `${opposite} of ${files.length}`);
    for (const estimate of estimates)
      t.true(estimate.confidence >= 0.5 && estimate.confidence <= 1);
  } finally {
    await model.release();
  }
});

test('a laterality model file that does not match its manifest is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-laterality-'));
  try {
    const source = defaultModelDirectory();
    await copyFile(join(source, 'laterality.json'), join(dir, 'laterality.json'));
    const bytes = await readFile(join(source, 'laterality.onnx'));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(join(dir, 'laterality.onnx'), bytes);
    const error = await t.throwsAsync(LateralityModel.load(dir));
    t.regex(error.message, /SHA-256/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
