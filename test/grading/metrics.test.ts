import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  expectedCalibrationError,
  confusionMatrix,
  quadraticWeightedKappa,
  rocAuc,
  summarise,
  type Prediction,
} from '../../src/grading/metrics.js';
import { repoRoot, systemPython } from '../helpers/paths.js';

const run = promisify(execFile);

function oneHot(grade: number): number[] {
  return [0, 1, 2, 3, 4].map((g) => (g === grade ? 1 : 0));
}

test('perfect agreement gives kappa 1, accuracy 1, MAE 0', (t) => {
  const predictions = [0, 1, 2, 3, 4, 2].map((g) => ({ truth: g, probabilities: oneHot(g) }));
  const metrics = summarise(predictions);
  t.is(metrics.accuracy, 1);
  t.is(metrics.qwk, 1);
  t.is(metrics.mae, 0);
  t.deepEqual(metrics.recall, [1, 1, 1, 1, 1]);
});

test('quadratic kappa weights distant disagreement more', (t) => {
  const near = confusionMatrix([0, 1, 2, 3, 4], [1, 1, 2, 3, 4]);
  const far = confusionMatrix([0, 1, 2, 3, 4], [4, 1, 2, 3, 4]);
  t.true(quadraticWeightedKappa(near) > quadraticWeightedKappa(far));
});

test('AUC: perfect ranking 1, reversed 0, ties count half', (t) => {
  t.is(rocAuc([0.1, 0.2, 0.8, 0.9], [false, false, true, true]), 1);
  t.is(rocAuc([0.9, 0.8, 0.2, 0.1], [false, false, true, true]), 0);
  t.is(rocAuc([0.5, 0.5], [false, true]), 0.5);
  t.true(Number.isNaN(rocAuc([0.5, 0.6], [true, true])));
});

test('confusion matrix rejects grades outside 0..4', (t) => {
  t.throws(() => confusionMatrix([5], [0]), { instanceOf: RangeError });
});

test('same figures as the Python metrics used in training', async (t) => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const predictions: Prediction[] = Array.from({ length: 300 }, () => {
    const raw = [0, 1, 2, 3, 4].map(() => random() + 0.01);
    const total = raw.reduce((a, b) => a + b, 0);
    return { truth: Math.floor(random() * 5), probabilities: raw.map((v) => v / total) };
  });
  const script = [
    'import json, sys, numpy as np',
    `sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'models/training'))})`,
    'from metrics import summarise',
    'data = json.load(sys.stdin)',
    'probs = np.array([p["probabilities"] for p in data])',
    'truth = np.array([p["truth"] for p in data])',
    'print(json.dumps(summarise(probs, truth)))',
  ].join('\n');
  const child = run(systemPython, ['-c', script]);
  child.child.stdin?.end(JSON.stringify(predictions));
  const expected = JSON.parse((await child).stdout) as Record<string, unknown>;
  const actual = summarise(predictions);

  for (const key of ['accuracy', 'qwk', 'mae', 'auc_kl2'] as const) {
    t.true(Math.abs(actual[key] - (expected[key] as number)) < 1e-9, key);
  }
  t.deepEqual(actual.confusion, expected.confusion);
  t.deepEqual(actual.recall, expected.recall);
  const ece = expectedCalibrationError(predictions);
  t.true(ece > 0);
  t.true(Math.abs(ece - (expected.ece as number)) < 1e-9, `ece ${ece} vs ${String(expected.ece)}`);
});
