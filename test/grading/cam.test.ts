/**
 * The heat map points at the joint: on val knees with radiographic OA, the
 * activation of the reported grade is concentrated in the band of the crop
 * that holds the tibiofemoral joint line (about 0.55 of the height in these
 * crops) and the tibial plateau margins just below it. A map spread evenly
 * over the image would put 40 % of its mass in that band.
 */
import test from 'ava';
import { Grader } from '../../src/grading/grader.js';
import { activationFor, upsample } from '../../src/grading/heatmap.js';
import { loadImageFile } from '../../src/imaging/load.js';
import { valImages } from '../helpers/paths.js';

const BAND = { from: 0.4, to: 0.8 };

/** Share of the activation that lies in rows BAND.from .. BAND.to of the image. */
function shareInBand(activation: Float32Array, width: number, height: number): number {
  let total = 0;
  let inside = 0;
  for (let y = 0; y < height; y++) {
    const inBand = y >= BAND.from * height && y < BAND.to * height;
    for (let x = 0; x < width; x++) {
      const value = activation[y * width + x] ?? 0;
      total += value;
      if (inBand) inside += value;
    }
  }
  return total === 0 ? 0 : inside / total;
}

test('the heat map of the reported grade concentrates on the joint', async (t) => {
  const grader = await Grader.create({ threads: 1 });
  t.teardown(() => grader.close());
  const files = valImages(8).filter((entry) => entry.grade >= 2);
  const decoded = await Promise.all(files.map((entry) => loadImageFile(entry.path)));
  const outcomes = await grader.grade(decoded);

  const shares = outcomes.flatMap((outcome, i) => {
    const image = decoded[i]?.image;
    if (outcome.status !== 'graded' || image === undefined) return [];
    const map = activationFor(outcome.cam, outcome.klGrade);
    const full = upsample(map, outcome.cam.width, outcome.cam.height, image.width, image.height);
    return [shareInBand(full, image.width, image.height)];
  });

  t.is(shares.length, files.length);
  t.log(`share of activation on the joint band: ${shares.map((s) => s.toFixed(2)).join(' ')}`);
  // The 5 x 5 map is blurred by upsampling, so the bar is "clearly more than a flat map".
  const sorted = [...shares].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  t.true(median >= 0.55, `median share ${median.toFixed(2)}, a flat map gives 0.40`);
  t.true((sorted[0] ?? 0) > 0.4, 'no map is less focused on the joint than a flat one');
});
