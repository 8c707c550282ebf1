/**
 * `npm run bench:pipeline [-- --studies N]`: end-to-end throughput of one `jointspace serve`
 * process. Starts a private Orthanc (DICOMweb plugin, the push script) and PostgreSQL on
 * loopback, sends N one-image knee studies made from val crops, and reports:
 *
 * - throughput: studies per minute from the first upload to the last SR stored;
 * - latency from the stable-study event (the job's creation by the push) to the SR being
 *   stored (its audit entry), p50 and p95;
 * - node overhead: mean time per study outside model inference (total stage minus grade
 *   stage, from the service's own histograms);
 * - peak RSS of the service process (VmHWM);
 * - the floor: the same studies stored and each image retrieved over WADO-RS with no grading.
 *
 * Prints one JSON object on stdout; progress goes to stderr.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { DicomWebClient } from '../src/dicomweb/client.js';
import { PUSH_SCRIPT_PATH } from '../src/orthanc/push-script.js';
import { startLocalPostgres } from '../src/store/local-postgres.js';
import { freePort, startOrthanc, type Orthanc } from '../test/helpers/orthanc.js';
import { quietLogger, temporaryClusterFolder } from '../test/helpers/postgres.js';
import { TEST_WEBHOOK_SECRET, startService } from '../test/helpers/service.js';
import { kneeStudy, valPictures, type TestStudy } from '../test/pipeline/studies.js';

const { values } = parseArgs({
  options: { studies: { type: 'string', default: '100' } },
});
const count = Number(values.studies);
if (!Number.isInteger(count) || count < 1) throw new Error('--studies: a positive integer');

function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? NaN;
}

async function makeStudies(): Promise<TestStudy[]> {
  const perGrade = Math.ceil(count / 5);
  const pictures = (await Promise.all([0, 1, 2, 3, 4].map((g) => valPictures(g, perGrade)))).flat();
  const studies: TestStudy[] = [];
  for (let index = 0; index < count; index++) {
    const picture = pictures[index % pictures.length];
    studies.push(
      await kneeStudy(
        [{ ...(picture === undefined ? {} : { picture }), laterality: index % 2 ? 'L' : 'R' }],
        `JS-BENCH-${index}`,
      ),
    );
  }
  return studies;
}

async function floor(orthanc: Orthanc, studies: TestStudy[]) {
  const client = new DicomWebClient({ url: orthanc.dicomWebUrl });
  const started = performance.now();
  for (const study of studies) {
    for (const instance of study.instances) {
      await orthanc.uploadInstance(instance.bytes);
      await client.retrieveInstance({
        studyInstanceUid: study.studyInstanceUid,
        seriesInstanceUid: instance.seriesInstanceUid,
        sopInstanceUid: instance.sopInstanceUid,
      });
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    studiesPerMinute: (studies.length / seconds) * 60,
    msPerStudy: (seconds * 1000) / studies.length,
  };
}

function histogramSum(
  metrics: string,
  name: string,
  stage: string,
): { sum: number; count: number } {
  const read = (suffix: string) => {
    const match = new RegExp(`^${name}_${suffix}\\{stage="${stage}"\\} ([0-9.e+-]+)$`, 'm').exec(
      metrics,
    );
    return match?.[1] === undefined ? 0 : Number(match[1]);
  };
  return { sum: read('sum'), count: read('count') };
}

async function main(): Promise<void> {
  progress(`making ${count} studies`);
  const studies = await makeStudies();

  const floorOrthanc = await startOrthanc();
  let floorFigures;
  try {
    progress('floor: store and retrieve without grading');
    floorFigures = await floor(floorOrthanc, studies);
  } finally {
    await floorOrthanc.dispose();
  }

  const folder = await temporaryClusterFolder();
  const cluster = await startLocalPostgres({ dataDir: folder.dataDir, logger: quietLogger });
  const port = await freePort();
  const orthanc = await startOrthanc({
    stableAgeSeconds: 1,
    luaScriptFiles: [PUSH_SCRIPT_PATH],
    configuration: {
      Jointspace: { Url: `http://127.0.0.1:${port}`, WebhookSecret: TEST_WEBHOOK_SECRET },
    },
  });
  const databaseUrl = cluster.url;
  const service = await startService({
    orthancUrl: orthanc.url,
    databaseUrl,
    port,
    env: { JOINTSPACE_LOG_LEVEL: 'warn' },
  });
  try {
    progress('pipeline: uploading');
    const started = performance.now();
    for (const study of studies) {
      for (const instance of study.instances) await orthanc.uploadInstance(instance.bytes);
    }
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    let done = 0;
    while (done < count) {
      const result = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM audit_entries WHERE object_kind = 'sr'`,
      );
      done = Number(result.rows[0]?.n ?? 0);
      process.stderr.write(`\r  ${done}/${count} studies graded`);
      if (done < count) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    process.stderr.write('\n');
    const lastStored = await db.query<{ last: Date }>(
      `SELECT max(created_at) AS last FROM audit_entries WHERE object_kind = 'sr'`,
    );
    const latencies = await db.query<{ ms: string }>(
      `SELECT EXTRACT(EPOCH FROM (a.created_at - j.created_on)) * 1000 AS ms
         FROM audit_entries a
         JOIN studies s ON s.id = a.study_id
         JOIN LATERAL (
           SELECT min(created_on) AS created_on FROM jointspace_queue.job
            WHERE singleton_key = s.study_instance_uid
         ) j ON true
        WHERE a.object_kind = 'sr'`,
    );
    const firstJob = await db.query<{ first: Date }>(
      `SELECT min(created_on) AS first FROM jointspace_queue.job`,
    );
    await db.end();
    const wallSeconds = (performance.now() - started) / 1000;
    const lastAt = lastStored.rows[0]?.last.getTime() ?? Date.now();
    const firstAt = firstJob.rows[0]?.first.getTime() ?? lastAt;

    const metrics = await (await fetch(new URL('metrics', service.url))).text();
    const total = histogramSum(metrics, 'jointspace_stage_duration_seconds', 'total');
    const grade = histogramSum(metrics, 'jointspace_stage_duration_seconds', 'grade');
    const status = await readFile(`/proc/${service.pid()}/status`, 'utf8');
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 'NaN');
    const sorted = latencies.rows.map((row) => Number(row.ms)).sort((a, b) => a - b);

    const figures = {
      studies: count,
      imagesPerStudy: 1,
      pipeline: {
        studiesPerMinute: Number(((count / wallSeconds) * 60).toFixed(1)),
        wallSeconds: Number(wallSeconds.toFixed(1)),
        studiesPerMinuteFromFirstEvent: Number(
          ((count / ((lastAt - firstAt) / 1000)) * 60).toFixed(1),
        ),
        latencyMs: {
          p50: Math.round(percentile(sorted, 50)),
          p95: Math.round(percentile(sorted, 95)),
        },
        msPerStudy: {
          total: Number(((total.sum / Math.max(1, total.count)) * 1000).toFixed(1)),
          inference: Number(((grade.sum / Math.max(1, total.count)) * 1000).toFixed(1)),
          overheadOutsideInference: Number(
            (((total.sum - grade.sum) / Math.max(1, total.count)) * 1000).toFixed(1),
          ),
        },
        msPerStudyByStage: Object.fromEntries(
          ['fetch', 'decode', 'grade', 'measure', 'build', 'store'].map((stage) => {
            const { sum } = histogramSum(metrics, 'jointspace_stage_duration_seconds', stage);
            return [stage, Number(((sum / Math.max(1, total.count)) * 1000).toFixed(1))];
          }),
        ),
        peakRssMiB: Math.round(peakKb / 1024),
      },
      floor: {
        studiesPerMinute: Number(floorFigures.studiesPerMinute.toFixed(1)),
        msPerStudy: Number(floorFigures.msPerStudy.toFixed(1)),
      },
      cores: (await import('node:os')).cpus().length,
    };
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  } finally {
    await service.stop();
    await orthanc.dispose();
    await cluster.stop();
    await folder.dispose();
  }
}

await main();
