import test from 'ava';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { dicomSamples, valImages } from '../helpers/paths.js';
import { runCli } from '../helpers/run-cli.js';

interface Report {
  file: string;
  status: string;
  klGrade?: number;
  probabilities?: number[];
  confidence?: number;
  kneeCheck?: { accepted: boolean; reason: string };
  heatmap?: string;
  error?: { code: string; message: string };
}

test('grade: good files graded, bad files get their own error, exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-grade-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [first, second] = valImages(1).map((entry) => entry.path);
  const empty = join(dir, 'empty.dcm');
  const text = join(dir, 'notes.txt');
  await writeFile(empty, '');
  await writeFile(text, 'this is not an image\n');
  const heatmaps = join(dir, 'heatmaps');

  const result = await runCli([
    'grade',
    '--json',
    '--heatmap',
    heatmaps,
    first ?? '',
    empty,
    second ?? '',
    text,
  ]);

  t.is(result.status, 1, result.stderr);
  const output = JSON.parse(result.stdout) as { model: string; results: Report[] };
  t.regex(output.model, /^jointspace-knee-kl@\d+\.\d+\.\d+$/);
  t.deepEqual(
    output.results.map((r) => r.status),
    ['graded', 'error', 'graded', 'error'],
  );
  for (const report of output.results.filter((r) => r.status === 'graded')) {
    const sum = (report.probabilities ?? []).reduce((a, b) => a + b, 0);
    t.true(Math.abs(sum - 1) < 1e-4);
    t.is(report.confidence, report.probabilities?.[report.klGrade ?? -1]);
    t.true(report.kneeCheck?.accepted);
    const meta = await sharp(report.heatmap ?? '').metadata();
    t.is(meta.width, 224);
    t.is(meta.channels, 3);
  }
  t.is(output.results[1]?.file, empty);
  t.truthy(output.results[1]?.error?.message);
  t.is(output.results[3]?.error?.code, 'unsupported-format');
  t.is((await readdir(heatmaps)).length, 2);
});

test('grade: a chest radiograph is refused with a reason, exit 1', async (t) => {
  const result = await runCli([
    'grade',
    '--json',
    join(dicomSamples, 'cr-chest-mono1-jpeg-baseline.dcm'),
  ]);
  t.is(result.status, 1);
  const [report] = (JSON.parse(result.stdout) as { results: Report[] }).results;
  t.is(report?.status, 'refused');
  t.false(report?.kneeCheck?.accepted);
  t.regex(report?.kneeCheck?.reason ?? '', /not a knee/i);
});

test('grade: table output names each file and exits 0 when all are graded', async (t) => {
  const files = valImages(1).map((entry) => entry.path);
  const result = await runCli(['grade', ...files]);
  t.is(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  t.is(lines.length, files.length);
  lines.forEach((line, i) => t.true(line.startsWith(`${files[i] ?? ''}: KL `)));
});

test('JOINTSPACE_DEVICE=cuda falls back to the CPU with a logged warning', async (t) => {
  const [file] = valImages(1).map((entry) => entry.path);
  const result = await runCli(['grade', '--json', file ?? ''], { JOINTSPACE_DEVICE: 'cuda' });
  t.is(result.status, 0, result.stderr);
  t.regex(result.stderr, /model\.cuda-unavailable/);
  t.regex(result.stderr, /"device":"cpu"/);
});

test('an unknown JOINTSPACE_DEVICE is a clear error', async (t) => {
  const [file] = valImages(1).map((entry) => entry.path);
  const result = await runCli(['grade', file ?? ''], { JOINTSPACE_DEVICE: 'tpu' });
  t.is(result.status, 1);
  t.regex(result.stderr, /JOINTSPACE_DEVICE must be "cpu" or "cuda", got "tpu"/);
});

test('a long command line (hundreds of files) does not crash ONNX Runtime', async (t) => {
  // ONNX Runtime's telemetry ran a recursive regex over the command line: past about 30 kB
  // the process died with SIGSEGV before grading anything (src/grading/onnx-runtime.ts).
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-grade-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [source] = valImages(1).map((entry) => entry.path);
  const file = join(dir, `${'knee-'.repeat(40)}crop.png`);
  await copyFile(source ?? '', file);
  const files = Array.from({ length: 200 }, () => file);
  t.true(files.join(' ').length > 40_000);

  const result = await runCli(['grade', '--json', ...files]);
  t.is(result.status, 0, result.stderr.slice(-500));
  const report = JSON.parse(result.stdout) as { results: Report[] };
  t.is(report.results.length, files.length);
  t.true(report.results.every((entry) => entry.status === 'graded'));
});

test('JOINTSPACE_PRECISION=int8 grades with the int8 build and names it', async (t) => {
  const files = valImages(1).map((entry) => entry.path);
  const result = await runCli(['grade', '--json', ...files], { JOINTSPACE_PRECISION: 'int8' });
  t.is(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { model: string; results: { status: string }[] };
  t.regex(report.model, /^jointspace-knee-kl@[0-9.]+\+int8$/);
  t.deepEqual(
    report.results.map((entry) => entry.status),
    files.map(() => 'graded'),
  );
  t.regex(result.stderr, /"precision":"int8"/);

  const bad = await runCli(['grade', files[0] ?? ''], { JOINTSPACE_PRECISION: 'fp16' });
  t.is(bad.status, 1);
  t.regex(bad.stderr, /JOINTSPACE_PRECISION must be "float32" or "int8", got "fp16"/);
});

test('grade: heat maps of files that share a name do not overwrite each other', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-grade-names-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [first, second] = valImages(1).map((entry) => entry.path);
  await mkdir(join(dir, 'a'));
  await mkdir(join(dir, 'b'));
  await copyFile(first ?? '', join(dir, 'a', 'knee.png'));
  await copyFile(second ?? '', join(dir, 'b', 'knee.png'));
  const heatmaps = join(dir, 'heatmaps');

  const result = await runCli([
    'grade',
    '--json',
    '--heatmap',
    heatmaps,
    join(dir, 'a', 'knee.png'),
    join(dir, 'b', 'knee.png'),
  ]);

  t.is(result.status, 0, result.stderr);
  const output = JSON.parse(result.stdout) as { results: Report[] };
  t.deepEqual(
    output.results.map((r) => r.heatmap),
    [join(heatmaps, 'knee.heatmap.png'), join(heatmaps, 'knee-2.heatmap.png')],
  );
  t.deepEqual((await readdir(heatmaps)).sort(), ['knee-2.heatmap.png', 'knee.heatmap.png']);
});
