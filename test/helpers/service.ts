/**
 * A real `jointspace serve` process for the pipeline tests, run from the sources on a free
 * loopback port, with its JSON log lines collected. It can be stopped gracefully (SIGTERM),
 * killed (SIGKILL, as a crash), and started again with the same configuration. The kernel
 * kills it if the test process dies (parent-death signal), so none outlives the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './orthanc.js';
import { repoRoot } from './paths.js';

const SETPRIV = '/usr/bin/setpriv';
const READY_TIMEOUT_MS = 90_000;

export const TEST_API_TOKEN = 'test-api-token-0123456789';
export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-0123456789';
export const TEST_PATIENT_KEY_SECRET = 'test-patient-key-secret-0123456789';

export interface ServiceOptions {
  orthancUrl: string;
  databaseUrl: string;
  /** Defaults to a free port. */
  port?: number;
  /** Extra or overriding JOINTSPACE_* variables. */
  env?: Record<string, string>;
}

export interface LogLine {
  level: string;
  event: string;
  [field: string]: unknown;
}

export interface ServiceProcess {
  url: string;
  port: number;
  /** Process id of the running service (throws when it is not running). */
  pid(): number;
  /** Every log line so far, across restarts. */
  logs(): LogLine[];
  /** The raw stderr text so far, across restarts (for failure reports). */
  output(): string;
  /** GET or POST an API path with the test token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** SIGKILL: the process dies at once, whatever it was doing. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>;
  /** Starts the process again (after kill or stop) and waits until it is ready. */
  start(): Promise<void>;
  /** Resolves when a log line satisfies `predicate` (checks those already seen first). */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const service = new ServiceChild(port, options);
  await service.start();
  return service;
}

class ServiceChild implements ServiceProcess {
  readonly url: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private text = '';
  private partial = '';
  private readonly lines: LogLine[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly port: number,
    private readonly options: ServiceOptions,
  ) {
    this.url = `http://127.0.0.1:${port}/`;
    process.once('exit', () => this.child?.kill('SIGKILL'));
  }

  pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('service not running');
    return pid;
  }

  logs(): LogLine[] {
    return [...this.lines];
  }

  output(): string {
    return this.text;
  }

  api(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${TEST_API_TOKEN}`);
    return fetch(new URL(path.replace(/^\//, ''), this.url), { ...init, headers });
  }

  async start(): Promise<void> {
    if (this.child !== undefined) throw new Error('service already running');
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (!key.startsWith('JOINTSPACE_')) env[key] = value;
    }
    Object.assign(env, {
      JOINTSPACE_HOST: '127.0.0.1',
      JOINTSPACE_PORT: String(this.port),
      JOINTSPACE_ORTHANC_URL: this.options.orthancUrl,
      JOINTSPACE_DATABASE_URL: this.options.databaseUrl,
      JOINTSPACE_API_TOKENS: TEST_API_TOKEN,
      JOINTSPACE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      JOINTSPACE_PATIENT_KEY_SECRET: TEST_PATIENT_KEY_SECRET,
      JOINTSPACE_POLL_INTERVAL_MS: '0',
      JOINTSPACE_JOB_RETRY_DELAY_S: '1',
      JOINTSPACE_LOG_LEVEL: 'info',
      ...this.options.env,
    });
    const child = spawn(
      SETPRIV,
      [
        '--pdeathsig',
        'SIGKILL',
        process.execPath,
        '--import',
        'tsx',
        join(repoRoot, 'test/helpers/cli.ts'),
        'serve',
      ],
      { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr.on('data', (chunk: Buffer) => this.collect(chunk.toString()));
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
      this.notify();
    });
    await this.waitReady(child);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 120_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < this.lines.length; seen++) {
          const line = this.lines[seen];
          if (line !== undefined && predicate(line)) {
            finish();
            resolve(line);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  private collect(chunk: string): void {
    this.text += chunk;
    this.partial += chunk;
    const pieces = this.partial.split('\n');
    this.partial = pieces.pop() ?? '';
    for (const piece of pieces) {
      if (piece.trim() === '') continue;
      try {
        this.lines.push(JSON.parse(piece) as LogLine);
      } catch {
        this.lines.push({ level: 'raw', event: 'raw', text: piece });
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`jointspace serve exited during start:\n${this.text.slice(-4000)}`);
      }
      try {
        const response = await fetch(new URL('readyz', this.url));
        if (response.status === 200) return;
        await response.body?.cancel();
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    child.kill('SIGKILL');
    throw new Error(
      `jointspace serve not ready within ${READY_TIMEOUT_MS} ms:\n${this.text.slice(-4000)}`,
    );
  }
}
