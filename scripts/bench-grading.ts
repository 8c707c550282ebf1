/**
 * `npm run bench:grading`: figures for the grading network on this machine.
 *
 *   1. ONNX Runtime in Node through KneeModel (src/grading/model.ts): model load
 *      time, ms per image and images per second at each batch size, with one
 *      intra-op thread and with every thread; for the float graph and, where
 *      the manifest lists one, its int8 variant (models/training/quantize.py).
 *   2. Peak RSS of `jointspace grade --json` on a handful of val images.
 *   3. The same network in PyTorch eager mode (models/training/bench_torch.py)
 *      on the same input tensors and thread counts, and the speed-up of ONNX
 *      Runtime over it (images/s ÷ images/s) against the 3x target. The peer
 *      runs in float: PyTorch eager has no int8 path for this network, and the
 *      int8 graph's cost in accuracy is in model.json (`variants.int8.val`).
 *
 * It prints a table, or one JSON object with --json; progress goes to stderr.
 * It measures and reports; it asserts nothing about speed and exits 0 whether
 * or not the target is met. Each timing is the median over repeats, each
 * repeat being one pass over all inputs, after untimed warm-up batches.
 *
 *   npm run bench:grading -- [--json] [--images 64] [--batch 1,16] [--repeats 5]
 *     [--warmup 3] [--cli-images 32] [--model-dir DIR] [--val-dir DIR]
 *     [--skip-torch] [--skip-cli]
 *
 * The model directory is JOINTSPACE_MODEL_DIR, or models/knee-kl.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import {
  defaultModelDirectory,
  KneeModel,
  PRECISIONS,
  type Precision,
} from '../src/grading/model.js';
import { toModelInput } from '../src/grading/preprocess.js';
import type { GrayImage } from '../src/imaging/types.js';
import { fromRoot, repositoryRoot } from '../src/paths.js';

const SYSTEM_PYTHON = '/usr/bin/python3';
const GNU_TIME = '/usr/bin/time';
const TARGET_SPEEDUP = 3;

// ---------------------------------------------------------------------------
// Options

interface Options {
  json: boolean;
  images: number;
  batchSizes: number[];
  repeats: number;
  warmup: number;
  cliImages: number;
  modelDir: string;
  valDir: string;
  torch: boolean;
  cli: boolean;
}

const USAGE = `usage: npm run bench:grading -- [options]
  --json              print one JSON object instead of a table
  --images N          val images timed per pass (default 64)
  --batch LIST        batch sizes, comma separated (default 1,16)
  --repeats N         timed passes; the median is reported (default 5)
  --warmup N          untimed batches before each measurement (default 3)
  --cli-images N      images for the peak-RSS run of \`jointspace grade\` (default 32)
  --model-dir DIR     model directory (default $JOINTSPACE_MODEL_DIR or models/knee-kl)
  --val-dir DIR       val split laid out as DIR/<grade>/<file> (default ../shared/data/knee-kl/val)
  --skip-torch        do not run the PyTorch peer
  --skip-cli          do not measure the CLI's peak RSS
`;

class UsageError extends Error {}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  }
  return parsed;
}

function nonNegativeInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === '0') return 0;
  return positiveInteger(name, value, fallback);
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      images: { type: 'string' },
      batch: { type: 'string' },
      repeats: { type: 'string' },
      warmup: { type: 'string' },
      'cli-images': { type: 'string' },
      'model-dir': { type: 'string' },
      'val-dir': { type: 'string' },
      'skip-torch': { type: 'boolean', default: false },
      'skip-cli': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  const batchSizes = [
    ...new Set(
      (values.batch ?? '1,16').split(',').map((part) => positiveInteger('batch', part, 1)),
    ),
  ];
  return {
    json: values.json,
    images: positiveInteger('images', values.images, 64),
    batchSizes,
    repeats: positiveInteger('repeats', values.repeats, 5),
    warmup: nonNegativeInteger('warmup', values.warmup, 3),
    cliImages: positiveInteger('cli-images', values['cli-images'], 32),
    modelDir: resolve(values['model-dir'] ?? defaultModelDirectory()),
    valDir: resolve(values['val-dir'] ?? fromRoot('..', 'shared', 'data', 'knee-kl', 'val')),
    torch: !values['skip-torch'],
    cli: !values['skip-cli'],
  };
}

// ---------------------------------------------------------------------------
// Small helpers

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

/** The last non-empty lines of a process's output, for a one-line reason. */
function tail(text: string, lines = 3): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(-lines)
    .join(' | ');
}

