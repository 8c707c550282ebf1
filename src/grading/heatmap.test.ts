import test from 'ava';
import sharp from 'sharp';
import { activationFor, blendHeatmap, heatmapPng, upsample } from './heatmap.js';

const cam = {
  width: 2,
  height: 2,
  // grade 0: all negative; grade 1: one strong cell; grades 2..4: zeros
  data: Float32Array.from([-1, -2, -3, -4, 0, 4, 2, -1, ...new Array<number>(12).fill(0)]),
};

test('activation keeps the positive part and scales its maximum to 1', (t) => {
  t.deepEqual(Array.from(activationFor(cam, 1)), [0, 1, 0.5, 0]);
  t.deepEqual(Array.from(activationFor(cam, 0)), [0, 0, 0, 0]);
});

test('upsampling keeps a constant map constant and a peak where it was', (t) => {
  const flat = upsample(Float32Array.from([0.5, 0.5, 0.5, 0.5]), 2, 2, 7, 5);
  t.true(flat.every((v) => Math.abs(v - 0.5) < 1e-6));
  const peak = upsample(Float32Array.from([0, 1, 0, 0]), 2, 2, 8, 8);
  const max = peak.indexOf(Math.max(...peak));
  t.true(max % 8 >= 4 && Math.floor(max / 8) < 4, 'peak stays in the top-right quadrant');
});

test('no activation leaves the picture unchanged', (t) => {
  const image = { width: 2, height: 1, pixels: Uint8Array.from([10, 200]) };
  t.deepEqual(Array.from(blendHeatmap(image, new Float32Array(2))), [10, 10, 10, 200, 200, 200]);
});

test('heat map PNG has the picture size and colour where the map is strong', async (t) => {
  const image = { width: 16, height: 16, pixels: new Uint8Array(256).fill(128) };
  const png = await heatmapPng(image, cam, 1);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  t.is(info.width, 16);
  t.is(info.height, 16);
  const topRight = (2 * 16 + 13) * 3;
  const bottomRight = (13 * 16 + 13) * 3;
  t.not(data[topRight], data[topRight + 2], 'strong cell is coloured');
  t.is(data[bottomRight], 128, 'cell without activation stays gray');
});
