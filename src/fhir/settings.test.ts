import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { JointspaceError } from '../errors.js';
import {
  DEFAULT_FHIR_TIMEOUT_MS,
  DEFAULT_SMART_SCOPE,
  fhirSettingsFromEnv,
  jwkThumbprint,
} from './settings.js';

const dir = mkdtempSync(join(tmpdir(), 'jointspace-fhir-settings-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, key: ReturnType<typeof generateKeyPairSync>['privateKey']): string {
  const path = join(dir, name);
  writeFileSync(path, key.export({ type: 'pkcs8', format: 'pem' }));
  return path;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaFile = keyFile('rsa.pem', rsa.privateKey);
const ecFile = keyFile('ec384.pem', ec384.privateKey);
const ec256File = keyFile('ec256.pem', ec256.privateKey);
const notAKey = join(dir, 'not-a-key.pem');
writeFileSync(notAKey, 'hello');

const URL_ONLY = { JOINTSPACE_FHIR_URL: 'https://fhir.example.org/r4' };
const SMART = {
  ...URL_ONLY,
  JOINTSPACE_FHIR_CLIENT_ID: 'jointspace',
  JOINTSPACE_FHIR_PRIVATE_KEY_FILE: rsaFile,
  JOINTSPACE_FHIR_TOKEN_URL: 'https://auth.example.org/token',
};

function problems(env: NodeJS.ProcessEnv): string {
  try {
    fhirSettingsFromEnv(env);
  } catch (error) {
    if (error instanceof JointspaceError && error.code === 'invalid-configuration') {
      return error.message;
    }
    throw error;
  }
  throw new Error('expected an invalid-configuration error');
}

test('no FHIR variable at all: FHIR is off', (t) => {
  t.is(fhirSettingsFromEnv({ JOINTSPACE_ORTHANC_URL: 'http://x/' }), undefined);
  t.is(fhirSettingsFromEnv({ JOINTSPACE_FHIR_URL: '  ' }), undefined);
});

test('a URL alone: no authentication, the default timeout, a trailing slash', (t) => {
  t.deepEqual(fhirSettingsFromEnv(URL_ONLY), {
    url: 'https://fhir.example.org/r4/',
    auth: { kind: 'none' },
    timeoutMs: DEFAULT_FHIR_TIMEOUT_MS,
  });
});

test('a bearer token', (t) => {
  const settings = fhirSettingsFromEnv({ ...URL_ONLY, JOINTSPACE_FHIR_TOKEN: 'abc.def-123' });
  t.deepEqual(settings?.auth, { kind: 'bearer', token: 'abc.def-123' });
});

test('basic authentication', (t) => {
  const settings = fhirSettingsFromEnv({
    ...URL_ONLY,
    JOINTSPACE_FHIR_USER: 'jointspace',
    JOINTSPACE_FHIR_PASSWORD: ' secret with spaces ',
    JOINTSPACE_FHIR_TIMEOUT_MS: '5000',
  });
  t.deepEqual(settings?.auth, {
    kind: 'basic',
    username: 'jointspace',
    password: ' secret with spaces ',
  });
  t.is(settings?.timeoutMs, 5000);
});

test('SMART Backend Services with an RSA key signs RS384, kid the key thumbprint', (t) => {
  const auth = fhirSettingsFromEnv(SMART)?.auth;

  if (auth?.kind !== 'smart-backend-services') return t.fail(`got ${auth?.kind ?? 'nothing'}`);
  t.is(auth.algorithm, 'RS384');
  t.is(auth.clientId, 'jointspace');
  t.is(auth.tokenUrl, 'https://auth.example.org/token');
  t.is(auth.scope, DEFAULT_SMART_SCOPE);
  t.is(auth.keyId, jwkThumbprint(rsa.privateKey));
  t.regex(auth.keyId, /^[A-Za-z0-9_-]{43}$/);
});

test('SMART with an EC P-384 key signs ES384; kid and scope as configured', (t) => {
  const auth = fhirSettingsFromEnv({
    ...SMART,
    JOINTSPACE_FHIR_PRIVATE_KEY_FILE: ecFile,
    JOINTSPACE_FHIR_KEY_ID: 'key-2024',
    JOINTSPACE_FHIR_SCOPE: 'system/Patient.rs system/Observation.rs',
  })?.auth;

  if (auth?.kind !== 'smart-backend-services') return t.fail(`got ${auth?.kind ?? 'nothing'}`);
  t.is(auth.algorithm, 'ES384');
  t.is(auth.keyId, 'key-2024');
  t.is(auth.scope, 'system/Patient.rs system/Observation.rs');
});

test('an http token endpoint is accepted on loopback only', (t) => {
  const local = fhirSettingsFromEnv({
    ...SMART,
    JOINTSPACE_FHIR_TOKEN_URL: 'http://127.0.0.1:9/t',
  });
  t.is(local?.auth.kind, 'smart-backend-services');
  t.regex(
    problems({ ...SMART, JOINTSPACE_FHIR_TOKEN_URL: 'http://auth.example.org/token' }),
    /JOINTSPACE_FHIR_TOKEN_URL: expected an https URL \(http only on a loopback address\)/,
  );
});

test('every problem is reported at once, each naming its variable', (t) => {
  const message = problems({
    JOINTSPACE_FHIR_USER: 'jointspace',
    JOINTSPACE_FHIR_TIMEOUT_MS: '10',
  });

  t.regex(message, /invalid FHIR configuration \(3 problems\)/);
  t.regex(
    message,
    /- JOINTSPACE_FHIR_URL: required when any other JOINTSPACE_FHIR_\* variable is set/,
  );
  t.regex(message, /- JOINTSPACE_FHIR_PASSWORD: expected together with JOINTSPACE_FHIR_USER/);
  t.regex(message, /- JOINTSPACE_FHIR_TIMEOUT_MS: expected an integer 1000\.\.600000, got "10"/);
});

test('two authentication methods at once are refused', (t) => {
  t.regex(
    problems({ ...SMART, JOINTSPACE_FHIR_TOKEN: 'abc' }),
    /JOINTSPACE_FHIR_TOKEN, JOINTSPACE_FHIR_CLIENT_ID, .*: expected variables of one authentication method, got bearer token and SMART Backend Services/,
  );
});

const refusedUrls: [string, RegExp][] = [
  ['fhir.example.org', /not a URL/],
  ['ftp://fhir.example.org/', /got scheme "ftp:"/],
  ['https://user:pw@fhir.example.org/', /without credentials/],
  ['https://fhir.example.org/?_format=json', /without query or fragment/],
];

for (const [url, reason] of refusedUrls) {
  test(`the URL ${url} is refused`, (t) => {
    t.regex(problems({ JOINTSPACE_FHIR_URL: url }), reason);
  });
}

test('SMART without its required variables names each', (t) => {
  const message = problems({ ...URL_ONLY, JOINTSPACE_FHIR_SCOPE: 'system/*.rs' });

  t.regex(message, /JOINTSPACE_FHIR_CLIENT_ID: required for SMART Backend Services/);
  t.regex(message, /JOINTSPACE_FHIR_TOKEN_URL: required for SMART Backend Services/);
  t.regex(message, /JOINTSPACE_FHIR_PRIVATE_KEY_FILE: required for SMART Backend Services/);
});

const badKeys: [string, string, RegExp][] = [
  ['a relative path', 'keys/jointspace.pem', /expected an absolute path/],
  ['a missing file', join(dir, 'missing.pem'), /cannot read the file \(ENOENT\)/],
  ['a file that is no key', notAKey, /expected a PEM private key/],
  ['an EC key on another curve', ec256File, /got an EC key on prime256v1/],
];

for (const [name, path, reason] of badKeys) {
  test(`SMART with ${name} is refused`, (t) => {
    const message = problems({ ...SMART, JOINTSPACE_FHIR_PRIVATE_KEY_FILE: path });
    t.regex(message, /JOINTSPACE_FHIR_PRIVATE_KEY_FILE: /);
    t.regex(message, reason);
  });
}

test('secrets are never echoed in a message', (t) => {
  const message = problems({
    ...URL_ONLY,
    JOINTSPACE_FHIR_TOKEN: 'sec ret-token',
    JOINTSPACE_FHIR_PASSWORD: 'hunter2-password',
  });

  t.false(message.includes('sec ret'));
  t.false(message.includes('hunter2'));
});

test('a user name with a colon is refused (RFC 7617)', (t) => {
  t.regex(
    problems({ ...URL_ONLY, JOINTSPACE_FHIR_USER: 'a:b', JOINTSPACE_FHIR_PASSWORD: 'pw' }),
    /JOINTSPACE_FHIR_USER: expected a user name without ":"/,
  );
});
