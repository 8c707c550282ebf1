/**
 * A real Orthanc (Debian `orthanc` 1.10 with `orthanc-dicomweb`) started for one test file:
 * its own temporary folder for configuration, storage, index, Lua scripts and log; HTTP on a
 * free port; the DICOM server off; remote access refused, so only this machine's loopback
 * reaches it. Stopped (SIGTERM, then SIGKILL) and its folder removed in teardown, killed when
 * the test process exits early, and killed by the kernel (parent-death signal) when the test
 * process is itself killed, so no Orthanc outlives the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestFn } from 'ava';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
/** util-linux (essential in Debian): makes the kernel kill Orthanc if the test process dies. */
const SETPRIV = '/usr/bin/setpriv';

const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 100;
const START_ATTEMPTS = 3;
/** What Orthanc 1.10 logs when another process took the port between check and bind. */
const PORT_TAKEN = /port of the HTTP server is privileged or already in use/;

export interface OrthancOptions {
  /** Require HTTP Basic authentication as this registered user (default: no authentication). */
  user?: { username: string; password: string };
  /** Lua script sources, written to files and listed in `LuaScripts`. */
  luaScripts?: string[];
  /** Lua script files listed in `LuaScripts` as they are, after those of `luaScripts`. */
  luaScriptFiles?: string[];
  /** Seconds without new instances before a study is stable (default 2). */
  stableAgeSeconds?: number;
  /**
   * More keys for Orthanc's configuration, e.g. the `Jointspace` section the push script
   * reads; a key given here replaces the helper's own.
   */
  configuration?: Record<string, unknown>;
}

export interface UploadedInstance {
  /** Orthanc's own identifier of the instance. */
  id: string;
  /** "Success" or "AlreadyStored". */
  status: string;
}

export interface Orthanc {
  /** Root of the REST API, e.g. `http://127.0.0.1:40123/`. */
  url: string;
  /** Root of the DICOMweb service, e.g. `http://127.0.0.1:40123/dicom-web/`. */
  dicomWebUrl: string;
  /** The temporary folder: `config/`, `storage/`, `lua/`, `orthanc.log`. */
  dir: string;
  /** Stops the server (SIGTERM, SIGKILL after 10 s); its data stays for `restart`. */
  stop(): Promise<void>;
  /** Stops the server if running and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stores a Part 10 file through the REST API (`POST /instances`). */
  uploadInstance(bytes: Uint8Array): Promise<UploadedInstance>;
  /** The last lines of Orthanc's log. */
  logTail(lines?: number): Promise<string>;
  /** Stops the server and removes its folder. */
  dispose(): Promise<void>;
}

/** A TCP port that was free a moment ago (Orthanc binds all interfaces, so check those). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port assigned');
  return address.port;
}

/** Starts Orthanc in a fresh temporary folder and waits until `/system` answers. */
export async function startOrthanc(options: OrthancOptions = {}): Promise<Orthanc> {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-orthanc-'));
  const server = new OrthancProcess(dir, options);
  try {
    await server.firstStart();
  } catch (error) {
    await server.dispose();
    throw error;
  }
  return server.handle();
}

/**
 * Starts one Orthanc for the test file: before all tests, disposed after all (even when some
 * fail), with the log tail printed for each failed test. The returned function resolves once
 * it answers, so other `before` hooks, which AVA runs concurrently, may await it.
 */
export function useOrthanc(test: TestFn, options: OrthancOptions = {}): () => Promise<Orthanc> {
  let started: Promise<Orthanc> | undefined;
  let orthanc: Orthanc | undefined;
  const start = () => {
    started ??= startOrthanc(options).then((server) => (orthanc = server));
    return started;
  };

  test.before(start);
  test.afterEach.always(async (t) => {
    if (!t.passed && orthanc !== undefined) t.log(`Orthanc log:\n${await orthanc.logTail()}`);
  });
  test.after.always(async () => {
    await orthanc?.dispose();
  });

  return start;
}

class OrthancProcess {
  private port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly logPath: string;
  private readonly killOnExit = () => {
    this.child?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  };

