/**
 * The sweep for studies a dead worker left `processing`, against real PostgreSQL and pg-boss's
 * own job table: only a study whose job is over (none waiting, retrying or running) and whose
 * attempt is older than the grace is failed, with a problem that says what happened.
 */
import test from 'ava';
import type { DataSource } from 'typeorm';
import { createLogger } from '../../src/log.js';
import { GRADE_STUDY_QUEUE, QUEUE_SCHEMA, StudyQueue } from '../../src/pipeline/queue.js';
import { sweepAbandonedStudies } from '../../src/pipeline/worker.js';
import { createDataSource, migrate } from '../../src/store/data-source.js';
import { Store } from '../../src/store/repository.js';
import { usePostgres } from '../helpers/postgres.js';

const database = usePostgres(test);

// UIDs under the 2.25 (UUID-derived) root; no patient data anywhere.
const EXPIRED = '2.25.200000000000000000000000000000000001';
const WAITING = '2.25.200000000000000000000000000000000002';
const RUNNING = '2.25.200000000000000000000000000000000003';
const RECENT = '2.25.200000000000000000000000000000000004';
const GRADED = '2.25.200000000000000000000000000000000005';
const NEVER_QUEUED = '2.25.200000000000000000000000000000000006';

test('only studies whose job is over and whose attempt is old are failed, each with a reason', async (t) => {
  const { url } = await database();
  const dataSource: DataSource = createDataSource({ url, poolSize: 2 });
  await dataSource.initialize();
  t.teardown(() => dataSource.destroy());
  await migrate(dataSource);
  const store = new Store(dataSource);
  const lines: string[] = [];
  const logger = createLogger({}, 'debug', (line) => lines.push(line));
  const queue = await StudyQueue.start({
    databaseUrl: url,
    retryLimit: 0,
    retryDelaySeconds: 1,
    jobTimeoutSeconds: 60,
    logger,
  });
  t.teardown(() => queue.stop());

  for (const uid of [EXPIRED, WAITING, RUNNING, RECENT, GRADED, NEVER_QUEUED]) {
    await store.beginAttempt(uid);
    await queue.enqueue({ studyInstanceUid: uid, source: 'push', force: false });
  }
  await store.finishAttempt(GRADED, 'graded', 'a'.repeat(64));
  // Job states as pg-boss leaves them: the expired job failed on its last attempt, one job
  // runs, one waits; the never-queued study's job is gone from the table altogether.
  const job = `${QUEUE_SCHEMA}.job`;
  const setState = (uid: string, state: string) =>
    dataSource.query(`UPDATE ${job} SET state = $1 WHERE name = $2 AND singleton_key = $3`, [
      state,
      GRADE_STUDY_QUEUE,
      uid,
    ]);
  await setState(EXPIRED, 'failed');
  await setState(RUNNING, 'active');
  await setState(RECENT, 'failed');
  await setState(GRADED, 'completed');
  await dataSource.query(`DELETE FROM ${job} WHERE singleton_key = $1`, [NEVER_QUEUED]);
  await dataSource.query(
    `UPDATE studies SET attempt_started_at = now() - interval '10 minutes'
      WHERE study_instance_uid <> $1`,
    [RECENT],
  );

  t.is(await sweepAbandonedStudies(store, logger), 2);

  const rows: { uid: string; status: string }[] = await dataSource.query(
    `SELECT study_instance_uid AS uid, status FROM studies`,
  );
  const statuses = Object.fromEntries(rows.map((row) => [row.uid, row.status]));
  t.deepEqual(statuses, {
    [EXPIRED]: 'failed',
    [NEVER_QUEUED]: 'failed',
    [WAITING]: 'processing',
    [RUNNING]: 'processing',
    [RECENT]: 'processing',
    [GRADED]: 'graded',
  });
  const problems = await store.listProblems(EXPIRED);
  t.is(problems.length, 1);
  t.is(problems[0]?.code, 'job-abandoned');
  t.regex(problems[0]?.reason ?? '', /reprocess the study/);

  // Nothing left to do the second time; the log counts, it does not name studies.
  t.is(await sweepAbandonedStudies(store, logger), 0);
  t.is((await store.listProblems(EXPIRED)).length, 1);
  const warning = lines.find((line) => line.includes('study.abandoned'));
  t.truthy(warning);
  t.false(lines.some((line) => line.includes(EXPIRED)));
});
