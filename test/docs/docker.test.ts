/**
 * docker/compose.yml as the Compose client reads it, without a Docker daemon: the client
 * must accept the file once the secrets of docker/.env.example are filled in, and refuse it
 * while they are empty. The configuration it resolves is then checked against what the
 * deployment relies on: the six services, two worker replicas, a health check everywhere,
 * ports on loopback only, mounted files that exist, secrets that agree between services, and
 * an environment that jointspace's own configuration check (`loadConfig`) accepts.
 *
 * The client is `docker compose` (v2) when present, else Debian 12's Python `docker-compose`
 * (1.29), whose `config` prints YAML that Debian's python3-yaml (one of its dependencies)
 * turns into JSON here. Without either, every test fails with the package to install. No
 * image is built or pulled.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);

const COMPOSE_FILE = join(repoRoot, 'docker', 'compose.yml');
const ENV_EXAMPLE = join(repoRoot, 'docker', '.env.example');
const ORTHANC_CONFIG = join(repoRoot, 'docker', 'orthanc', 'jointspace.json');
const PYTHON = '/usr/bin/python3';
const TIMEOUT_MS = 60_000;

const INSTALL_HINT =
  "no Docker Compose client: install Debian's docker-compose package " +
  "(apt-get install -y --no-install-recommends docker-compose) or Docker's docker-compose-plugin";

const SERVICES = ['postgres', 'orthanc', 'fhir', 'jointspace-api', 'jointspace-worker', 'ohif'];

interface ComposeClient {
  command: string;
  prefix: string[];
  major: number;
}

interface Service {
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  ports?: (string | { host_ip?: string; published?: string | number; target: number })[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  deploy?: { replicas?: number };
}

interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** Only PATH and HOME: a variable exported in the shell would override the env file. */
const cleanEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
if (process.env.HOME !== undefined) cleanEnv.HOME = process.env.HOME;

async function versionOf(command: string, prefix: string[]): Promise<number | undefined> {
  try {
    const { stdout } = await run(command, [...prefix, 'version', '--short'], {
      env: cleanEnv,
      timeout: TIMEOUT_MS,
    });
    const major = /^v?(\d+)\./.exec(stdout.trim())?.[1];
    return major === undefined ? undefined : Number(major);
  } catch {
    return undefined;
  }
}

let found: Promise<ComposeClient> | undefined;
function client(): Promise<ComposeClient> {
  found ??= (async () => {
    for (const [command, prefix] of [
      ['docker', ['compose']],
      ['docker-compose', []],
    ] as const) {
      const major = await versionOf(command, [...prefix]);
      if (major !== undefined) return { command, prefix: [...prefix], major };
    }
    throw new Error(INSTALL_HINT);
  })();
  return found;
}

/** Runs `config` with the env file; resolves with the exit status and output, never throws. */
async function composeConfig(
  envFile: string,
  extra: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { command, prefix } = await client();
  const args = [...prefix, '-f', COMPOSE_FILE, '--env-file', envFile, 'config', ...extra];
  try {
    const { stdout, stderr } = await run(command, args, {
      env: cleanEnv,
      timeout: TIMEOUT_MS,
      maxBuffer: 8 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? String(error),
    };
  }
}

/** The names the example leaves empty: the secrets an operator must supply. */
function emptyVariables(example: string): string[] {
  return [...example.matchAll(/^([A-Z][A-Z0-9_]*)=$/gm)].map((match) => match[1] ?? '');
}

const example = await readFile(ENV_EXAMPLE, 'utf8');
const secrets = Object.fromEntries(
  emptyVariables(example).map((name) => [name, randomBytes(24).toString('hex')]),
);
const scratch = await mkdtemp(join(tmpdir(), 'jointspace-compose-'));
const filledEnv = join(scratch, 'filled.env');
await writeFile(
  filledEnv,
  example.replace(
    /^([A-Z][A-Z0-9_]*)=$/gm,
    (line, name: string) => `${name}=${secrets[name] ?? ''}`,
  ),
);

/** The generated value of a secret of the example. */
function secret(name: string): string {
  const value = secrets[name];
  if (value === undefined) throw new Error(`docker/.env.example does not leave ${name} empty`);
  return value;
}

test.after.always(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let resolved: Promise<ComposeConfig> | undefined;
/** The configuration Compose resolves with the filled env file, as JSON. */
function resolvedConfig(): Promise<ComposeConfig> {
  resolved ??= (async () => {
    const { major } = await client();
    const answer = await composeConfig(filledEnv, major >= 2 ? ['--format', 'json'] : []);
    if (answer.code !== 0) throw new Error(`compose config failed: ${answer.stderr}`);
    if (major >= 2) return JSON.parse(answer.stdout) as ComposeConfig;
    const converting = run(
      PYTHON,
      ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
      { timeout: TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024 },
    );
    converting.child.stdin?.end(answer.stdout);
    const { stdout } = await converting.catch((error: unknown) => {
      throw new Error(`${PYTHON} with python3-yaml could not read the YAML: ${String(error)}`);
    });
    return JSON.parse(stdout) as ComposeConfig;
  })();
  return resolved;
}

function service(config: ComposeConfig, name: string): Service {
  const found = config.services[name];
  if (found === undefined) throw new Error(`compose.yml has no service ${name}`);
  return found;
}

function environment(config: ComposeConfig, name: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service(config, name).environment ?? {}).map(([key, value]) => [
      key,
      value ?? '',
    ]),
  );
}

test('the Compose client accepts compose.yml once the secrets are filled in', async (t) => {
  const answer = await composeConfig(filledEnv, ['--quiet']);

  t.is(answer.code, 0, answer.stderr);
});

