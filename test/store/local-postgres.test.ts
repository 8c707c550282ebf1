import test from 'ava';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { databaseFromEnvironment, startLocalPostgres } from '../../src/store/local-postgres.js';
import { quietLogger, temporaryClusterFolder } from '../helpers/postgres.js';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

test('a second start reuses the initialised data folder and its data', async (t) => {
  const folder = await temporaryClusterFolder();
  t.teardown(() => folder.dispose());

  const first = await startLocalPostgres({ dataDir: folder.dataDir, logger: quietLogger });
  try {
    t.true(first.created);
    t.is(first.dataDir, folder.dataDir);
    t.regex(first.url, /^postgres:\/\/jointspace:[^@]+@127\.0\.0\.1:\d+\/jointspace$/);
    await query(first.url, 'CREATE TABLE kept (note text); INSERT INTO kept VALUES ($$first$$)');
    const [listen] = await query<{ listen_addresses: string }>(first.url, 'SHOW listen_addresses');
    t.is(listen?.listen_addresses, '127.0.0.1');
  } finally {
    await first.stop();
  }
  t.false(existsSync(`${folder.dataDir}/postmaster.pid`));

  const second = await startLocalPostgres({ dataDir: folder.dataDir, logger: quietLogger });
  try {
    t.false(second.created);
    t.deepEqual(await query(second.url, 'SELECT note FROM kept'), [{ note: 'first' }]);
  } finally {
    await second.stop();
  }
});

test('the cluster refuses connections without its password', async (t) => {
  const folder = await temporaryClusterFolder();
  const cluster = await startLocalPostgres({ dataDir: folder.dataDir, logger: quietLogger }).catch(
    async (error: unknown) => {
      await folder.dispose();
      throw error;
    },
  );
  try {
    const url = new URL(cluster.url);
    url.password = 'wrong';
    await t.throwsAsync(query(url.toString(), 'SELECT 1'), {
      message: /password authentication/,
    });
  } finally {
    await cluster.stop();
    await folder.dispose();
  }
});

test('a configured database URL is used as given, and no cluster is started', async (t) => {
  const url = 'postgres://someone:secret@db.invalid:5432/jointspace';

  const database = await databaseFromEnvironment({ JOINTSPACE_DATABASE_URL: url }, quietLogger);

  t.is(database.url, url);
  t.is(database.dataDir, undefined);
  await database.stop();
});

test('without a database URL, a cluster starts in JOINTSPACE_DATA_DIR/postgres', async (t) => {
  const folder = await temporaryClusterFolder();
  const root = dirname(folder.dataDir);
  try {
    const database = await databaseFromEnvironment({ JOINTSPACE_DATA_DIR: root }, quietLogger);
    try {
      t.is(database.dataDir, join(root, 'postgres'));
      t.deepEqual(await query(database.url, 'SELECT 1 AS one'), [{ one: 1 }]);
    } finally {
      await database.stop();
    }
  } finally {
    await folder.dispose();
  }
});
