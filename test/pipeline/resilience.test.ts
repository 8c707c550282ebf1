/**
 * The pipeline under failure, against real Orthanc and real PostgreSQL, with intake through
 * Orthanc's change feed (polling), so no event is lost while jointspace is down:
 *
 * - `kill -9` in the middle of a batch, then a restart: every study ends with exactly one SR
 *   and one overlay per graded image;
 * - Orthanc stopped for 30 s: jobs wait, retry with backoff, and complete once it is back;
 * - two service processes on one database: each study is graded once.
 */
import test from 'ava';
import pg from 'pg';
import { useOrthanc } from '../helpers/orthanc.js';
import { usePostgres } from '../helpers/postgres.js';
import { startService, type ServiceProcess } from '../helpers/service.js';
import { kneeStudy, valPictures, type TestStudy } from './studies.js';
import { upload, waitForStudy, writtenObjects } from './support.js';

const orthanc = useOrthanc(test, { stableAgeSeconds: 1 });
const database = usePostgres(test);
const services: ServiceProcess[] = [];

test.after.always(async () => {
  await Promise.all(services.map((service) => service.stop()));
});

test.afterEach.always((t) => {
  if (!t.passed) for (const service of services) t.log(service.output().slice(-5000));
});

async function launch(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const [server, db] = await Promise.all([orthanc(), database()]);
  const service = await startService({
    orthancUrl: server.url,
    databaseUrl: db.url,
    env: {
      JOINTSPACE_POLL_INTERVAL_MS: '300',
      JOINTSPACE_POLL_START: 'beginning',
      JOINTSPACE_JOB_TIMEOUT_S: '12',
      ...env,
    },
  });
  services.push(service);
  return service;
}

async function studies(count: number, grade: number): Promise<TestStudy[]> {
  const pictures = await valPictures(grade, count);
  const made: TestStudy[] = [];
  for (const [index, picture] of pictures.entries()) {
    made.push(
      await kneeStudy(
        [{ picture, laterality: index % 2 === 0 ? 'R' : 'L' }],
        `JS-RES-${grade}${index}`,
      ),
    );
  }
  return made;
}

async function query<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: (await database()).url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

test.serial(
  'kill -9 during a batch, then a restart: exactly one SR and one overlay per graded image',
  async (t) => {
    const service = await launch();
    const server = await orthanc();
    const batch = await studies(6, 1);
    for (const study of batch) await upload(server, study);

    // Kill the process while it is grading (a job has started, not all are done).
    await service.waitForLog((line) => line.event === 'job.started', 120_000);
    await service.kill();
    await service.start();

    for (const study of batch) {
      const result = await waitForStudy(service, study.studyInstanceUid, 240_000);
      t.is(result.status, 'graded', study.studyInstanceUid);
      const written = await writtenObjects(server, study.studyInstanceUid);
      t.is(written.reports.length, 1);
      t.is(written.overlays.length, 1);
    }
    await service.stop();
  },
);

test.serial(
  'Orthanc down for 30 s: the job waits, retries, and completes when it is back',
  async (t) => {
    const service = await launch({
      JOINTSPACE_JOB_RETRY_DELAY_S: '2',
      JOINTSPACE_JOB_RETRY_LIMIT: '10',
    });
    const server = await orthanc();
    const study = (await studies(1, 4))[0];
    if (study === undefined) throw new Error('no study');
    await upload(server, study);
    await waitForStudy(service, study.studyInstanceUid);

    // Orthanc goes away; a reprocess request queues a job that cannot reach it.
    await server.stop();
    const downAt = Date.now();
    const response = await service.api(`/api/studies/${study.studyInstanceUid}/reprocess`, {
      method: 'POST',
    });
    t.is(response.status, 202);
    await service.waitForLog((line) => line.event === 'job.retrying', 60_000);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, 30_000 - (Date.now() - downAt))),
    );
    await server.restart();

    const deadline = Date.now() + 180_000;
    let outcomes: string[] = [];
    while (Date.now() < deadline) {
      const rows = await query<{ outcome: string; started_at: Date }>(
        `SELECT outcome, started_at FROM job_records WHERE study_instance_uid = $1 ORDER BY started_at`,
        [study.studyInstanceUid],
      );
      outcomes = rows.filter((row) => row.started_at.getTime() >= downAt).map((row) => row.outcome);
      if (outcomes.at(-1) === 'succeeded') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    t.true(outcomes.includes('retrying'), outcomes.join(','));
    t.is(outcomes.at(-1), 'succeeded');
    const result = await waitForStudy(service, study.studyInstanceUid);
    t.is(result.status, 'graded');
    const written = await writtenObjects(server, study.studyInstanceUid);
    t.is(written.reports.length, 1);
    t.is(written.overlays.length, 1);
    await service.stop();
  },
);

test.serial('two processes on one database grade each study once', async (t) => {
  const [first, second] = [await launch(), await launch()];
  const server = await orthanc();
  const batch = await studies(6, 0);
  for (const study of batch) await upload(server, study);

  for (const study of batch) {
    const result = await waitForStudy(first, study.studyInstanceUid, 240_000);
    t.is(result.status, 'graded');
  }
  const processedBy = [first, second].map(
    (service) =>
      service.logs().filter((line) => line.event === 'study.processed' && line.status === 'graded')
        .length,
  );
  // Every study graded exactly once across both processes (earlier tests' studies are
  // already done and are skipped).
  t.is((processedBy[0] ?? 0) + (processedBy[1] ?? 0), batch.length);
  const stored = await query<{ object_id: string; n: string }>(
    `SELECT a.object_id, count(*) AS n FROM audit_entries a
       JOIN studies s ON s.id = a.study_id
      WHERE s.study_instance_uid = ANY($1) AND a.object_kind = 'sr'
      GROUP BY a.object_id`,
    [batch.map((study) => study.studyInstanceUid)],
  );
  t.is(stored.length, batch.length);
  t.true(stored.every((row) => row.n === '1'));
});
