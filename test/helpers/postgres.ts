/**
 * A PostgreSQL database for one test file: a fresh database on the server named by
 * `JOINTSPACE_TEST_DATABASE_URL` when set, else on a throwaway cluster that `local-postgres`
 * initialises in a temporary folder and starts on a free loopback port. The database is dropped,
 * the cluster stopped (fast shutdown) and its folder removed after all tests, even failed ones.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestFn } from 'ava';
import pg from 'pg';
import { createLogger } from '../../src/log.js';
import { startLocalPostgres, type LocalPostgres } from '../../src/store/local-postgres.js';

export interface TestDatabase {
  /** URL of a database of its own, empty when handed over. */
  url: string;
}

/** A temporary folder the `postgres` user may pass through when the tests run as root. */
export interface ClusterFolder {
  /** Where a cluster's data may go; not created yet. */
  dataDir: string;
  dispose(): Promise<void>;
}

export async function temporaryClusterFolder(): Promise<ClusterFolder> {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-postgres-'));
  // Traversable, not listable: as root, the cluster runs as `postgres` and must reach data/.
  await chmod(dir, 0o711);
  return {
    dataDir: join(dir, 'data'),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Logs only errors, so test output stays readable. */
export const quietLogger = createLogger({ component: 'test-postgres' }, 'error');

/**
 * Provides one database for the test file: created before all tests, removed after all.
 * The returned function resolves once it exists, so `before` hooks may await it.
 */
export function usePostgres(test: TestFn): () => Promise<TestDatabase> {
  let started: Promise<TestDatabase> | undefined;
  let cluster: LocalPostgres | undefined;
  let folder: ClusterFolder | undefined;
  let serverUrl: string | undefined;
  let database: string | undefined;

  const start = async (): Promise<TestDatabase> => {
    serverUrl = process.env.JOINTSPACE_TEST_DATABASE_URL;
    if (serverUrl === undefined || serverUrl === '') {
      folder = await temporaryClusterFolder();
      cluster = await startLocalPostgres({ dataDir: folder.dataDir, logger: quietLogger });
      serverUrl = cluster.url;
    }
    database = `jointspace_test_${randomBytes(6).toString('hex')}`;
    await withClient(serverUrl, (client) =>
      client.query(`CREATE DATABASE ${client.escapeIdentifier(database ?? '')}`),
    );
    const url = new URL(serverUrl);
    url.pathname = `/${database}`;
    return { url: url.toString() };
  };

  test.before(() => (started ??= start()));
  test.after.always(async () => {
    if (serverUrl !== undefined && database !== undefined) {
      const name = database;
      await withClient(serverUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
      );
    }
    await cluster?.stop();
    await folder?.dispose();
  });

  return () => (started ??= start());
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