/** The first line of a Node process's stderr that names an error, else its last lines. */
function errorLine(stderr: string): string {
  const line = stderr
    .split('\n')
    .map((entry) => entry.trim())
    .find((entry) => /^jointspace:|Error\b|error:/i.test(entry));
  return line ?? tail(stderr);
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

/** Runs a command to completion, collecting its output; rejects only if it cannot start. */
function runCommand(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; onStart?: (pid: number) => void } = {},
): Promise<Finished> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: repositoryRoot,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('spawn', () => {
      if (child.pid !== undefined) options.onStart?.(child.pid);
    });
    child.once('close', (code, signal) => {
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        wallMs: performance.now() - started,
      });
    });
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------
// Machine and versions

interface Machine {
  cpu: string;
  cores: number;
  loadAverage: number[];
  node: string;
  onnxruntimeNode: string;
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    const manifest: unknown = JSON.parse(
      readFileSync(fromRoot('node_modules', name, 'package.json'), 'utf8'),
    );
    return isRecord(manifest) && typeof manifest.version === 'string'
      ? manifest.version
      : 'unknown';
  } catch {
    return 'unknown';
  }
}

function roundedLoad(): number[] {
  return loadavg().map((value) => Math.round(value * 100) / 100);
}

function machine(): Machine {
  return {
    cpu: cpuModel(),
    cores: availableParallelism(),
    loadAverage: roundedLoad(),
    node: process.version,
    onnxruntimeNode: packageVersion('onnxruntime-node'),
  };
}

// ---------------------------------------------------------------------------
// Inputs

/**
 * `count` val images spread evenly over the split in grade-then-name order,
 * the rule of models/training/data.py load_split(limit=count).
 */
function valImages(valDir: string, count: number): string[] {
  const all: string[] = [];
  for (let grade = 0; grade < 5; grade++) {
    const folder = join(valDir, String(grade));
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder).sort()) {
      if (/\.(png|jpe?g)$/i.test(name)) all.push(join(folder, name));
    }
  }
  if (all.length === 0) throw new Error(`no val images under ${valDir}/<grade>/`);
  const step = Math.max(1, Math.floor(all.length / count));
  return all.filter((_, index) => index % step === 0).slice(0, count);
}

async function readGray(path: string): Promise<GrayImage> {
  const { data, info } = await sharp(path)
    .removeAlpha()
    .grayscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`${path}: expected 1 channel, got ${info.channels}`);
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

// ---------------------------------------------------------------------------
// ONNX Runtime in Node

interface Timing {
  precision: Precision;
  threads: number;
  batch: number;
  msPerImage: number;
  imagesPerSecond: number;
  repeatsMsPerImage: number[];
}

interface OnnxResult {
  model: string;
  precisions: Precision[];
  smoke: boolean;
  size: number;
  /** KneeModel.loadMs (manifest, file read, SHA-256 check, session creation) per thread count. */
  loads: { precision: Precision; threads: number; loadMs: number }[];
  timings: Timing[];
}

/** Batches of `batch` consecutive inputs covering all of them (the last may be shorter). */
function batches(inputs: Float32Array[], batch: number): Float32Array[][] {
  const result: Float32Array[][] = [];
  for (let start = 0; start < inputs.length; start += batch) {
    result.push(inputs.slice(start, start + batch));
  }
  return result;
}

