import test from 'ava';
import { CONFIG_VARIABLES, loadConfig } from './config.js';
import { JointspaceError } from './errors.js';

// Obviously fake secrets, each long enough.
const TOKEN_A = 'test-api-token-aaaaaaaa';
const TOKEN_B = 'test-api-token-bbbbbbbb';
const WEBHOOK = 'test-webhook-secret-cccccc';
const PATIENT_KEY = 'test-patient-key-dddddddd';
const ORTHANC_PASSWORD = 'test-orthanc-password-eeee';
const DATABASE_URL = 'postgres://jointspace:test-db-password-ffff@db.example:5432/jointspace';

/** The required variables, valid; everything else unset. */
const minimal = (): NodeJS.ProcessEnv => ({
  JOINTSPACE_ORTHANC_URL: 'http://orthanc.example:8042',
  JOINTSPACE_API_TOKENS: TOKEN_A,
  JOINTSPACE_WEBHOOK_SECRET: WEBHOOK,
  JOINTSPACE_PATIENT_KEY_SECRET: PATIENT_KEY,
});

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (!(error instanceof JointspaceError)) throw error;
    if (error.code !== 'invalid-configuration') throw error;
    return error.message
      .split('\n')
      .slice(1)
      .map((line) => line.replace(/^- /, ''));
  }
  throw new Error('expected an invalid-configuration error');
}

test('the required variables alone give the documented defaults', (t) => {
  const config = loadConfig(minimal());

  t.is(config.host, '127.0.0.1');
  t.is(config.port, 8080);
  t.deepEqual(config.orthanc, {
    url: 'http://orthanc.example:8042/',
    dicomWebUrl: 'http://orthanc.example:8042/dicom-web/',
  });
  t.is(config.databaseUrl, undefined);
  t.is(config.dataDir, undefined);
  t.deepEqual(config.apiTokens, [TOKEN_A]);
  t.is(config.webhookSecret, WEBHOOK);
  t.is(config.pollIntervalMs, 10000);
  t.is(config.pollStart, 'now');
  t.is(config.workerConcurrency, 1);
  t.is(config.retryLimit, 8);
  t.is(config.retryDelaySeconds, 5);
  t.is(config.jobTimeoutSeconds, 600);
  t.is(config.patientKeySecret, PATIENT_KEY);
  t.is(config.device, 'cpu');
  t.is(config.logLevel, 'info');
});

test('the table states the same defaults the loader applies', (t) => {
  const config = loadConfig(minimal());
  const defaults = Object.fromEntries(
    CONFIG_VARIABLES.flatMap((variable) =>
      'default' in variable ? [[variable.name, variable.default]] : [],
    ),
  );

  t.deepEqual(defaults, {
    JOINTSPACE_HOST: config.host,
    JOINTSPACE_PORT: String(config.port),
    JOINTSPACE_POLL_INTERVAL_MS: String(config.pollIntervalMs),
    JOINTSPACE_POLL_START: config.pollStart,
    JOINTSPACE_WORKER_CONCURRENCY: String(config.workerConcurrency),
    JOINTSPACE_JOB_RETRY_LIMIT: String(config.retryLimit),
    JOINTSPACE_JOB_RETRY_DELAY_S: String(config.retryDelaySeconds),
    JOINTSPACE_JOB_TIMEOUT_S: String(config.jobTimeoutSeconds),
    JOINTSPACE_CARE_RETRY_LIMIT: String(config.careRetryLimit),
    JOINTSPACE_CARE_RETRY_DELAY_S: String(config.careRetryDelaySeconds),
    JOINTSPACE_DEVICE: config.device,
    JOINTSPACE_PRECISION: config.precision,
    JOINTSPACE_LOG_LEVEL: config.logLevel,
  });
  t.deepEqual(
    CONFIG_VARIABLES.filter((variable) => variable.required).map((variable) => variable.name),
    Object.keys(minimal()),
  );
});

