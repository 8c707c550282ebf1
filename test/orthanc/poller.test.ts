/**
 * The change poller, its cursor store and the REST calls it makes, against a real Orthanc 1.10
 * and a real PostgreSQL. Each test uses a cursor of its own, so tests share both servers;
 * they run one after the other because the advisory lock is one per database.
 */
import test from 'ava';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { createLogger, type Logger } from '../../src/log.js';
import { PostgresCursorStore } from '../../src/orthanc/cursor.js';
import {
  ChangePoller,
  INTAKE_LOCK_KEY,
  type ChangePollerOptions,
  type StableStudyEvent,
} from '../../src/orthanc/poller.js';
import { OrthancRestClient } from '../../src/orthanc/rest.js';
import { createDataSource, migrate } from '../../src/store/data-source.js';
import { errorOf } from '../helpers/errors.js';
import { useOrthanc } from '../helpers/orthanc.js';
import { usePostgres } from '../helpers/postgres.js';
import { tinyStudy, upload, waitUntilStable, type TinyStudy } from './studies.js';

const orthancServer = useOrthanc(test, { stableAgeSeconds: 1 });
const database = usePostgres(test);
const dataSources: DataSource[] = [];

async function openDataSource(): Promise<DataSource> {
  const dataSource = createDataSource({ url: (await database()).url, poolSize: 3 });
  await dataSource.initialize();
  dataSources.push(dataSource);
  return dataSource;
}

test.before(async () => {
  await migrate(await openDataSource());
});

test.after.always(async () => {
  await Promise.all(dataSources.map((dataSource) => dataSource.destroy()));
});

interface LogLine {
  level: string;
  event: string;
  [field: string]: unknown;
}

function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({}, 'debug', (line) => lines.push(JSON.parse(line) as LogLine));
  return { logger, lines };
}

interface Harness {
  poller: ChangePoller;
  events: StableStudyEvent[];
  lines: LogLine[];
  cursor: PostgresCursorStore;
}

/** A poller on its own data source (as another process would have) recording its events. */
async function harness(
  cursorName: string,
  options: Partial<ChangePollerOptions> = {},
): Promise<Harness> {
  const orthanc = await orthancServer();
  const dataSource = await openDataSource();
  const cursor = new PostgresCursorStore(dataSource);
  const events: StableStudyEvent[] = [];
  const { logger, lines } = capturingLogger();
  const poller = new ChangePoller({
    orthanc: new OrthancRestClient({ url: orthanc.url, timeoutMs: 5_000 }),
    cursor,
    dataSource,
    intervalMs: 50,
    start: 'now',
    cursorName,
    logger,
    onStableStudy: (event) => {
      events.push(event);
      return Promise.resolve();
    },
    ...options,
  });
  return { poller, events, lines, cursor };
}

/** Uploads one study per fixture and waits until Orthanc calls each stable. */
async function stableStudies(...studies: TinyStudy[]): Promise<Map<string, string>> {
  const orthanc = await orthancServer();
  const ids = new Map<string, string>();
  for (const study of studies) ids.set(await upload(orthanc, study), study.studyInstanceUid);
  await waitUntilStable(orthanc, [...ids.keys()]);
  return ids;
}

function eventsOf(ids: Map<string, string>): StableStudyEvent[] {
  return [...ids].map(([orthancStudyId, studyInstanceUid]) => ({
    orthancStudyId,
    studyInstanceUid,
  }));
}

async function orthancLast(): Promise<number> {
  return new OrthancRestClient({ url: (await orthancServer()).url }).lastChange();
}

test.serial('the REST client reads /system, /changes and a study UID', async (t) => {
  const orthanc = await orthancServer();
  const client = new OrthancRestClient({ url: orthanc.url.replace(/\/$/, '') });
  const system = await client.system();
  t.regex(system.version, /^1\.\d+/);
  t.true(system.apiVersion > 0);

  const study = tinyStudy();
  const [studyId] = (await stableStudies(study)).keys();
  const last = await client.lastChange();
  const page = await client.changes(0, 1000);
  t.is(page.last, last);
  t.true(page.done);
  t.true(
    page.changes.some((change) => change.changeType === 'StableStudy' && change.id === studyId),
  );
  t.deepEqual(
    page.changes.map((change) => change.seq),
    page.changes.map((_, index) => (page.changes[0]?.seq ?? 0) + index),
  );

  const twoOnly = await client.changes(0, 2);
  t.is(twoOnly.changes.length, 2);
  t.false(twoOnly.done);
  t.is(twoOnly.last, twoOnly.changes[1]?.seq ?? -1);

  t.is(await client.studyInstanceUid(studyId ?? ''), study.studyInstanceUid);
  t.is(await client.studyInstanceUid('00000000-00000000-00000000-00000000-00000000'), undefined);
  t.is((await errorOf(client.studyInstanceUid('../system'))).code, 'invalid-argument');
});

