/**
 * The configuration of `jointspace serve`, read from the environment.
 *
 * Every variable is read and checked in one pass, and every problem is reported in one
 * `invalid-configuration` error, so an operator fixes a deployment in one round. Messages name
 * the variable and what was expected; the value is quoted only for variables that are not
 * secret (secrets, the database URL and anything that may carry a password are never echoed).
 *
 * `CONFIG_VARIABLES` is the one list of variables, defaults and meanings: the README table and
 * the `serve --help` text are generated from it.
 */
import { ConfigurationProblems } from './config-problems.js';
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import { CDS_CONFIG_VARIABLES, cdsSettingsFromEnv, type CdsSettings } from './cds/settings.js';
import { FHIR_CONFIG_VARIABLES, fhirSettingsFromEnv, type FhirSettings } from './fhir/settings.js';
import type { Level } from './log.js';

export interface ConfigVariable {
  name: string;
  required: boolean;
  /** As it would be written in the environment; absent when there is none. */
  default?: string;
  description: string;
  /** Never quoted in a message. */
  secret: boolean;
}

export const CONFIG_VARIABLES = [
  {
    name: 'JOINTSPACE_HOST',
    required: false,
    default: '127.0.0.1',
    description: 'address the HTTP API listens on (a host name or an IP address)',
    secret: false,
  },
  {
    name: 'JOINTSPACE_PORT',
    required: false,
    default: '8080',
    description: 'TCP port of the HTTP API, 1..65535',
    secret: false,
  },
  {
    name: 'JOINTSPACE_ORTHANC_URL',
    required: true,
    description:
      "http(s) URL of Orthanc's REST root, without credentials; DICOMweb is <url>/dicom-web/",
    secret: false,
  },
  {
    name: 'JOINTSPACE_ORTHANC_USER',
    required: false,
    description: 'user name for Orthanc (HTTP basic authentication); set with the password',
    secret: false,
  },
  {
    name: 'JOINTSPACE_ORTHANC_PASSWORD',
    required: false,
    description: 'password for Orthanc; set with the user name',
    secret: true,
  },
  {
    name: 'JOINTSPACE_DATABASE_URL',
    required: false,
    description:
      'postgres:// or postgresql:// URL of the database; when unset, jointspace starts its own local PostgreSQL cluster',
    secret: true,
  },
  {
    name: 'JOINTSPACE_DATA_DIR',
    required: false,
    description: 'absolute path where a self-started database keeps its data',
    secret: false,
  },
  {
    name: 'JOINTSPACE_MODEL_DIR',
    required: false,
    description:
      'absolute path of a folder with model.json, model.onnx, laterality.json and laterality.onnx (another model version); the shipped models/knee-kl when unset',
    secret: false,
  },
  {
    name: 'JOINTSPACE_API_TOKENS',
    required: true,
    description:
      'comma-separated bearer tokens accepted by the API, each at least 16 printable ASCII characters without whitespace',
    secret: true,
  },
  {
    name: 'JOINTSPACE_WEBHOOK_SECRET',
    required: true,
    description:
      "bearer secret of Orthanc's push (at least 16 printable ASCII characters, no whitespace, unlike every API token)",
    secret: true,
  },
  {
    name: 'JOINTSPACE_POLL_INTERVAL_MS',
    required: false,
    default: '10000',
    description: "milliseconds between polls of Orthanc's change feed; 0 turns polling off",
    secret: false,
  },
  {
    name: 'JOINTSPACE_POLL_START',
    required: false,
    default: 'now',
    description: '`now` or `beginning`: where polling starts when no position has been stored yet',
    secret: false,
  },
  {
    name: 'JOINTSPACE_WORKER_CONCURRENCY',
    required: false,
    default: '1',
    description: 'studies graded at the same time by this process; 0 takes no jobs',
    secret: false,
  },
  {
    name: 'JOINTSPACE_JOB_RETRY_LIMIT',
    required: false,
    default: '8',
    description: 'retries of a job that failed transiently',
    secret: false,
  },
  {
    name: 'JOINTSPACE_JOB_RETRY_DELAY_S',
    required: false,
    default: '5',
    description: 'seconds before the first retry; each further retry waits twice as long',
    secret: false,
  },
  {
    name: 'JOINTSPACE_JOB_TIMEOUT_S',
    required: false,
    default: '600',
    description: 'seconds a job may run before it is failed and retried',
    secret: false,
  },
  {
    name: 'JOINTSPACE_CARE_RETRY_LIMIT',
    required: false,
    default: '12',
    description:
      'retries of a care-plan job whose FHIR server cannot be reached, 0..100 (the delay doubles each time)',
    secret: false,
  },
  {
    name: 'JOINTSPACE_CARE_RETRY_DELAY_S',
    required: false,
    default: '30',
    description: 'seconds before the first retry of a care-plan job',
    secret: false,
  },
  {
    name: 'JOINTSPACE_PATIENT_KEY_SECRET',
    required: true,
    description:
      'HMAC key (at least 16 characters) of the pseudonymous patient keys; changing it unlinks earlier studies',
    secret: true,
  },
  {
    name: 'JOINTSPACE_DEVICE',
    required: false,
    default: 'cpu',
    description: '`cpu` or `cuda` (falls back to the CPU with a warning where CUDA is missing)',
    secret: false,
  },
  {
    name: 'JOINTSPACE_PRECISION',
    required: false,
    default: 'float32',
    description:
      '`float32` or `int8`: the int8 build of the model is faster on a CPU and agrees with the float one on most, not all, knees (figures in the model card); results name it `<version>+int8`',
    secret: false,
  },
  {
    name: 'JOINTSPACE_LOG_LEVEL',
    required: false,
    default: 'info',
    description: '`debug`, `info`, `warn` or `error`; logs are JSON lines on stderr',
    secret: false,
  },
] as const satisfies readonly ConfigVariable[];

