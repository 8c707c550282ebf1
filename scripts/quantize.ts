/**
 * `npm run quantize`: makes the int8 build of the shipped weights and measures
 * it where it will run.
 *
 *   1. models/training/quantize.py writes `model.int8.onnx` and its entry in
 *      `model.json` (`variants.int8`), with figures from PyTorch's simulation
 *      of the int8 arithmetic (`simulated`).
 *   2. Both graphs then grade every val image in ONNX Runtime, through the
 *      same Grader as `jointspace eval`; ONNX Runtime's integer kernels round
 *      differently from the simulation, so these are the figures that describe
 *      the shipped file (`val`): metrics, calibration, and agreement with the
 *      float graph knee by knee.
 *   3. models/training/report.py writes the model card from them.
 *
 *   npm run quantize -- [--model-dir DIR] [--config FILE] [--val-dir DIR]
 *     [--calibration N] [--smoke]
 *
 * --smoke (CI) calibrates on a few images and measures 40 val images.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeInBatches, isDecoded } from '../src/cli/decode-batches.js';
import { listLabelledFiles, type LabelledFile } from '../src/cli/eval.js';
import { Grader } from '../src/grading/grader.js';
import { expectedCalibrationError, summarise, type Prediction } from '../src/grading/metrics.js';
import { defaultModelDirectory, type Precision } from '../src/grading/model.js';
import { fromRoot } from '../src/paths.js';

const SYSTEM_PYTHON = '/usr/bin/python3';
const SMOKE_IMAGES = 40;

function python(args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(SYSTEM_PYTHON, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code === 0) done();
      else fail(new Error(`${args[0] ?? 'python'} exited with status ${String(code)}`));
    });
  });
}

async function probabilities(
  directory: string,
  precision: Precision,
  files: LabelledFile[],
): Promise<{ model: string; outputs: number[][] }> {
  const grader = await Grader.create({ directory, precision });
  try {
    const outputs: number[][] = [];
    for await (const batch of decodeInBatches(files, (file) => file.path, grader.batchSize)) {
      const decoded = batch.filter(isDecoded);
      if (decoded.length !== batch.length) throw new Error('a val image could not be decoded');
      const outcomes = await grader.grade(
        decoded.map((entry) => entry.decoded),
        { gradeRefused: true },
      );
      for (const outcome of outcomes) {
        if (outcome.status !== 'graded') throw new Error('a val image was not graded');
        outputs.push(outcome.probabilities);
      }
    }
    return { model: grader.model.id, outputs };
  } finally {
    await grader.model.release();
  }
}

function argmax(values: number[]): number {
  return values.reduce((best, value, index) => (value > (values[best] ?? -1) ? index : best), 0);
}

/** Every `step`-th file, `count` in all: a spread over the grades for --smoke. */
function spread(files: LabelledFile[], count: number): LabelledFile[] {
  const step = Math.max(1, Math.floor(files.length / count));
  return files.filter((_, index) => index % step === 0).slice(0, count);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'model-dir': { type: 'string', default: defaultModelDirectory() },
      config: { type: 'string', default: fromRoot('models', 'training', 'config.json') },
      'val-dir': { type: 'string', default: fromRoot('..', 'shared', 'data', 'knee-kl', 'val') },
      calibration: { type: 'string' },
      smoke: { type: 'boolean', default: false },
    },
  });
  const directory = resolve(values['model-dir']);
  const config = resolve(values.config);

  const args = [
    fromRoot('models', 'training', 'quantize.py'),
    '--model-dir',
    directory,
    '--config',
    config,
  ];
  if (values.calibration !== undefined) args.push('--calibration', values.calibration);
  if (values.smoke) args.push('--smoke');
  await python(args);

  const all = await listLabelledFiles(resolve(values['val-dir']));
  const files = values.smoke ? spread(all, SMOKE_IMAGES) : all;
  process.stderr.write(`measuring both graphs in ONNX Runtime on ${files.length} val images\n`);
  const reference = await probabilities(directory, 'float32', files);
  const quantised = await probabilities(directory, 'int8', files);

  const predictions: Prediction[] = files.map((file, index) => ({
    truth: file.grade,
    probabilities: quantised.outputs[index] ?? [],
  }));
  let agree = 0;
  let largest = 0;
  quantised.outputs.forEach((output, index) => {
    const expected = reference.outputs[index] ?? [];
    if (argmax(output) === argmax(expected)) agree++;
    output.forEach((value, grade) => {
      largest = Math.max(largest, Math.abs(value - (expected[grade] ?? 0)));
    });
  });
  const metrics = summarise(predictions);

  const manifestPath = join(directory, 'model.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
    variants: { int8: Record<string, unknown> & { val: Record<string, unknown> } };
  };
  const variant = manifest.variants.int8;
  const measured = {
    measuredWith: `onnxruntime-node ${await packageVersion('onnxruntime-node')}`,
    model: quantised.model,
    n: metrics.n,
    gradeAgreement: agree / files.length,
    maxProbabilityDifference: largest,
    accuracy: metrics.accuracy,
    qwk: metrics.qwk,
    auc_kl2: metrics.auc_kl2,
    mae: metrics.mae,
    ece: expectedCalibrationError(predictions),
    recall: metrics.recall,
    confusion: metrics.confusion,
  };
  manifest.variants.int8 = { ...variant, val: measured, simulated: variant.val };
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  process.stdout.write(JSON.stringify({ ...measured, confusion: undefined }) + '\n');

  if (!values.smoke) {
    await python([
      fromRoot('models', 'training', 'report.py'),
      '--out',
      directory,
      '--config',
      config,
    ]);
  }
}

async function packageVersion(name: string): Promise<string> {
  const text = await readFile(fromRoot('node_modules', name, 'package.json'), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

try {
  await main();
} catch (error) {
  process.stderr.write(`quantize: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