test.serial('the cursor store starts empty, only moves forward and refuses bad seqs', async (t) => {
  const store = new PostgresCursorStore(await openDataSource());
  t.is(await store.get('store-test'), undefined);
  t.is(await store.set('store-test', 5), 5);
  t.is(await store.set('store-test', 3), 5, 'GREATEST keeps the higher seq');
  t.is(await store.get('store-test'), 5);
  t.is(await store.set('store-test', 2 ** 40), 2 ** 40);
  t.is(await store.get('store-test'), 2 ** 40);
  t.is(await store.get('another-feed'), undefined);

  for (const seq of [-1, 1.5, Number.NaN]) {
    t.is((await errorOf(store.set('store-test', seq))).code, 'invalid-argument');
  }
  t.is((await errorOf(store.get(''))).code, 'invalid-argument');
});

test.serial(
  "first run: 'now' skips what Orthanc already holds, 'beginning' reads it",
  async (t) => {
    const before = await stableStudies(tinyStudy());

    const now = await harness('first-run-now', { start: 'now' });
    t.deepEqual(await now.poller.pollOnce(), { outcome: 'polled', seen: 0, stableStudies: 0 });
    t.deepEqual(now.events, []);
    t.is(await now.cursor.get('first-run-now'), await orthancLast());
    const created = now.lines.find((line) => line.event === 'orthanc.cursor-created');
    t.is(created?.level, 'info');
    t.regex(String(created?.note), /not processed/);

    const beginning = await harness('first-run-beginning', { start: 'beginning' });
    const result = await beginning.poller.pollOnce();
    t.is(result.outcome, 'polled');
    t.is(result.seen, await orthancLast());
    for (const event of eventsOf(before)) t.true(beginning.events.some((e) => equal(e, event)));
    t.is(await beginning.cursor.get('first-run-beginning'), await orthancLast());
  },
);

test.serial(
  'one event per stable study, the cursor persisted, and a restart delivers only the new ones',
  async (t) => {
    const first = await harness('restart', { batchSize: 2 });
    await first.poller.pollOnce();

    const batch = await stableStudies(tinyStudy(), tinyStudy());
    const result = await first.poller.pollOnce();
    t.is(result.outcome, 'polled');
    t.is(result.stableStudies, 2);
    t.deepEqual(sorted(first.events), sorted(eventsOf(batch)));
    t.is(await first.cursor.get('restart'), await orthancLast());
    t.deepEqual(await first.poller.pollOnce(), { outcome: 'polled', seen: 0, stableStudies: 0 });

    // Uploaded while no poller runs; the "restarted" poller has a data source of its own.
    const later = await stableStudies(tinyStudy());
    const restarted = await harness('restart', { batchSize: 2 });
    await restarted.poller.pollOnce();
    t.deepEqual(restarted.events, eventsOf(later));
    t.is(await restarted.cursor.get('restart'), await orthancLast());
    t.false(
      restarted.lines.some(
        (line) => line.level !== 'debug' && JSON.stringify(line).includes('2.25.'),
      ),
      'no StudyInstanceUID above debug level',
    );
  },
);

test.serial('a failing onStableStudy keeps the cursor before that study', async (t) => {
  const start = await harness('crash');
  await start.poller.pollOnce();
  await stableStudies(tinyStudy(), tinyStudy());

  // The first delivery succeeds, the second fails: whichever study Orthanc called stable first.
  const delivered: string[] = [];
  const failing = await harness('crash', {
    onStableStudy: (event) => {
      delivered.push(event.orthancStudyId);
      return delivered.length === 2 ? Promise.reject(new Error('queue down')) : Promise.resolve();
    },
  });
  t.is((await t.throwsAsync(failing.poller.pollOnce())).message, 'queue down');
  const stored = await failing.cursor.get('crash');
  t.true(stored !== undefined && stored < (await orthancLast()));

  const again = await harness('crash');
  await again.poller.pollOnce();
  t.deepEqual(
    again.events.map((event) => event.orthancStudyId),
    [delivered[1]],
    'the failed study is delivered again, the one before it is not',
  );
});