async function timeOnnx(
  model: KneeModel,
  precision: Precision,
  inputs: Float32Array[],
  threads: number,
  batch: number,
  options: Options,
): Promise<Timing> {
  const groups = batches(inputs, batch);
  const warm = groups[0] ?? [];
  for (let i = 0; i < options.warmup; i++) await model.run(warm);
  const perImage: number[] = [];
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    const started = performance.now();
    for (const group of groups) await model.run(group);
    perImage.push((performance.now() - started) / inputs.length);
  }
  const msPerImage = median(perImage);
  return {
    precision,
    threads,
    batch,
    msPerImage,
    imagesPerSecond: 1000 / msPerImage,
    repeatsMsPerImage: perImage,
  };
}

async function benchOnnx(
  options: Options,
  threadCounts: number[],
  images: string[],
): Promise<{ result: OnnxResult; inputs: Float32Array[] }> {
  const raw: unknown = JSON.parse(await readFile(join(options.modelDir, 'model.json'), 'utf8'));
  const variants = isRecord(raw) && isRecord(raw.variants) ? raw.variants : {};
  const precisions = PRECISIONS.filter(
    (precision) => precision === 'float32' || variants[precision] !== undefined,
  );
  const result: OnnxResult = {
    model: '',
    precisions,
    smoke: isRecord(raw) && raw.smoke === true,
    size: 0,
    loads: [],
    timings: [],
  };
  let inputs: Float32Array[] = [];
  for (const precision of precisions) {
    for (const threads of threadCounts) {
      progress(`ONNX Runtime: loading the ${precision} model with ${threads} intra-op thread(s)`);
      const model = await KneeModel.load({
        directory: options.modelDir,
        threads,
        device: 'cpu',
        precision,
      });
      try {
        result.loads.push({ precision, threads, loadMs: model.loadMs });
        if (precision === 'float32' && inputs.length === 0) {
          result.model = model.id;
          result.size = model.manifest.input.size;
          progress(`preprocessing ${images.length} val images`);
          const grays = await Promise.all(images.map(readGray));
          inputs = grays.map((gray) => toModelInput(gray, model.manifest.input));
        }
        for (const batch of options.batchSizes) {
          progress(`ONNX Runtime ${precision}: ${threads} thread(s), batch ${batch}`);
          result.timings.push(await timeOnnx(model, precision, inputs, threads, batch, options));
        }
      } finally {
        await model.release();
      }
    }
  }
  return { result, inputs };
}

// ---------------------------------------------------------------------------
// PyTorch peer

interface TorchResult {
  torch: string;
  mkldnn: boolean;
  /** BLAS_INFO of the torch build ("generic" is the reference BLAS). */
  blas: string;
  loadMs: number;
  timings: Timing[];
}

type Outcome<T> = { ok: true; value: T } | { ok: false; skipped: string };

function parseTiming(value: unknown): Timing | undefined {
  if (!isRecord(value)) return undefined;
  const { threads, batch, msPerImage, imagesPerSecond, repeatsMsPerImage } = value;
  if (
    typeof threads !== 'number' ||
    typeof batch !== 'number' ||
    typeof msPerImage !== 'number' ||
    typeof imagesPerSecond !== 'number' ||
    !Array.isArray(repeatsMsPerImage) ||
    !repeatsMsPerImage.every((entry): entry is number => typeof entry === 'number')
  ) {
    return undefined;
  }
  // The PyTorch peer runs the float network.
  return { precision: 'float32', threads, batch, msPerImage, imagesPerSecond, repeatsMsPerImage };
}

/** A JSON object with a `results` array (the shape both bench_torch.py and `grade --json` print). */
function parseResultsDocument(
  stdout: string,
): (Record<string, unknown> & { results: unknown[] }) | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || !Array.isArray(parsed.results)) return undefined;
  return parsed as Record<string, unknown> & { results: unknown[] };
}

function parseTorchOutput(stdout: string): TorchResult | undefined {
  const parsed = parseResultsDocument(stdout);
  if (parsed === undefined) return undefined;
  const timings = parsed.results.map(parseTiming);
  if (
    typeof parsed.torch !== 'string' ||
    typeof parsed.loadMs !== 'number' ||
    !timings.every((timing): timing is Timing => timing !== undefined)
  ) {
    return undefined;
  }
  return {
    torch: parsed.torch,
    mkldnn: parsed.mkldnn === true,
    blas: typeof parsed.blas === 'string' ? parsed.blas : 'unknown',
    loadMs: parsed.loadMs,
    timings,
  };
}

