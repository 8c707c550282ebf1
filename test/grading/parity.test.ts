/**
 * The TypeScript inference path against the Python one it must reproduce:
 * same input tensor as models/training/data.py, same probabilities and CAMs
 * from ONNX Runtime in Node as from PyTorch.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { defaultModelDirectory, KneeModel } from '../../src/grading/model.js';
import { toModelInput } from '../../src/grading/preprocess.js';
import type { GrayImage } from '../../src/imaging/types.js';
import { repoRoot, systemPython, valImages } from '../helpers/paths.js';

const run = promisify(execFile);

interface Reference {
  image: string;
  tensor: number[];
  probabilities: number[];
  logits: number[];
  cam: number[];
}

async function readGray(path: string): Promise<GrayImage> {
  const { data, info } = await sharp(path).grayscale().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}

test('preprocessing and ONNX Runtime in Node match PyTorch', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-parity-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const images = valImages(2).map((entry) => entry.path);
  // Other sizes exercise the Pillow-compatible resize: shrinking, enlarging, non-square.
  const source = images[0] ?? '';
  for (const [width, height] of [
    [300, 260],
    [150, 150],
    [640, 512],
  ] as const) {
    const target = join(dir, `resized-${width}x${height}.png`);
    await sharp(source).resize(width, height, { fit: 'fill' }).grayscale().png().toFile(target);
    images.push(target);
  }

  const { stdout } = await run(
    systemPython,
    [
      join(repoRoot, 'models/training/parity.py'),
      '--model-dir',
      defaultModelDirectory(),
      ...images,
    ],
    { maxBuffer: 512 * 1024 * 1024 },
  );
  const reference = JSON.parse(stdout) as { model: string; results: Reference[] };
  const model = await KneeModel.load({ threads: 1 });
  t.teardown(() => model.release());
  t.is(reference.model, model.id);

  const inputs = await Promise.all(
    reference.results.map(async (r) => toModelInput(await readGray(r.image), model.manifest.input)),
  );
  const outputs = await model.run(inputs);

  reference.results.forEach((expected, i) => {
    const input = inputs[i];
    const output = outputs[i];
    if (input === undefined || output === undefined)
      return t.fail(`no output for ${expected.image}`);
    t.is(maxAbsDiff(input, expected.tensor), 0, `tensor differs for ${expected.image}`);
    const probabilityError = maxAbsDiff(output.probabilities, expected.probabilities);
    t.true(
      probabilityError < 1e-4,
      `probabilities differ by ${probabilityError} for ${expected.image}`,
    );
    t.true(
      maxAbsDiff(output.logits, expected.logits) < 1e-3,
      `logits differ for ${expected.image}`,
    );
    const camScale = Math.max(...expected.cam.map(Math.abs));
    t.true(
      maxAbsDiff(output.cam.data, expected.cam) < 1e-3 * camScale,
      `CAM differs for ${expected.image}`,
    );
  });
});

test('a batch gives the same probabilities as single images', async (t) => {
  const model = await KneeModel.load({ threads: 1 });
  t.teardown(() => model.release());
  const inputs = await Promise.all(
    valImages(1).map(async (entry) =>
      toModelInput(await readGray(entry.path), model.manifest.input),
    ),
  );
  const batched = await model.run(inputs);
  for (const [i, input] of inputs.entries()) {
    const [single] = await model.run([input]);
    t.true(maxAbsDiff(single?.probabilities ?? [], batched[i]?.probabilities ?? []) < 1e-5);
  }
});