export type ConfigVariableName = (typeof CONFIG_VARIABLES)[number]['name'];

/**
 * Every variable `serve` reads: the service's, the FHIR server's (src/fhir/settings.ts) and
 * CDS Hooks' (src/cds/settings.ts).
 */
export const ALL_CONFIG_VARIABLES: readonly ConfigVariable[] = [
  ...CONFIG_VARIABLES,
  ...FHIR_CONFIG_VARIABLES,
  ...CDS_CONFIG_VARIABLES,
];

export interface ServiceConfig {
  host: string;
  port: number;
  orthanc: { url: string; dicomWebUrl: string; username?: string; password?: string };
  databaseUrl?: string;
  dataDir?: string;
  /** Folder of the grading and laterality models; the shipped models/knee-kl when absent. */
  modelDir?: string;
  apiTokens: string[];
  webhookSecret: string;
  pollIntervalMs: number;
  pollStart: 'now' | 'beginning';
  workerConcurrency: number;
  retryLimit: number;
  retryDelaySeconds: number;
  jobTimeoutSeconds: number;
  careRetryLimit: number;
  careRetryDelaySeconds: number;
  /** The FHIR server; absent when no JOINTSPACE_FHIR_* variable is set (no FHIR output). */
  fhir?: FhirSettings;
  /** CDS Hooks; absent when no JOINTSPACE_CDS_* variable is set (the routes answer 404). */
  cds?: CdsSettings;
  patientKeySecret: string;
  device: 'cpu' | 'cuda';
  precision: 'float32' | 'int8';
  logLevel: Level;
}

/** Shortest accepted token, webhook secret and patient key secret. */
export const MIN_SECRET_LENGTH = 16;

/** pg-boss refuses a job expiry of 24 hours or more. */
const MAX_JOB_TIMEOUT_S = 24 * 60 * 60 - 1;

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Printable ASCII without space: what an Authorization header carries unaltered. */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

