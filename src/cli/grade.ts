import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { errorMessage, JointspaceError } from '../errors.js';
import { heatmapPng } from '../grading/heatmap.js';
import { Grader, type GradedImage, type GradeOutcome } from '../grading/grader.js';
import type { DecodedImage } from '../imaging/types.js';
import { createLogger } from '../log.js';
import { decodeInBatches, isDecoded } from './decode-batches.js';

interface GradeCommandOptions {
  json?: boolean;
  heatmap?: string;
}

export interface FileReport {
  file: string;
  status: 'graded' | 'refused' | 'error';
  klGrade?: number;
  probabilities?: number[];
  confidence?: number;
  kneeCheck?: { accepted: boolean; reason: string; score: number };
  heatmap?: string;
  error?: { code: string; message: string };
}

function errorReport(file: string, error: unknown): FileReport {
  const code = error instanceof JointspaceError ? error.code : 'unexpected';
  return { file, status: 'error', error: { code, message: errorMessage(error) } };
}

function outcomeReport(file: string, outcome: GradeOutcome): FileReport {
  const kneeCheck = {
    accepted: outcome.kneeCheck.accepted,
    reason: outcome.kneeCheck.reason,
    score: outcome.kneeCheck.score,
  };
  if (outcome.status === 'refused') return { file, status: 'refused', kneeCheck };
  return {
    file,
    status: 'graded',
    klGrade: outcome.klGrade,
    probabilities: outcome.probabilities,
    confidence: outcome.confidence,
    kneeCheck,
  };
}

/** `<name>.heatmap.png`, or `<name>-2.heatmap.png`, … when files in other folders share a name. */
function heatmapPath(dir: string, file: string, used: Set<string>): string {
  const stem = basename(file, extname(file));
  let target = join(dir, `${stem}.heatmap.png`);
  for (let n = 2; used.has(target); n++) target = join(dir, `${stem}-${n}.heatmap.png`);
  used.add(target);
  return target;
}

async function writeHeatmap(
  target: string,
  decoded: DecodedImage,
  outcome: GradedImage,
): Promise<string> {
  await writeFile(target, await heatmapPng(decoded.image, outcome.cam, outcome.klGrade));
  return target;
}

function formatReport(report: FileReport): string {
  switch (report.status) {
    case 'graded': {
      const probabilities = (report.probabilities ?? []).map((p) => p.toFixed(3)).join(' ');
      const heatmap = report.heatmap === undefined ? '' : `  heat map: ${report.heatmap}`;
      return `${report.file}: KL ${report.klGrade ?? '?'}  confidence ${(report.confidence ?? 0).toFixed(2)}  P(KL0..4) ${probabilities}  knee check: ${report.kneeCheck?.reason ?? ''}${heatmap}`;
    }
    case 'refused':
      return `${report.file}: refused. ${report.kneeCheck?.reason ?? ''}`;
    case 'error':
      return `${report.file}: error (${report.error?.code ?? ''}): ${report.error?.message ?? ''}`;
  }
}

/** `jointspace grade`: every file gets a line (or JSON entry); exit 1 if any was not graded. */
export async function runGrade(files: string[], options: GradeCommandOptions): Promise<number> {
  const logger = createLogger({ command: 'grade' });
  const grader = await Grader.create({ logger });
  if (options.heatmap !== undefined) await mkdir(options.heatmap, { recursive: true });
  const reports: FileReport[] = [];
  const heatmapsWritten = new Set<string>();

  try {
    for await (const batch of decodeInBatches(files, (file) => file, grader.batchSize)) {
      const decoded = batch.filter(isDecoded);
      const outcomes = await grader.grade(decoded.map((entry) => entry.decoded));
      const outcomeOf = new Map(decoded.map((entry, i) => [entry, outcomes[i]]));

      for (const entry of batch) {
        const outcome = isDecoded(entry) ? outcomeOf.get(entry) : undefined;
        const report =
          outcome === undefined
            ? errorReport(entry.item, 'error' in entry ? entry.error : undefined)
            : outcomeReport(entry.item, outcome);
        if (isDecoded(entry) && outcome?.status === 'graded' && options.heatmap !== undefined) {
          const target = heatmapPath(options.heatmap, entry.item, heatmapsWritten);
          report.heatmap = await writeHeatmap(target, entry.decoded, outcome);
        }
        if (report.status === 'error') {
          logger.warn('grade.file-failed', { file: entry.item, code: report.error?.code });
        }
        reports.push(report);
        if (options.json !== true) process.stdout.write(formatReport(report) + '\n');
      }
    }
  } finally {
    await grader.close();
  }

  if (options.json === true) {
    process.stdout.write(
      JSON.stringify({ model: grader.model.id, results: reports }, null, 2) + '\n',
    );
  }
  return reports.every((report) => report.status === 'graded') ? 0 : 1;
}
