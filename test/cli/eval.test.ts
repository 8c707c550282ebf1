import test from 'ava';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { defaultModelDirectory } from '../../src/grading/model.js';
import { kneeVal, valImages } from '../helpers/paths.js';
import { runCli } from '../helpers/run-cli.js';

const CONTRACT_KEYS = [
  'n',
  'accuracy',
  'qwk',
  'mae',
  'auc_kl2',
  'recall',
  'confusion',
  'ms_per_image',
];

test('eval --json prints exactly the contract object', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-eval-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const { path, grade } of valImages(3)) {
    await mkdir(join(dir, String(grade)), { recursive: true });
    await symlink(path, join(dir, String(grade), basename(path)));
  }

  const result = await runCli(['eval', '--json', dir]);

  t.is(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Record<string, unknown>;
  t.deepEqual(Object.keys(report), CONTRACT_KEYS);
  t.is(report.n, 15);
  const confusion = report.confusion as number[][];
  t.is(confusion.length, 5);
  confusion.forEach((row) =>
    t.is(
      row.reduce((a, b) => a + b, 0),
      3,
    ),
  );
  t.is((report.recall as number[]).length, 5);
  t.true((report.ms_per_image as number) > 0);
});

test('eval on val reproduces the figures of the training report', async (t) => {
  const result = await runCli(['eval', '--json', kneeVal]);
  t.is(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Record<string, number | number[][]>;
  const metrics = JSON.parse(
    await readFile(join(defaultModelDirectory(), 'metrics.json'), 'utf8'),
  ) as Record<string, number | number[][]>;
  t.is(report.n, 826);
  t.deepEqual(report.confusion, metrics.confusion);
  for (const key of ['accuracy', 'qwk', 'mae'] as const) {
    t.true(Math.abs((report[key] as number) - (metrics[key] as number)) < 1e-9, key);
  }
  t.true(Math.abs((report.auc_kl2 as number) - (metrics.auc_kl2 as number)) < 1e-4);
});

test('eval names a folder without graded subfolders', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-eval-empty-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const result = await runCli(['eval', dir]);
  t.is(result.status, 1);
  t.regex(result.stderr, /holds no images in subfolders 0\.\.4/);
});

test('eval names a missing folder', async (t) => {
  const result = await runCli(['eval', '/nonexistent/jointspace']);
  t.is(result.status, 1);
  t.regex(result.stderr, /\/nonexistent\/jointspace is not a folder/);
});