  constructor(
    private readonly dir: string,
    private readonly options: OrthancOptions,
  ) {
    this.logPath = join(dir, 'orthanc.log');
    process.once('exit', this.killOnExit);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  handle(): Orthanc {
    return {
      url: this.url,
      dicomWebUrl: `${this.url}dicom-web/`,
      dir: this.dir,
      stop: () => this.stop(),
      restart: async () => {
        await this.stop();
        await this.start();
      },
      uploadInstance: (bytes) => this.upload(bytes),
      logTail: (lines) => this.logTail(lines),
      dispose: () => this.dispose(),
    };
  }

  /** Starts on a fresh port; another process may take a port between check and bind. */
  async firstStart(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      await this.writeConfiguration();
      try {
        await this.start();
        return;
      } catch (error) {
        await this.stop();
        const portTaken = PORT_TAKEN.test(await this.logTail(50));
        if (!portTaken || attempt >= START_ATTEMPTS) throw error;
      }
    }
  }

  async start(): Promise<void> {
    const log = await open(this.logPath, 'a');
    try {
      // A killed test process runs no exit handler; the parent-death signal still fires.
      const command = [ORTHANC_BINARY, join(this.dir, 'config')];
      const [file, ...args] = existsSync(SETPRIV)
        ? [SETPRIV, '--pdeathsig', 'SIGKILL', '--', ...command]
        : command;
      const child = spawn(file ?? ORTHANC_BINARY, args, { stdio: ['ignore', log.fd, log.fd] });
      this.child = child;
      this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    } finally {
      await log.close();
    }
    await this.waitUntilAnswering();
  }

  private running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;

    if (this.running()) {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(killed);
    }
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    process.removeListener('exit', this.killOnExit);
    await rm(this.dir, { recursive: true, force: true });
  }

  async upload(bytes: Uint8Array): Promise<UploadedInstance> {
    const response = await fetch(new URL('instances', this.url), {
      method: 'POST',
      headers: { 'content-type': 'application/dicom', ...this.authorization() },
      body: bytes,
    });
    const answer = (await response.json()) as { ID?: unknown; Status?: unknown };
    if (!response.ok || typeof answer.ID !== 'string' || typeof answer.Status !== 'string') {
      throw new Error(`Orthanc refused the upload: HTTP ${response.status}`);
    }
    return { id: answer.ID, status: answer.Status };
  }

  async logTail(lines = 40): Promise<string> {
    const text = await readFile(this.logPath, 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  private async writeConfiguration(): Promise<void> {
    const scripts = this.options.luaScripts ?? [];
    const luaDir = join(this.dir, 'lua');
    await mkdir(join(this.dir, 'config'), { recursive: true });
    await mkdir(join(this.dir, 'storage'), { recursive: true });
    await mkdir(luaDir, { recursive: true });
    const luaPaths = await Promise.all(
      scripts.map(async (source, index) => {
        const path = join(luaDir, `script-${index}.lua`);
        await writeFile(path, source);
        return path;
      }),
    );

    const user = this.options.user;
    const configuration = {
      Name: 'jointspace-test',
      HttpPort: this.port,
      DicomServerEnabled: false,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: user !== undefined,
      RegisteredUsers: user === undefined ? {} : { [user.username]: user.password },
      StorageDirectory: join(this.dir, 'storage'),
      IndexDirectory: join(this.dir, 'storage'),
      Plugins: [DICOMWEB_PLUGIN],
      DicomWeb: { Enable: true, Root: '/dicom-web/' },
      StableAge: this.options.stableAgeSeconds ?? 2,
      LuaScripts: [...luaPaths, ...(this.options.luaScriptFiles ?? [])],
      OverwriteInstances: true,
      ConcurrentJobs: 1,
      SaveJobs: false,
      ...this.options.configuration,
    };
    // Every JSON file of the folder is merged: keep ours alone in it.
    const path = join(this.dir, 'config', 'orthanc.json');
    await writeFile(path, JSON.stringify(configuration, null, 2));
  }

  private async waitUntilAnswering(): Promise<void> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;

    while (Date.now() < deadline) {
      if (!this.running()) throw await this.failure('Orthanc exited during startup');
      if (await this.answers()) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    throw await this.failure(`Orthanc did not answer within ${STARTUP_TIMEOUT_MS} ms`);
  }

  private async answers(): Promise<boolean> {
    try {
      const response = await fetch(new URL('system', this.url), {
        headers: this.authorization(),
        signal: AbortSignal.timeout(1_000),
      });
      await response.arrayBuffer();
      return response.ok;
    } catch {
      return false;
    }
  }

  private authorization(): Record<string, string> {
    const user = this.options.user;
    if (user === undefined) return {};
    const token = Buffer.from(`${user.username}:${user.password}`).toString('base64');
    return { authorization: `Basic ${token}` };
  }

  private async failure(what: string): Promise<Error> {
    return new Error(`${what}; last log lines:\n${await this.logTail()}`);
  }
}
