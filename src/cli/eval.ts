import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { JointspaceError } from '../errors.js';
import { Grader } from '../grading/grader.js';
import { summarise, type GradingMetrics, type Prediction } from '../grading/metrics.js';
import { GRADES } from '../grading/model.js';
import { createLogger } from '../log.js';
import { decodeInBatches, isDecoded } from './decode-batches.js';

const IMAGE_EXTENSIONS = /\.(png|jpe?g|dcm|dicom)$/i;

export interface LabelledFile {
  path: string;
  grade: number;
}

/** The external evaluation contract: exactly these keys, in this order. */
export interface EvalReport extends GradingMetrics {
  ms_per_image: number;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function listLabelledFiles(dir: string): Promise<LabelledFile[]> {
  if (!(await isDirectory(dir))) {
    throw new JointspaceError('invalid-argument', `${dir} is not a folder`);
  }
  const files: LabelledFile[] = [];
  for (let grade = 0; grade < GRADES; grade++) {
    const folder = join(dir, String(grade));
    if (!(await isDirectory(folder))) continue;
    const names = (await readdir(folder)).filter((name) => IMAGE_EXTENSIONS.test(name)).sort();
    files.push(...names.map((name) => ({ path: join(folder, name), grade })));
  }
  if (files.length === 0) {
    throw new JointspaceError(
      'invalid-argument',
      `${dir} holds no images in subfolders 0..4 (expected <dir>/<KL grade>/<image>)`,
    );
  }
  return files;
}

export async function evaluate(
  files: LabelledFile[],
  grader: Grader,
  onProgress: (done: number) => void = () => undefined,
): Promise<{ report: EvalReport; refused: number; failed: string[] }> {
  const predictions: Prediction[] = [];
  const failed: string[] = [];
  let refused = 0;
  const started = performance.now();

  let done = 0;
  for await (const batch of decodeInBatches(files, (file) => file.path, grader.batchSize)) {
    const decoded = batch.filter(isDecoded);
    for (const entry of batch) if (!isDecoded(entry)) failed.push(entry.item.path);
    const outcomes = await grader.grade(
      decoded.map((entry) => entry.decoded),
      { gradeRefused: true },
    );
    outcomes.forEach((outcome, i) => {
      const entry = decoded[i];
      if (entry === undefined || outcome.status !== 'graded') return;
      if (!outcome.kneeCheck.accepted) refused++;
      predictions.push({ truth: entry.item.grade, probabilities: outcome.probabilities });
    });
    done += batch.length;
    onProgress(done);
  }

  const metrics = summarise(predictions);
  const msPerImage = (performance.now() - started) / Math.max(1, files.length);
  return { report: { ...metrics, ms_per_image: msPerImage }, refused, failed };
}

function percent(value: number): string {
  return Number.isNaN(value) ? '  n/a' : `${(100 * value).toFixed(1)}%`;
}

function formatText(report: EvalReport, refused: number, failed: string[], model: string): string {
  const lines = [
    `model            ${model}`,
    `images           ${report.n}`,
    `accuracy         ${report.accuracy.toFixed(4)}`,
    `quadratic kappa  ${report.qwk.toFixed(4)}`,
    `mean abs error   ${report.mae.toFixed(4)}`,
    `AUC (KL >= 2)    ${report.auc_kl2.toFixed(4)}`,
    `recall by grade  ${report.recall.map((r, g) => `KL${g} ${percent(r)}`).join('  ')}`,
    `ms per image     ${report.ms_per_image.toFixed(1)}`,
    '',
    'confusion (rows = reference grade, columns = predicted)',
    `        ${Array.from({ length: GRADES }, (_, g) => `KL${g}`.padStart(6)).join('')}`,
    ...report.confusion.map(
      (row, g) => `  KL${g}  ${row.map((c) => String(c).padStart(6)).join('')}`,
    ),
  ];
  if (refused > 0)
    lines.push('', `${refused} image(s) graded although the knee check refused them`);
  if (failed.length > 0)
    lines.push('', `${failed.length} file(s) could not be read: ${failed.join(', ')}`);
  return lines.join('\n') + '\n';
}

/** `jointspace eval`: metrics against reference grades; exit 1 if any file could not be read. */
export async function runEval(dir: string, options: { json?: boolean }): Promise<number> {
  const logger = createLogger({ command: 'eval' });
  const files = await listLabelledFiles(dir);
  const grader = await Grader.create({ logger });
  const bar = process.stderr.isTTY
    ? new SingleBar(
        { format: 'grading [{bar}] {value}/{total} images  eta {eta}s' },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(files.length, 0);

  try {
    const { report, refused, failed } = await evaluate(files, grader, (done) => bar?.update(done));
    bar?.stop();
    for (const path of failed) logger.warn('eval.file-failed', { file: path });
    const output =
      options.json === true
        ? JSON.stringify({
            n: report.n,
            accuracy: report.accuracy,
            qwk: report.qwk,
            mae: report.mae,
            auc_kl2: report.auc_kl2,
            recall: report.recall,
            confusion: report.confusion,
            ms_per_image: report.ms_per_image,
          }) + '\n'
        : formatText(report, refused, failed, grader.model.id);
    process.stdout.write(output);
    return failed.length === 0 ? 0 : 1;
  } finally {
    bar?.stop();
    await grader.close();
  }
}
