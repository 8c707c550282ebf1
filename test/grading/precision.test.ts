/**
 * The int8 build of the shipped model (models/training/quantize.py): it loads
 * under its own identity, stays close to the float graph on val knees, and a
 * missing, corrupt or unknown build is a clear error.
 */
import test from 'ava';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { JointspaceError } from '../../src/errors.js';
import {
  defaultModelDirectory,
  KneeModel,
  parsePrecision,
  type ModelManifest,
} from '../../src/grading/model.js';
import { toModelInput } from '../../src/grading/preprocess.js';
import { valImages } from '../helpers/paths.js';

const directory = defaultModelDirectory();

async function inputsOf(perGrade: number, size: number, mean: number, std: number) {
  return Promise.all(
    valImages(perGrade).map(async ({ path }) => {
      const { data, info } = await sharp(path)
        .grayscale()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const gray = { width: info.width, height: info.height, pixels: new Uint8Array(data) };
      return { input: toModelInput(gray, { size, mean, std }) };
    }),
  );
}

function argmax(values: number[]): number {
  return values.reduce((best, value, index) => (value > (values[best] ?? -1) ? index : best), 0);
}

test('the shipped manifest lists an int8 build with its val figures', async (t) => {
  const manifest = JSON.parse(
    await readFile(join(directory, 'model.json'), 'utf8'),
  ) as ModelManifest;
  const variant = manifest.variants?.int8;
  if (variant === undefined) return t.fail('model.json has no variants.int8');
  t.is(variant.file, 'model.int8.onnx');
  t.regex(variant.sha256, /^[0-9a-f]{64}$/);
  const val = variant.val ?? {};
  t.is(val.n, 826);
  t.true(typeof val.gradeAgreement === 'number' && val.gradeAgreement >= 0.9);
});

test('int8 loads as <version>+int8 and grades val knees as the float graph does, nearly', async (t) => {
  const [float, int8] = await Promise.all([
    KneeModel.load({ threads: 1, precision: 'float32' }),
    KneeModel.load({ threads: 1, precision: 'int8' }),
  ]);
  t.teardown(async () => {
    await float.release();
    await int8.release();
  });
  t.is(int8.precision, 'int8');
  t.is(int8.id, `${float.id}+int8`);
  t.not(int8.manifest.sha256, float.manifest.sha256);

  const { size, mean, std } = float.manifest.input;
  const samples = await inputsOf(8, size, mean, std); // 8 per grade: 40 knees
  const inputs = samples.map((sample) => sample.input);
  const [reference, approximate] = await Promise.all([float.run(inputs), int8.run(inputs)]);
  let agree = 0;
  let worst = 0;
  approximate.forEach((output, index) => {
    const expected = reference[index]?.probabilities ?? [];
    const sum = output.probabilities.reduce((a, b) => a + b, 0);
    t.true(Math.abs(sum - 1) < 1e-4, 'probabilities sum to 1');
    t.is(output.cam.data.length, 5 * output.cam.width * output.cam.height);
    if (argmax(output.probabilities) === argmax(expected)) agree++;
    output.probabilities.forEach((value, grade) => {
      worst = Math.max(worst, Math.abs(value - (expected[grade] ?? 0)));
    });
  });
  // quantize.py measured 96-97 % agreement on all of val; 40 knees leave room for a few misses.
  t.true(agree >= 36, `${agree} of 40 grades agree`);
  t.true(worst < 0.2, `largest probability difference ${worst.toFixed(3)}`);
  t.true(worst > 0, 'the int8 graph is a different computation, not the float one again');
});

test('a model directory without an int8 build says how to make one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-precision-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const manifest = JSON.parse(
    await readFile(join(directory, 'model.json'), 'utf8'),
  ) as ModelManifest;
  delete manifest.variants;
  await writeFile(join(dir, 'model.json'), JSON.stringify(manifest));
  await copyFile(join(directory, manifest.file), join(dir, manifest.file));

  const error = await t.throwsAsync(KneeModel.load({ directory: dir, precision: 'int8' }), {
    instanceOf: JointspaceError,
  });
  t.is(error.code, 'model-unavailable');
  t.regex(error.message, /has no int8 variant of jointspace-knee-kl@.*npm run quantize/);
  // The float graph in the same directory still loads.
  const model = await KneeModel.load({ directory: dir, threads: 1, precision: 'float32' });
  t.is(model.precision, 'float32');
  await model.release();
});

test('an int8 file that does not match its SHA-256 is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-precision-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const manifest = JSON.parse(
    await readFile(join(directory, 'model.json'), 'utf8'),
  ) as ModelManifest;
  const variant = manifest.variants?.int8;
  if (variant === undefined) return t.fail('model.json has no variants.int8');
  await writeFile(join(dir, 'model.json'), JSON.stringify(manifest));
  const bytes = await readFile(join(directory, variant.file));
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
  await writeFile(join(dir, variant.file), bytes);

  const error = await t.throwsAsync(KneeModel.load({ directory: dir, precision: 'int8' }), {
    instanceOf: JointspaceError,
  });
  t.regex(error.message, /model\.int8\.onnx does not match the SHA-256 in model\.json/);
});

test('JOINTSPACE_PRECISION accepts float32 and int8 only', (t) => {
  t.is(parsePrecision(undefined), 'float32');
  t.is(parsePrecision(''), 'float32');
  t.is(parsePrecision('int8'), 'int8');
  const error = t.throws(() => parsePrecision('fp16'), { instanceOf: JointspaceError });
  t.is(error.message, 'JOINTSPACE_PRECISION must be "float32" or "int8", got "fp16"');
});