test('every variable can be set', (t) => {
  const config = loadConfig({
    ...minimal(),
    JOINTSPACE_HOST: '0.0.0.0',
    JOINTSPACE_PORT: '9000',
    JOINTSPACE_ORTHANC_URL: 'https://pacs.example/orthanc',
    JOINTSPACE_ORTHANC_USER: 'jointspace',
    JOINTSPACE_ORTHANC_PASSWORD: ORTHANC_PASSWORD,
    JOINTSPACE_DATABASE_URL: DATABASE_URL,
    JOINTSPACE_DATA_DIR: '/var/lib/jointspace',
    JOINTSPACE_API_TOKENS: ` ${TOKEN_A}, ${TOKEN_B} `,
    JOINTSPACE_POLL_INTERVAL_MS: '0',
    JOINTSPACE_POLL_START: 'beginning',
    JOINTSPACE_WORKER_CONCURRENCY: '0',
    JOINTSPACE_JOB_RETRY_LIMIT: '0',
    JOINTSPACE_JOB_RETRY_DELAY_S: '30',
    JOINTSPACE_JOB_TIMEOUT_S: '3600',
    JOINTSPACE_DEVICE: 'cuda',
    JOINTSPACE_PRECISION: 'int8',
    JOINTSPACE_LOG_LEVEL: 'debug',
  });

  t.is(config.host, '0.0.0.0');
  t.is(config.port, 9000);
  t.deepEqual(config.orthanc, {
    url: 'https://pacs.example/orthanc/',
    dicomWebUrl: 'https://pacs.example/orthanc/dicom-web/',
    username: 'jointspace',
    password: ORTHANC_PASSWORD,
  });
  t.is(config.databaseUrl, DATABASE_URL);
  t.is(config.dataDir, '/var/lib/jointspace');
  t.deepEqual(config.apiTokens, [TOKEN_A, TOKEN_B]);
  t.is(config.pollIntervalMs, 0);
  t.is(config.pollStart, 'beginning');
  t.is(config.workerConcurrency, 0);
  t.is(config.retryLimit, 0);
  t.is(config.retryDelaySeconds, 30);
  t.is(config.jobTimeoutSeconds, 3600);
  t.is(config.device, 'cuda');
  t.is(config.precision, 'int8');
  t.is(config.logLevel, 'debug');
});

test('an empty variable counts as unset', (t) => {
  const config = loadConfig({ ...minimal(), JOINTSPACE_PORT: '', JOINTSPACE_DATABASE_URL: '' });
  t.is(config.port, 8080);
  t.is(config.databaseUrl, undefined);
});

test('nothing set: each required variable is reported, and nothing else', (t) => {
  t.deepEqual(problemsOf({}), [
    'JOINTSPACE_ORTHANC_URL: required but not set',
    'JOINTSPACE_API_TOKENS: required but not set',
    'JOINTSPACE_WEBHOOK_SECRET: required but not set',
    'JOINTSPACE_PATIENT_KEY_SECRET: required but not set',
  ]);
});