test.serial(
  'Orthanc stopped: polls report it once, keep the cursor, and resume after the restart',
  async (t) => {
    const orthanc = await orthancServer();
    const { poller, events, lines, cursor } = await harness('outage');
    await poller.pollOnce();
    const ids = await stableStudies(tinyStudy());
    const kept = await cursor.get('outage');

    await orthanc.stop();
    try {
      for (let tick = 0; tick < 3; tick++) {
        t.deepEqual(await poller.pollOnce(), {
          outcome: 'unavailable',
          seen: 0,
          stableStudies: 0,
        });
      }
    } finally {
      await orthanc.restart();
    }
    t.is(await cursor.get('outage'), kept);
    const warnings = lines.filter((line) => line.event === 'orthanc.unavailable');
    t.is(warnings.length, 1, 'warned once per outage');
    t.is(warnings[0]?.level, 'warn');
    t.regex(String(warnings[0]?.message), /cannot reach Orthanc \(ECONNREFUSED\)/);

    t.is((await poller.pollOnce()).outcome, 'polled');
    t.deepEqual(events, eventsOf(ids));
    t.is(lines.filter((line) => line.event === 'orthanc.available-again').length, 1);
  },
);

test.serial('two pollers on one database deliver each study once', async (t) => {
  const a = await harness('shared', { onStableStudy: slowly });
  const b = await harness('shared', { onStableStudy: slowly });
  const delivered: string[] = [];
  function slowly(event: StableStudyEvent): Promise<void> {
    delivered.push(event.orthancStudyId);
    return new Promise((resolve) => setTimeout(resolve, 150));
  }

  await a.poller.pollOnce();
  const first = await stableStudies(tinyStudy(), tinyStudy(), tinyStudy());
  const outcomes = await Promise.all([a.poller.pollOnce(), b.poller.pollOnce()]);
  t.deepEqual(outcomes.map((result) => result.outcome).sort(), ['locked', 'polled']);

  // Both running on timers, while more studies arrive.
  a.poller.start();
  b.poller.start();
  const second = await stableStudies(tinyStudy(), tinyStudy());
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await Promise.all([a.poller.stop(), b.poller.stop()]);

  t.deepEqual(delivered.sort(), [...first.keys(), ...second.keys()].sort());
  t.is(await a.cursor.get('shared'), await orthancLast());
});

test.serial('a cursor beyond the end of the change log is reported once', async (t) => {
  const { poller, cursor, lines, events } = await harness('behind');
  const beyond = (await orthancLast()) + 1_000;
  await cursor.set('behind', beyond);

  for (let tick = 0; tick < 2; tick++) {
    t.deepEqual(await poller.pollOnce(), { outcome: 'polled', seen: 0, stableStudies: 0 });
  }
  const reports = lines.filter((line) => line.event === 'orthanc.changes-behind-cursor');
  t.is(reports.length, 1);
  t.is(reports[0]?.level, 'error');
  t.is(reports[0]?.cursor, beyond);
  t.is(await cursor.get('behind'), beyond, 'the cursor is not moved back');
  t.deepEqual(events, []);
});

test.serial('a poll is skipped while another session holds the lock', async (t) => {
  const { poller } = await harness('locked');
  const client = new pg.Client({ connectionString: (await database()).url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [INTAKE_LOCK_KEY]);
    t.deepEqual(await poller.pollOnce(), { outcome: 'locked', seen: 0, stableStudies: 0 });
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [INTAKE_LOCK_KEY]);
    t.is((await poller.pollOnce()).outcome, 'polled');
  } finally {
    await client.end();
  }
});

function equal(a: StableStudyEvent, b: StableStudyEvent): boolean {
  return a.orthancStudyId === b.orthancStudyId && a.studyInstanceUid === b.studyInstanceUid;
}

function sorted(events: StableStudyEvent[]): StableStudyEvent[] {
  return [...events].sort((a, b) => a.orthancStudyId.localeCompare(b.orthancStudyId));
}
