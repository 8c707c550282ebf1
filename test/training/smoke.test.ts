/**
 * The training code runs end to end on a handful of images: one optimiser
 * step, calibration, ONNX export, manifest. Not a training run.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KneeModel } from '../../src/grading/model.js';
import { repoRoot, systemPython } from '../helpers/paths.js';

const run = promisify(execFile);

test('train.py --smoke writes a loadable model, manifest, metrics and log; npm run quantize --smoke its int8 build', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'jointspace-train-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));

  await run(systemPython, [join(repoRoot, 'models/training/train.py'), '--smoke', '--out', out], {
    cwd: repoRoot,
    timeout: 300_000,
  });

  const manifest = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as {
    smoke: boolean;
    sha256: string;
  };
  t.true(manifest.smoke);
  const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as {
    confusion: number[][];
  };
  t.is(metrics.confusion.length, 5);
  const log = (await readFile(join(out, 'training-log.jsonl'), 'utf8')).trim().split('\n');
  t.is(log.length, 1);

  const model = await KneeModel.load({ directory: out, threads: 1 });
  t.teardown(() => model.release());
  const size = model.manifest.input.size;
  const [output] = await model.run([new Float32Array(size * size)]);
  const sum = (output?.probabilities ?? []).reduce((a, b) => a + b, 0);
  t.true(Math.abs(sum - 1) < 1e-5);
  t.is(output?.cam.data.length, 5 * (output?.cam.width ?? 0) * (output?.cam.height ?? 0));

  // The int8 build of the same weights: quantize.py adds it to the manifest, and it loads.
  await run(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'scripts/quantize.ts'), '--smoke', '--model-dir', out],
    { cwd: repoRoot, timeout: 300_000 },
  );
  const quantised = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as {
    variants?: {
      int8?: {
        file: string;
        val: { measuredWith: string; n: number; gradeAgreement: number };
        simulated: { gradeAgreement: number };
      };
    };
  };
  const variant = quantised.variants?.int8;
  t.is(variant?.file, 'model.int8.onnx');
  t.regex(variant?.val.measuredWith ?? '', /^onnxruntime-node /);
  t.is(variant?.val.n, 40);
  t.is(typeof variant?.simulated.gradeAgreement, 'number');
  const int8 = await KneeModel.load({ directory: out, threads: 1, precision: 'int8' });
  t.teardown(() => int8.release());
  t.is(int8.id, `${model.id}+int8`);
  const [quantisedOutput] = await int8.run([new Float32Array(size * size)]);
  const quantisedSum = (quantisedOutput?.probabilities ?? []).reduce((a, b) => a + b, 0);
  t.true(Math.abs(quantisedSum - 1) < 1e-5);
});