const single: [string, NodeJS.ProcessEnv, string][] = [
  ['port', { JOINTSPACE_PORT: 'abc' }, 'JOINTSPACE_PORT: expected an integer 1..65535, got "abc"'],
  ['port 0', { JOINTSPACE_PORT: '0' }, 'JOINTSPACE_PORT: expected an integer 1..65535, got "0"'],
  [
    'port out of range',
    { JOINTSPACE_PORT: '65536' },
    'JOINTSPACE_PORT: expected an integer 1..65535, got "65536"',
  ],
  [
    'host',
    { JOINTSPACE_HOST: 'not a host' },
    'JOINTSPACE_HOST: expected a host name or an IP address, got "not a host"',
  ],
  [
    'Orthanc URL that is not a URL',
    { JOINTSPACE_ORTHANC_URL: 'orthanc:8042' },
    'JOINTSPACE_ORTHANC_URL: expected an http or https URL, got scheme "orthanc:"',
  ],
  [
    'Orthanc URL without a scheme',
    { JOINTSPACE_ORTHANC_URL: '//orthanc' },
    'JOINTSPACE_ORTHANC_URL: expected an http or https URL (the value is not a URL)',
  ],
  [
    'Orthanc URL with a query',
    { JOINTSPACE_ORTHANC_URL: 'http://orthanc/?a=1' },
    'JOINTSPACE_ORTHANC_URL: expected a URL without query or fragment',
  ],
  [
    'Orthanc user without password',
    { JOINTSPACE_ORTHANC_USER: 'jointspace' },
    'JOINTSPACE_ORTHANC_PASSWORD: expected together with the other Orthanc credential, or neither',
  ],
  [
    'Orthanc password without user',
    { JOINTSPACE_ORTHANC_PASSWORD: ORTHANC_PASSWORD },
    'JOINTSPACE_ORTHANC_USER: expected together with the other Orthanc credential, or neither',
  ],
  [
    'database URL of another scheme',
    { JOINTSPACE_DATABASE_URL: 'mysql://db/jointspace' },
    'JOINTSPACE_DATABASE_URL: expected a postgres:// or postgresql:// URL (the value is not shown)',
  ],
  [
    'relative data folder',
    { JOINTSPACE_DATA_DIR: 'data' },
    'JOINTSPACE_DATA_DIR: expected an absolute path, got "data"',
  ],
  [
    'short API token',
    { JOINTSPACE_API_TOKENS: `${TOKEN_A},short` },
    'JOINTSPACE_API_TOKENS: expected comma-separated tokens of at least 16 printable ASCII characters without whitespace; token 2 of 2 is not',
  ],
  [
    'API token with whitespace',
    { JOINTSPACE_API_TOKENS: 'test-api-token with-space' },
    'JOINTSPACE_API_TOKENS: expected comma-separated tokens of at least 16 printable ASCII characters without whitespace; token 1 of 1 is not',
  ],
  [
    'empty API token',
    { JOINTSPACE_API_TOKENS: `${TOKEN_A},` },
    'JOINTSPACE_API_TOKENS: expected comma-separated tokens of at least 16 printable ASCII characters without whitespace; token 2 of 2 is not',
  ],
  [
    'short webhook secret',
    { JOINTSPACE_WEBHOOK_SECRET: 'short' },
    'JOINTSPACE_WEBHOOK_SECRET: expected at least 16 printable ASCII characters without whitespace',
  ],
  [
    'webhook secret that is also an API token',
    { JOINTSPACE_WEBHOOK_SECRET: TOKEN_A },
    'JOINTSPACE_WEBHOOK_SECRET: expected a value different from every API token',
  ],
  [
    'poll interval below 100 ms',
    { JOINTSPACE_POLL_INTERVAL_MS: '50' },
    'JOINTSPACE_POLL_INTERVAL_MS: expected 0 (polling off) or an integer 100..86400000, got "50"',
  ],
  [
    'poll start',
    { JOINTSPACE_POLL_START: 'yesterday' },
    'JOINTSPACE_POLL_START: expected one of now, beginning, got "yesterday"',
  ],
  [
    'negative concurrency',
    { JOINTSPACE_WORKER_CONCURRENCY: '-1' },
    'JOINTSPACE_WORKER_CONCURRENCY: expected an integer 0..64, got "-1"',
  ],
  [
    'fractional retry limit',
    { JOINTSPACE_JOB_RETRY_LIMIT: '2.5' },
    'JOINTSPACE_JOB_RETRY_LIMIT: expected an integer 0..100, got "2.5"',
  ],
  [
    'retry delay 0',
    { JOINTSPACE_JOB_RETRY_DELAY_S: '0' },
    'JOINTSPACE_JOB_RETRY_DELAY_S: expected an integer 1..3600, got "0"',
  ],
  [
    'job timeout of a day',
    { JOINTSPACE_JOB_TIMEOUT_S: '86400' },
    'JOINTSPACE_JOB_TIMEOUT_S: expected an integer 1..86399, got "86400"',
  ],
  [
    'short patient key secret',
    { JOINTSPACE_PATIENT_KEY_SECRET: 'short' },
    'JOINTSPACE_PATIENT_KEY_SECRET: expected at least 16 characters',
  ],
  [
    'device',
    { JOINTSPACE_DEVICE: 'tpu' },
    'JOINTSPACE_DEVICE: expected one of cpu, cuda, got "tpu"',
  ],
  [
    'precision',
    { JOINTSPACE_PRECISION: 'fp16' },
    'JOINTSPACE_PRECISION: expected one of float32, int8, got "fp16"',
  ],
  [
    'log level',
    { JOINTSPACE_LOG_LEVEL: 'verbose' },
    'JOINTSPACE_LOG_LEVEL: expected one of debug, info, warn, error, got "verbose"',
  ],
];