async function benchTorch(
  options: Options,
  threadCounts: number[],
  inputs: Float32Array[],
): Promise<Outcome<TorchResult>> {
  if (!existsSync(SYSTEM_PYTHON)) {
    return { ok: false, skipped: `${SYSTEM_PYTHON} not found (Debian python3 with torch)` };
  }
  if (!existsSync(join(options.modelDir, 'model.pt'))) {
    return { ok: false, skipped: `no model.pt in ${options.modelDir}` };
  }
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-bench-'));
  try {
    // The very tensors ONNX Runtime saw, as raw little-endian float32 (N, 1, size, size).
    const joined = new Float32Array(inputs.reduce((sum, input) => sum + input.length, 0));
    let offset = 0;
    for (const input of inputs) {
      joined.set(input, offset);
      offset += input.length;
    }
    const tensors = join(dir, 'inputs.f32');
    await writeFile(tensors, new Uint8Array(joined.buffer));
    progress(
      `PyTorch: ${threadCounts.join(' and ')} thread(s), batch ${options.batchSizes.join(' and ')}`,
    );
    const finished = await runCommand(SYSTEM_PYTHON, [
      fromRoot('models', 'training', 'bench_torch.py'),
      '--model-dir',
      options.modelDir,
      '--tensors',
      tensors,
      '--threads',
      threadCounts.join(','),
      '--batch',
      options.batchSizes.join(','),
      '--warmup',
      String(options.warmup),
      '--repeats',
      String(options.repeats),
    ]);
    if (finished.code !== 0) {
      const how = finished.signal ?? `exit status ${String(finished.code)}`;
      return { ok: false, skipped: `bench_torch.py failed (${how}): ${tail(finished.stderr, 1)}` };
    }
    const value = parseTorchOutput(finished.stdout);
    if (value === undefined) {
      return {
        ok: false,
        skipped: `bench_torch.py printed no usable JSON: ${tail(finished.stdout)}`,
      };
    }
    return { ok: true, value };
  } catch (error) {
    return { ok: false, skipped: `cannot run ${SYSTEM_PYTHON}: ${messageOf(error)}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Peak RSS of the CLI

interface RssResult {
  peakRssKiB: number;
  method: string;
  images: number;
  graded: number;
  refused: number;
  errors: number;
  wallMs: number;
  build: string;
}

function newestSourceMs(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** Why dist/ cannot serve bin/jointspace.js as it stands, or undefined when it is current. */
function distStaleness(): string | undefined {
  const entry = fromRoot('dist', 'cli', 'main.js');
  if (!existsSync(entry)) return 'dist/cli/main.js is missing';
  return newestSourceMs(fromRoot('src')) > statSync(entry).mtimeMs
    ? 'src/ is newer than dist/'
    : undefined;
}

/** Builds dist/ when it is missing or older than src/; a reason string when that fails. */
async function ensureBuild(): Promise<{ build: string } | { skipped: string }> {
  const stale = distStaleness();
  if (stale === undefined) return { build: 'dist/ up to date' };
  progress(`${stale}; running npm run build`);
  // --noEmitOnError: a failed build leaves dist/ as it was instead of half-written.
  const finished = await runCommand('npm', ['run', '--silent', 'build', '--', '--noEmitOnError']);
  if (finished.code !== 0) {
    const errors = `${finished.stdout}\n${finished.stderr}`
      .split('\n')
      .filter((line) => line.includes('error TS'));
    const shown = errors.slice(0, 3).join(' | ') || tail(finished.stdout + finished.stderr);
    const more = errors.length > 3 ? ` (+${errors.length - 3} more)` : '';
    return { skipped: `npm run build failed: ${shown}${more}` };
  }
  return { build: `built dist/ (${stale})` };
}

/** Peak VmHWM of a running process, read every few milliseconds until it exits. */
function pollHighWaterMark(pid: number): { stop: () => number } {
  let peak = 0;
  const read = () => {
    try {
      const match = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match?.[1] !== undefined) peak = Math.max(peak, Number(match[1]));
    } catch {
      // The process has exited; keep the last reading.
    }
  };
  const timer = setInterval(read, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

function countStatuses(
  stdout: string,
): { graded: number; refused: number; errors: number; firstError?: string } | undefined {
  const parsed = parseResultsDocument(stdout);
  if (parsed === undefined) return undefined;
  const counts = { graded: 0, refused: 0, errors: 0, firstError: undefined as string | undefined };
  for (const result of parsed.results) {
    if (!isRecord(result)) continue;
    if (result.status === 'graded') counts.graded++;
    else if (result.status === 'refused') counts.refused++;
    else {
      counts.errors++;
      if (counts.firstError === undefined && isRecord(result.error)) {
        counts.firstError = `${String(result.error.code)}: ${String(result.error.message)}`;
      }
    }
  }
  return counts;
}

async function benchCliRss(options: Options, files: string[]): Promise<Outcome<RssResult>> {
  const built = await ensureBuild();
  if ('skipped' in built) return { ok: false, skipped: built.skipped };

  const hasGnuTime = existsSync(GNU_TIME);
  if (!hasGnuTime) {
    progress(
      `GNU time is not installed at ${GNU_TIME} (apt-get install -y time); ` +
        'falling back to polling VmHWM in /proc/<pid>/status, which can miss the last peak',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-bench-'));
  try {
    const rssFile = join(dir, 'rss');
    const cli = ['bin/jointspace.js', 'grade', '--json', ...files];
    const env = {
      ...process.env,
      JOINTSPACE_MODEL_DIR: options.modelDir,
      JOINTSPACE_DEVICE: 'cpu',
    };
    progress(`peak RSS of jointspace grade on ${files.length} images`);
    const polling: { poller?: { stop: () => number } } = {};
    const finished = hasGnuTime
      ? await runCommand(GNU_TIME, ['-f', '%M', '-o', rssFile, process.execPath, ...cli], { env })
      : await runCommand(process.execPath, cli, {
          env,
          onStart: (pid) => {
            polling.poller = pollHighWaterMark(pid);
          },
        });
    const polled = polling.poller?.stop();

    const counts = countStatuses(finished.stdout);
    if (counts === undefined || (finished.code !== 0 && finished.code !== 1)) {
      const how = finished.signal ?? `exit status ${String(finished.code)}`;
      return {
        ok: false,
        skipped: `jointspace grade failed (${how}): ${errorLine(finished.stderr)}`,
      };
    }
    if (counts.graded === 0) {
      return {
        ok: false,
        skipped: `jointspace grade graded none of ${files.length} images (${counts.firstError ?? `${counts.refused} refused`})`,
      };
    }
    let peakRssKiB: number;
    if (hasGnuTime) {
      // GNU time writes "Command exited with non-zero status 1" before the figure when exit != 0.
      const figure = Number(tail(await readFile(rssFile, 'utf8'), 1));
      if (!Number.isFinite(figure) || figure <= 0) {
        return { ok: false, skipped: `cannot read the peak RSS that ${GNU_TIME} wrote` };
      }
      peakRssKiB = figure;
    } else {
      if (polled === undefined || polled === 0) {
        return { ok: false, skipped: 'no VmHWM reading before the process exited' };
      }
      peakRssKiB = polled;
    }
    return {
      ok: true,
      value: {
        peakRssKiB,
        method: hasGnuTime ? `${GNU_TIME} -f %M` : 'polled VmHWM (approximate)',
        images: files.length,
        graded: counts.graded,
        refused: counts.refused,
        errors: counts.errors,
        wallMs: finished.wallMs,
        build: built.build,
      },
    };
  } catch (error) {
    return { ok: false, skipped: `cannot run the CLI: ${messageOf(error)}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Report

interface Comparison {
  precision: Precision;
  threads: number;
  batch: number;
  onnx: Timing;
  torch?: Timing;
  /** ONNX images/s ÷ PyTorch images/s. */
  speedup?: number;
  targetMet?: boolean;
}

interface Report {
  machine: Machine;
  loadAverageAfter: number[];
  model: { id: string; directory: string; smoke: boolean };
  inputs: { images: number; valDir: string; size: number; warmup: number; repeats: number };
  onnx: OnnxResult;
  torch: TorchResult | { skipped: string };
  comparison: Comparison[];
  /** `met`: true when some precision meets the target in every configuration. */
  target: { speedup: number; met: boolean | null; summary: string };
  cliPeakRss: RssResult | { skipped: string };
}

function compare(onnx: OnnxResult, torch: TorchResult | undefined): Comparison[] {
  return onnx.timings.map((timing) => {
    const peer = torch?.timings.find(
      (entry) => entry.threads === timing.threads && entry.batch === timing.batch,
    );
    const row = { precision: timing.precision, threads: timing.threads, batch: timing.batch };
    if (peer === undefined) return { ...row, onnx: timing };
    const speedup = timing.imagesPerSecond / peer.imagesPerSecond;
    return {
      precision: timing.precision,
      threads: timing.threads,
      batch: timing.batch,
      onnx: timing,
      torch: peer,
      speedup,
      targetMet: speedup >= TARGET_SPEEDUP,
    };
  });
}

function targetSummary(comparison: Comparison[]): Report['target'] {
  const compared = comparison.filter((row) => row.speedup !== undefined);
  if (compared.length === 0) {
    return { speedup: TARGET_SPEEDUP, met: null, summary: 'not assessed (no PyTorch figures)' };
  }
  const precisions = [...new Set(compared.map((row) => row.precision))];
  let metBySome = false;
  const parts = precisions.map((precision) => {
    const rows = compared.filter((row) => row.precision === precision);
    const met = rows.filter((row) => row.targetMet === true).length;
    if (met === rows.length) metBySome = true;
    const speedups = rows.map((row) => row.speedup ?? 0);
    const range = `${Math.min(...speedups).toFixed(2)}x to ${Math.max(...speedups).toFixed(2)}x`;
    return met === rows.length
      ? `${precision} met in all ${rows.length} configurations (${range})`
      : `${precision} NOT met in ${rows.length - met} of ${rows.length} configurations (${range})`;
  });
  return { speedup: TARGET_SPEEDUP, met: metBySome, summary: parts.join('; ') };
}

function pad(text: string, width: number, right = true): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function formatTable(report: Report): string {
  const lines: string[] = [];
  const { machine: m } = report;
  const torch = 'skipped' in report.torch ? undefined : report.torch;
  const loads = report.onnx.loads
    .map(
      (load) =>
        `${load.loadMs.toFixed(0)} ms (${load.precision}, ${load.threads} thread${load.threads === 1 ? '' : 's'})`,
    )
    .join(', ');

  lines.push('jointspace grading benchmark');
  lines.push(
    `  machine       ${m.cpu}, ${m.cores} cores; load average ${m.loadAverage.join(' ')} before, ${report.loadAverageAfter.join(' ')} after`,
  );
  lines.push(`  node          ${m.node}, onnxruntime-node ${m.onnxruntimeNode}`);
  lines.push(
    `  torch         ${torch === undefined ? 'n/a' : `${torch.torch} (oneDNN ${torch.mkldnn ? 'yes' : 'no'}, BLAS ${torch.blas})`}`,
  );
  lines.push(
    `  model         ${report.model.id}${report.model.smoke ? ' (smoke model)' : ''} from ${report.model.directory}`,
  );
  lines.push(
    `  inputs        ${report.inputs.images} val images (${report.inputs.size}x${report.inputs.size}) from ${report.inputs.valDir}; ` +
      `${report.inputs.warmup} warm-up batches, median of ${report.inputs.repeats} passes`,
  );
  if (m.loadAverage[0] !== undefined && m.loadAverage[0] > 0.5) {
    lines.push(
      `  note          the machine was busy before the run (1-minute load ${m.loadAverage[0]} on ${m.cores} cores); timings are contended`,
    );
  }
  lines.push('');
  lines.push(
    `model load    ONNX Runtime ${loads}; PyTorch ${torch === undefined ? 'n/a' : `${torch.loadMs.toFixed(0)} ms`}`,
  );
  lines.push('');

  const header = [
    pad('precision', 9, false),
    pad('threads', 7),
    pad('batch', 5),
    pad('ONNX ms/img', 11),
    pad('ONNX img/s', 10),
    pad('torch ms/img', 12),
    pad('torch img/s', 11),
    pad('speed-up', 8),
    pad(`>= ${TARGET_SPEEDUP}x`, 5),
  ];
  lines.push(header.join('  '));
  for (const row of report.comparison) {
    lines.push(
      [
        pad(row.precision, 9, false),
        pad(String(row.threads), 7),
        pad(String(row.batch), 5),
        pad(row.onnx.msPerImage.toFixed(2), 11),
        pad(row.onnx.imagesPerSecond.toFixed(1), 10),
        pad(row.torch?.msPerImage.toFixed(2) ?? '-', 12),
        pad(row.torch?.imagesPerSecond.toFixed(1) ?? '-', 11),
        pad(row.speedup === undefined ? '-' : `${row.speedup.toFixed(2)}x`, 8),
        pad(row.targetMet === undefined ? '-' : row.targetMet ? 'yes' : 'no', 5),
      ].join('  '),
    );
  }
  lines.push('');
  if ('skipped' in report.torch) lines.push(`PyTorch peer: skipped: ${report.torch.skipped}`);
  lines.push(
    `target >= ${TARGET_SPEEDUP}x throughput over PyTorch eager: ${report.target.summary}`,
  );
  lines.push('');
  const rss = report.cliPeakRss;
  if ('skipped' in rss) {
    lines.push(`peak RSS of jointspace grade: skipped: ${rss.skipped}`);
  } else {
    lines.push(
      `peak RSS of jointspace grade --json on ${rss.images} images: ${(rss.peakRssKiB / 1024).toFixed(1)} MiB ` +
        `(${rss.method}; ${rss.graded} graded, ${rss.refused} refused, ${rss.errors} errors; ` +
        `${(rss.wallMs / 1000).toFixed(1)} s wall; ${rss.build})`,
    );
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`bench: ${messageOf(error)}\n${USAGE}`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }

  const before = machine();
  const threadCounts = [...new Set([1, before.cores])];
  const images = valImages(options.valDir, options.images);
  const { result: onnx, inputs } = await benchOnnx(options, threadCounts, images);

  let torch: TorchResult | { skipped: string };
  if (options.torch) {
    const outcome = await benchTorch(options, threadCounts, inputs);
    torch = outcome.ok ? outcome.value : { skipped: outcome.skipped };
  } else {
    torch = { skipped: '--skip-torch' };
  }

  let cliPeakRss: RssResult | { skipped: string };
  if (options.cli) {
    const outcome = await benchCliRss(options, valImages(options.valDir, options.cliImages));
    cliPeakRss = outcome.ok ? outcome.value : { skipped: outcome.skipped };
  } else {
    cliPeakRss = { skipped: '--skip-cli' };
  }

  const comparison = compare(onnx, 'skipped' in torch ? undefined : torch);
  const report: Report = {
    machine: before,
    loadAverageAfter: roundedLoad(),
    model: { id: onnx.model, directory: options.modelDir, smoke: onnx.smoke },
    inputs: {
      images: inputs.length,
      valDir: relative(repositoryRoot, options.valDir) || '.',
      size: onnx.size,
      warmup: options.warmup,
      repeats: options.repeats,
    },
    onnx,
    torch,
    comparison,
    target: targetSummary(comparison),
    cliPeakRss,
  };
  process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : formatTable(report));
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`bench: ${messageOf(error)}\n`);
  process.exitCode = 1;
}
