/**
 * A private PostgreSQL cluster for running without `JOINTSPACE_DATABASE_URL`: initialised
 * once in a data folder, then started as a child of this process on each run, listening on
 * 127.0.0.1 only (and a Unix socket in the data folder), with a password kept beside the
 * data. Debian's PostgreSQL 15 binaries are used.
 *
 * PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` system user
 * (created by Debian's package), which owns the data folder. Its parent folders must let that
 * user through, which is why root's default folder is under /var/lib rather than /root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLogger, type Logger } from '../log.js';

export const POSTGRES_BIN_DIR = '/usr/lib/postgresql/15/bin';
/** util-linux (essential in Debian): changes user and sets the parent-death signal. */
const SETPRIV = '/usr/bin/setpriv';
const SYSTEM_USER = 'postgres';
const SUPERUSER = 'jointspace';
const PASSWORD_FILE = 'jointspace.password';
const LOG_FILE = 'jointspace-postgres.log';

const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;
const START_ATTEMPTS = 3;
const PORT_TAKEN = /could not bind|Address already in use|could not create any TCP\/IP sockets/;
/** SQLSTATEs and socket errors that mean "not accepting connections yet". */
const NOT_READY = new Set(['57P03', 'ECONNREFUSED', 'ECONNRESET']);

export interface LocalPostgresOptions {
  /** The cluster's folder (default `defaultDataDir()`); created and initialised when empty. */
  dataDir?: string;
  /** TCP port on 127.0.0.1 (default: a free one, chosen anew on each start). */
  port?: number;
  /** The database to connect to, created when missing (default `jointspace`). */
  database?: string;
  /** Folder of `initdb` and `postgres` (default Debian's PostgreSQL 15). */
  binDir?: string;
  logger?: Logger;
}

export interface LocalPostgres {
  /** `postgres://jointspace:…@127.0.0.1:port/database`; carries the password, never log it. */
  url: string;
  dataDir: string;
  port: number;
  /** True when this start ran `initdb`, false when it reused an initialised folder. */
  created: boolean;
  /** PostgreSQL's own log, appended to on each start. */
  logPath: string;
  /** Fast shutdown: open sessions are ended, data is flushed. */
  stop(): Promise<void>;
}

/**
 * `$JOINTSPACE_DATA_DIR/postgres`, else `/var/lib/jointspace/postgres` for root (whose home
 * the `postgres` user cannot enter), else `$XDG_DATA_HOME/jointspace/postgres` with the XDG
 * default `~/.local/share`.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JOINTSPACE_DATA_DIR) return join(env.JOINTSPACE_DATA_DIR, 'postgres');
  if (isRoot()) return '/var/lib/jointspace/postgres';
  const dataHome = env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
  return join(dataHome, 'jointspace', 'postgres');
}

/** Initialises the cluster if needed, starts it and waits until the database answers. */
export async function startLocalPostgres(
  options: LocalPostgresOptions = {},
): Promise<LocalPostgres> {
  const dataDir = options.dataDir ?? defaultDataDir();
  const logger = options.logger ?? createLogger({ component: 'local-postgres' });
  const cluster = new Cluster(dataDir, options.binDir ?? POSTGRES_BIN_DIR, await runAs());

  const created = await cluster.prepare();
  const database = options.database ?? SUPERUSER;
  const port = await cluster.start(options.port);
  try {
    await cluster.ensureDatabase(database);
  } catch (error) {
    await cluster.stop();
    throw error;
  }

  logger.info('local-postgres-started', { dataDir, port, database, created });
  return {
    url: cluster.url(database),
    dataDir,
    port,
    created,
    logPath: cluster.logPath,
    stop: async () => {
      await cluster.stop();
      logger.info('local-postgres-stopped', { dataDir });
    },
  };
}

export interface Database {
  url: string;
  /** Where a self-started cluster keeps its data; absent for a configured server. */
  dataDir?: string;
  /** Stops a self-started cluster; does nothing for a configured server. */
  stop(): Promise<void>;
}

/**
 * The database named by `JOINTSPACE_DATABASE_URL`, else a self-started local cluster in
 * `defaultDataDir(env)`, whose location is logged.
 */
export async function databaseFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  logger: Logger = createLogger({ component: 'local-postgres' }),
): Promise<Database> {
  const url = env.JOINTSPACE_DATABASE_URL;
  if (url !== undefined && url !== '') {
    return { url, stop: () => Promise.resolve() };
  }
  logger.info('database-url-not-set', { using: 'local cluster' });
  const local = await startLocalPostgres({ dataDir: defaultDataDir(env), logger });
  return { url: local.url, dataDir: local.dataDir, stop: () => local.stop() };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port assigned');
  return address.port;
}

interface SystemUser {
  uid: number;
  gid: number;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The user the cluster runs as: `postgres` when we are root, else ourselves (undefined). */
async function runAs(): Promise<SystemUser | undefined> {
  if (!isRoot()) return undefined;

  const passwd = await readFile('/etc/passwd', 'utf8');
  const fields = passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((entry) => entry[0] === SYSTEM_USER);
  const uid = Number(fields?.[2]);
  const gid = Number(fields?.[3]);
  if (fields === undefined || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(
      `running as root, PostgreSQL needs the "${SYSTEM_USER}" system user; install Debian's postgresql package`,
    );
  }
  return { uid, gid };
}

class Cluster {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private port = 0;
  private password = '';
  readonly logPath: string;
  private readonly killOnExit = () => {
    // Immediate shutdown: the only signal worth sending from a synchronous exit handler.
    this.child?.kill('SIGQUIT');
  };