for (const [what, change, problem] of single) {
  test(`a bad value is reported: ${what}`, (t) => {
    t.deepEqual(problemsOf({ ...minimal(), ...change }), [problem]);
  });
}

test('several problems are reported together, in the order of the table', (t) => {
  const problems = problemsOf({
    JOINTSPACE_PORT: '99999',
    JOINTSPACE_API_TOKENS: TOKEN_A,
    JOINTSPACE_WEBHOOK_SECRET: WEBHOOK,
    JOINTSPACE_POLL_START: 'later',
    JOINTSPACE_DEVICE: 'gpu',
  });

  t.deepEqual(problems, [
    'JOINTSPACE_PORT: expected an integer 1..65535, got "99999"',
    'JOINTSPACE_ORTHANC_URL: required but not set',
    'JOINTSPACE_POLL_START: expected one of now, beginning, got "later"',
    'JOINTSPACE_PATIENT_KEY_SECRET: required but not set',
    'JOINTSPACE_DEVICE: expected one of cpu, cuda, got "gpu"',
  ]);
});

test('the error is one invalid-configuration error that counts its problems', (t) => {
  const error = t.throws(() => loadConfig({}), { instanceOf: JointspaceError });
  t.is(error.code, 'invalid-configuration');
  t.is(error.permanent, true);
  t.regex(error.message, /^invalid configuration \(4 problems\):\n- JOINTSPACE_ORTHANC_URL/);
});

test('secrets are never echoed, even when they are the bad values', (t) => {
  const secrets = {
    token: 'leaky token with spaces',
    webhook: 'leakywebhook',
    patient: 'leakykey',
    database: 'mysql://user:leaky-database-password@db/x',
    orthanc: 'http://user:leaky-orthanc-password@orthanc/',
    orthancPassword: 'leaky-orthanc-password-2',
  };
  const error = t.throws(() =>
    loadConfig({
      JOINTSPACE_ORTHANC_URL: secrets.orthanc,
      JOINTSPACE_ORTHANC_PASSWORD: secrets.orthancPassword,
      JOINTSPACE_DATABASE_URL: secrets.database,
      JOINTSPACE_API_TOKENS: secrets.token,
      JOINTSPACE_WEBHOOK_SECRET: secrets.webhook,
      JOINTSPACE_PATIENT_KEY_SECRET: secrets.patient,
    }),
  );

  const message = error.message;
  t.is(message.split('\n').length - 1, 6, message);
  t.notRegex(message, /leaky/);
  t.regex(message, /JOINTSPACE_ORTHANC_URL: expected a URL without credentials/);
});

test('every variable in the table is described, and secrets are marked', (t) => {
  for (const variable of CONFIG_VARIABLES) {
    t.regex(variable.name, /^JOINTSPACE_[A-Z_]+$/);
    t.true(variable.description.length > 10, variable.name);
  }
  t.deepEqual(
    CONFIG_VARIABLES.filter((variable) => variable.secret).map((variable) => variable.name),
    [
      'JOINTSPACE_ORTHANC_PASSWORD',
      'JOINTSPACE_DATABASE_URL',
      'JOINTSPACE_API_TOKENS',
      'JOINTSPACE_WEBHOOK_SECRET',
      'JOINTSPACE_PATIENT_KEY_SECRET',
    ],
  );
});