/**
 * Reads and checks the whole configuration; throws one `invalid-configuration` error listing
 * every problem found.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const reader = new EnvironmentReader(env);
  const config: ServiceConfig = {
    host: reader.host('JOINTSPACE_HOST'),
    port: reader.integer('JOINTSPACE_PORT', 1, 65535),
    orthanc: reader.orthanc(),
    databaseUrl: reader.databaseUrl('JOINTSPACE_DATABASE_URL'),
    dataDir: reader.absolutePath('JOINTSPACE_DATA_DIR'),
    modelDir: reader.absolutePath('JOINTSPACE_MODEL_DIR'),
    apiTokens: reader.tokens('JOINTSPACE_API_TOKENS'),
    webhookSecret: reader.headerSecret('JOINTSPACE_WEBHOOK_SECRET'),
    pollIntervalMs: reader.pollInterval('JOINTSPACE_POLL_INTERVAL_MS'),
    pollStart: reader.choice('JOINTSPACE_POLL_START', ['now', 'beginning'] as const),
    workerConcurrency: reader.integer('JOINTSPACE_WORKER_CONCURRENCY', 0, 64),
    retryLimit: reader.integer('JOINTSPACE_JOB_RETRY_LIMIT', 0, 100),
    retryDelaySeconds: reader.integer('JOINTSPACE_JOB_RETRY_DELAY_S', 1, 3600),
    jobTimeoutSeconds: reader.integer('JOINTSPACE_JOB_TIMEOUT_S', 1, MAX_JOB_TIMEOUT_S),
    careRetryLimit: reader.integer('JOINTSPACE_CARE_RETRY_LIMIT', 0, 100),
    careRetryDelaySeconds: reader.integer('JOINTSPACE_CARE_RETRY_DELAY_S', 1, 3600),
    patientKeySecret: reader.secret('JOINTSPACE_PATIENT_KEY_SECRET'),
    device: reader.choice('JOINTSPACE_DEVICE', ['cpu', 'cuda'] as const),
    precision: reader.choice('JOINTSPACE_PRECISION', ['float32', 'int8'] as const),
    logLevel: reader.choice('JOINTSPACE_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const),
  };

  const fhir = reader.fhir(env);
  if (fhir !== undefined) config.fhir = fhir;
  const cds = reader.cds(env);
  if (cds !== undefined) config.cds = cds;

  // The push route and the API must not accept each other's credential.
  if (config.apiTokens.includes(config.webhookSecret)) {
    reader.problem('JOINTSPACE_WEBHOOK_SECRET', 'expected a value different from every API token');
  }

  reader.throwIfProblems();
  return config;
}

function variable(name: ConfigVariableName): ConfigVariable {
  const found = CONFIG_VARIABLES.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`${name} is not in CONFIG_VARIABLES`);
  return found;
}

/**
 * Reads variables and collects problems instead of throwing at the first, returning a
 * placeholder for a bad value so reading can go on.
 */
class EnvironmentReader {
  private readonly problems = new ConfigurationProblems('invalid configuration');

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  problem(name: ConfigVariableName, text: string): void {
    this.problems.add(name, text);
  }

  throwIfProblems(): void {
    this.problems.throwIfAny();
  }

  /** The FHIR settings, their problems reported with the service's. */
  fhir(env: NodeJS.ProcessEnv): FhirSettings | undefined {
    return fhirSettingsFromEnv(env, this.problems);
  }

  /** The CDS Hooks settings, their problems reported with the service's. */
  cds(env: NodeJS.ProcessEnv): CdsSettings | undefined {
    return cdsSettingsFromEnv(env, this.problems);
  }

  /** The value, else the default; empty counts as unset. Secrets are not trimmed. */
  raw(name: ConfigVariableName): string | undefined {
    const value = this.env[name];
    const definition = variable(name);
    const given = definition.secret ? value : value?.trim();
    if (given !== undefined && given !== '') return given;
    if (definition.required) this.problem(name, 'required but not set');
    return definition.default;
  }

  /** `, got "…"` for a variable that is not secret; nothing for a secret. */
  got(name: ConfigVariableName, value: string): string {
    if (variable(name).secret) return '';
    const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
    return `, got ${JSON.stringify(shown)}`;
  }

  integer(name: ConfigVariableName, min: number, max: number): number {
    const value = this.raw(name) ?? '';
    const parsed = /^[0-9]{1,9}$/.test(value) ? Number(value) : Number.NaN;
    if (parsed >= min && parsed <= max) return parsed;
    this.problem(name, `expected an integer ${min}..${max}${this.got(name, value)}`);
    return min;
  }

  pollInterval(name: ConfigVariableName): number {
    const value = this.raw(name) ?? '';
    const parsed = /^[0-9]{1,9}$/.test(value) ? Number(value) : Number.NaN;
    if (parsed === 0 || (parsed >= 100 && parsed <= 86_400_000)) return parsed;
    this.problem(
      name,
      `expected 0 (polling off) or an integer 100..86400000${this.got(name, value)}`,
    );
    return 0;
  }