  constructor(
    private readonly dataDir: string,
    private readonly binDir: string,
    private readonly user: SystemUser | undefined,
  ) {
    this.logPath = join(dataDir, LOG_FILE);
  }

  url(database: string): string {
    const password = encodeURIComponent(this.password);
    return `postgres://${SUPERUSER}:${password}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  /** Creates and initialises the folder unless `PG_VERSION` shows it was; true if it did. */
  async prepare(): Promise<boolean> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    if (this.user !== undefined) await chown(this.dataDir, this.user.uid, this.user.gid);
    await chmod(this.dataDir, 0o700);

    if (existsSync(join(this.dataDir, 'PG_VERSION'))) {
      this.password = await this.storedPassword();
      return false;
    }
    await this.initdb();
    return true;
  }

  private async initdb(): Promise<void> {
    const password = randomBytes(24).toString('base64url');
    // initdb wants an empty folder, so the password file waits elsewhere until it is done.
    const scratch = await mkdtemp(join(tmpdir(), 'jointspace-initdb-'));
    const pwfile = join(scratch, 'pwfile');
    try {
      await writeFile(pwfile, password + '\n', { mode: 0o600 });
      if (this.user !== undefined) {
        await chown(scratch, this.user.uid, this.user.gid);
        await chown(pwfile, this.user.uid, this.user.gid);
      }
      await this.run('initdb', [
        '--pgdata',
        this.dataDir,
        '--username',
        SUPERUSER,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--no-locale',
        '--no-instructions',
      ]);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    await writeFile(join(this.dataDir, PASSWORD_FILE), password + '\n', { mode: 0o600 });
    this.password = password;
  }

  private async storedPassword(): Promise<string> {
    const path = join(this.dataDir, PASSWORD_FILE);
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (error) {
      throw new Error(
        `${this.dataDir} holds a cluster but not ${PASSWORD_FILE}: not made by jointspace, or its initdb was interrupted; move it away or remove it`,
        { cause: error },
      );
    }
  }

  /** Starts on `port`, or on a free one, retrying when another process takes it first. */
  async start(port: number | undefined): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      this.port = port ?? (await freeLoopbackPort());
      try {
        await this.spawnServer();
        await this.waitUntilReady();
        return this.port;
      } catch (error) {
        await this.stop();
        const taken = PORT_TAKEN.test(await this.logTail(20));
        if (port !== undefined || !taken || attempt >= START_ATTEMPTS) throw error;
      }
    }
  }

  async ensureDatabase(database: string): Promise<void> {
    const client = this.client('postgres');
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (found.rowCount === 0) {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
      }
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;

    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const killed = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(killed);
    }
    this.child = undefined;
    process.removeListener('exit', this.killOnExit);
  }

  private async spawnServer(): Promise<void> {
    const log = await open(this.logPath, 'a', 0o600);
    try {
      const child = this.spawn(
        'postgres',
        [
          '-D',
          this.dataDir,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `port=${this.port}`,
          '-c',
          `unix_socket_directories=${this.dataDir}`,
          '-c',
          'logging_collector=off',
        ],
        log.fd,
      );
      this.child = child;
      this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
      process.once('exit', this.killOnExit);
    } finally {
      await log.close();
    }
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;

    while (Date.now() < deadline) {
      const child = this.child;
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
        throw await this.failure('PostgreSQL exited during startup');
      }
      if (await this.answers()) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    throw await this.failure(`PostgreSQL did not answer within ${STARTUP_TIMEOUT_MS} ms`);
  }

  private async answers(): Promise<boolean> {
    const client = this.client('postgres');
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && NOT_READY.has(code)) return false;
      throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private client(database: string): pg.Client {
    return new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: SUPERUSER,
      password: this.password,
      database,
      connectionTimeoutMillis: 5_000,
    });
  }

  /**
   * Runs a PostgreSQL tool to completion as the cluster's user. Its output is kept in memory
   * for the error, since `initdb` wants the data folder, where the log lives, to be empty.
   */
  private async run(tool: string, args: string[]): Promise<void> {
    const child = this.spawn(tool, args, 'pipe');
    const output: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) {
      const text = Buffer.concat(output).toString('utf8').trim();
      throw new Error(`${tool} failed with exit code ${String(code)}:\n${text}`);
    }
  }

  /**
   * Spawns a PostgreSQL binary as the cluster's user; the kernel sends it SIGINT (fast
   * shutdown) should this process die without running its exit handlers.
   */
  private spawn(tool: string, args: string[], output: number | 'pipe'): ChildProcess {
    const binary = join(this.binDir, tool);
    const user = this.user;
    const setpriv = existsSync(SETPRIV);
    if (user !== undefined && !setpriv) throw new Error(`running as root needs ${SETPRIV}`);

    const identity =
      user === undefined
        ? []
        : [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--reset-env'];
    const [file, ...rest] = setpriv
      ? [SETPRIV, ...identity, '--pdeathsig', 'SIGINT', '--', binary, ...args]
      : [binary, ...args];
    return spawn(file, rest, {
      cwd: this.dataDir,
      stdio: ['ignore', output, output],
    });
  }

  /**
   * The log is written by PostgreSQL as the cluster's user but opened by this process; the
   * folder stays private to that user, root excepted.
   */
  private async logTail(lines: number): Promise<string> {
    const text = await readFile(this.logPath, 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  private async failure(what: string): Promise<Error> {
    return new Error(`${what}; last log lines of ${this.logPath}:\n${await this.logTail(30)}`);
  }
}