test('the example env file, unedited, is refused for want of a secret', async (t) => {
  t.true(Object.keys(secrets).length >= 10, 'the example should leave every secret empty');
  const compose = await readFile(COMPOSE_FILE, 'utf8');
  for (const name of Object.keys(secrets)) {
    t.true(compose.includes(`\${${name}:?`), `${name} should be required in compose.yml`);
  }

  const answer = await composeConfig(ENV_EXAMPLE, ['--quiet']);

  t.not(answer.code, 0);
  t.regex(answer.stderr, /set [A-Z_]+ in docker\/\.env/);
});

test('every service is there, with a health check, and two worker replicas', async (t) => {
  const config = await resolvedConfig();

  t.deepEqual(Object.keys(config.services).sort(), [...SERVICES].sort());
  for (const name of SERVICES) {
    const check = service(config, name).healthcheck;
    t.truthy(check?.test, `${name} has no health check`);
    t.not(check?.disable, true, `${name} disables its health check`);
  }
  t.is(service(config, 'jointspace-worker').deploy?.replicas, 2);
});

test('published ports listen on loopback only by default', async (t) => {
  const config = await resolvedConfig();
  const published = Object.entries(config.services).flatMap(([name, one]) =>
    (one.ports ?? []).map((port) => ({ name, port })),
  );

  t.true(published.length >= 5);
  for (const { name, port } of published) {
    const hostIp = typeof port === 'string' ? port.split(':').slice(0, -2).join(':') : port.host_ip;
    t.is(hostIp, '127.0.0.1', `${name} publishes ${JSON.stringify(port)}`);
  }
  t.is(service(config, 'postgres').ports, undefined, 'PostgreSQL must not be published');
});

test('mounted files exist and the data lives in named volumes', async (t) => {
  const config = await resolvedConfig();
  const mounts = Object.entries(config.services).flatMap(([name, one]) =>
    (one.volumes ?? []).map((volume) => ({ name, volume })),
  );

  for (const { name, volume } of mounts) {
    if (typeof volume === 'string') {
      t.fail(`${name}: expected the long volume syntax, got ${volume}`);
      continue;
    }
    if (volume.type === 'bind') {
      t.true(existsSync(volume.source ?? ''), `${name} mounts ${volume.source ?? '?'}, missing`);
    }
  }
  const named = (service: string) =>
    mounts
      .filter((mount) => mount.name === service && typeof mount.volume !== 'string')
      .map(({ volume }) =>
        typeof volume === 'string' ? volume : `${volume.type}:${volume.target}`,
      );
  t.true(named('postgres').includes('volume:/var/lib/postgresql/data'));
  t.true(named('orthanc').includes('volume:/var/lib/orthanc'));
  t.deepEqual(Object.keys(config.volumes ?? {}).sort(), ['orthanc-data', 'postgres-data']);
});

test("jointspace's processes get a configuration that jointspace accepts", async (t) => {
  const config = await resolvedConfig();

  const api = loadConfig(environment(config, 'jointspace-api'));
  const worker = loadConfig(environment(config, 'jointspace-worker'));

  t.is(api.workerConcurrency, 0);
  t.is(api.host, '0.0.0.0');
  t.true(worker.workerConcurrency >= 1);
  t.is(worker.host, '127.0.0.1');
  for (const one of [api, worker]) {
    t.is(one.orthanc.url, 'http://orthanc:8042/');
    t.is(one.orthanc.password, secret('ORTHANC_JOINTSPACE_PASSWORD'));
    t.deepEqual(one.apiTokens, [secret('JOINTSPACE_API_TOKENS')]);
    t.is(one.webhookSecret, secret('JOINTSPACE_WEBHOOK_SECRET'));
    t.is(one.patientKeySecret, secret('JOINTSPACE_PATIENT_KEY_SECRET'));
    t.is(new URL(one.databaseUrl ?? '').password, secret('JOINTSPACE_DB_PASSWORD'));
  }
});

test("Orthanc's push reaches the API process with the webhook secret", async (t) => {
  const config = await resolvedConfig();
  const orthanc = service(config, 'orthanc');
  const settings = JSON.parse(await readFile(ORTHANC_CONFIG, 'utf8')) as {
    LuaScripts: string[];
    Jointspace: { Url: string; WebhookSecret: string };
    RegisteredUsers: Record<string, string>;
  };
  const orthancEnv = environment(config, 'orthanc');
  // The image substitutes ${NAME} in its JSON files from the container's environment.
  const substitute = (text: string) =>
    text.replace(/\$\{([A-Z0-9_]+)\}/g, (_match, name: string) => orthancEnv[name] ?? '');

  const pushUrl = new URL(settings.Jointspace.Url);
  t.is(pushUrl.hostname, 'jointspace-api');
  t.is(pushUrl.port, '8080');
  t.is(substitute(settings.Jointspace.WebhookSecret), secret('JOINTSPACE_WEBHOOK_SECRET'));
  t.is(
    substitute(settings.RegisteredUsers.jointspace ?? ''),
    secret('ORTHANC_JOINTSPACE_PASSWORD'),
  );
  t.is(substitute(settings.RegisteredUsers.viewer ?? ''), secret('ORTHANC_VIEWER_PASSWORD'));

  const scriptMounts = (orthanc.volumes ?? []).filter(
    (volume) =>
      typeof volume !== 'string' && volume.source === join(repoRoot, 'src/orthanc/push.lua'),
  );
  t.is(scriptMounts.length, 1, 'src/orthanc/push.lua should be mounted into Orthanc');
  const [mount] = scriptMounts;
  t.deepEqual(settings.LuaScripts, [typeof mount === 'string' ? mount : mount?.target]);
});