  choice<T extends string>(name: ConfigVariableName, choices: readonly T[]): T {
    const value = this.raw(name) ?? '';
    const found = choices.find((choice) => choice === value);
    if (found !== undefined) return found;
    this.problem(name, `expected one of ${choices.join(', ')}${this.got(name, value)}`);
    return choices[0] as T;
  }

  host(name: ConfigVariableName): string {
    const value = this.raw(name) ?? '';
    if (isIP(value) !== 0 || HOST_NAME.test(value)) return value;
    this.problem(name, `expected a host name or an IP address${this.got(name, value)}`);
    return value;
  }

  absolutePath(name: ConfigVariableName): string | undefined {
    const value = this.raw(name);
    if (value === undefined || isAbsolute(value)) return value;
    this.problem(name, `expected an absolute path${this.got(name, value)}`);
    return undefined;
  }

  /** A secret of at least `MIN_SECRET_LENGTH` characters. */
  secret(name: ConfigVariableName): string {
    const value = this.raw(name) ?? '';
    if (value !== '' && value.length < MIN_SECRET_LENGTH) {
      this.problem(name, `expected at least ${MIN_SECRET_LENGTH} characters`);
    }
    return value;
  }

  /** A secret sent as a bearer token: also printable ASCII without whitespace. */
  headerSecret(name: ConfigVariableName): string {
    const value = this.raw(name) ?? '';
    if (value !== '' && !isHeaderSecret(value)) {
      this.problem(
        name,
        `expected at least ${MIN_SECRET_LENGTH} printable ASCII characters without whitespace`,
      );
    }
    return value;
  }

  tokens(name: ConfigVariableName): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const tokens = value.split(',').map((token) => token.trim());
    const bad = tokens.flatMap((token, index) => (isHeaderSecret(token) ? [] : [index + 1]));
    if (bad.length > 0) {
      this.problem(
        name,
        `expected comma-separated tokens of at least ${MIN_SECRET_LENGTH} printable ASCII characters without whitespace; token ${bad.join(', ')} of ${tokens.length} is not`,
      );
    }
    return [...new Set(tokens)];
  }

  orthanc(): ServiceConfig['orthanc'] {
    const url = this.orthancUrl('JOINTSPACE_ORTHANC_URL');
    const username = this.raw('JOINTSPACE_ORTHANC_USER');
    const password = this.raw('JOINTSPACE_ORTHANC_PASSWORD');
    if ((username === undefined) !== (password === undefined)) {
      const missing =
        username === undefined ? 'JOINTSPACE_ORTHANC_USER' : 'JOINTSPACE_ORTHANC_PASSWORD';
      this.problem(missing, 'expected together with the other Orthanc credential, or neither');
    }
    const dicomWebUrl = url === '' ? '' : new URL('dicom-web/', url).href;
    if (username === undefined || password === undefined) return { url, dicomWebUrl };
    return { url, dicomWebUrl, username, password };
  }

  /** The REST root with a trailing slash, so relative paths resolve beneath it. */
  orthancUrl(name: ConfigVariableName): string {
    const value = this.raw(name);
    if (value === undefined) return '';
    const parsed = URL.canParse(value) ? new URL(value) : undefined;
    if (parsed === undefined) {
      this.problem(name, 'expected an http or https URL (the value is not a URL)');
      return '';
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      this.problem(name, `expected an http or https URL, got scheme "${parsed.protocol}"`);
      return '';
    }
    if (parsed.username !== '' || parsed.password !== '') {
      this.problem(
        name,
        'expected a URL without credentials (use JOINTSPACE_ORTHANC_USER and JOINTSPACE_ORTHANC_PASSWORD)',
      );
      return '';
    }
    if (parsed.search !== '' || parsed.hash !== '') {
      this.problem(name, 'expected a URL without query or fragment');
      return '';
    }
    if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
    return parsed.href;
  }

  databaseUrl(name: ConfigVariableName): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const parsed = URL.canParse(value) ? new URL(value) : undefined;
    if (parsed?.protocol === 'postgres:' || parsed?.protocol === 'postgresql:') return value;
    this.problem(name, 'expected a postgres:// or postgresql:// URL (the value is not shown)');
    return undefined;
  }
}

function isHeaderSecret(value: string): boolean {
  return value.length >= MIN_SECRET_LENGTH && HEADER_SAFE.test(value);
}
