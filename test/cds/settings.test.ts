import { generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import {
  CDS_CONFIG_VARIABLES,
  DEFAULT_CLOCK_SKEW_S,
  cdsSettingsFromEnv,
} from '../../src/cds/settings.js';
import { JointspaceError } from '../../src/errors.js';
import { EC_KEY, ISSUER, RSA_KEY, jwkOf, tempDir } from './fixtures.js';

const dir = tempDir();
test.after.always(() => dir.remove());
const jwks = (keys: unknown[]) =>
  dir.file(`keys-${keys.length}-${Math.random()}.json`, JSON.stringify({ keys }));
const goodFile = jwks([jwkOf(RSA_KEY), jwkOf(EC_KEY)]);
const JWT = { JOINTSPACE_CDS_JWKS_FILE: goodFile, JOINTSPACE_CDS_ISSUERS: ISSUER };

function problems(env: NodeJS.ProcessEnv): string {
  try {
    cdsSettingsFromEnv(env);
  } catch (error) {
    if (error instanceof JointspaceError && error.code === 'invalid-configuration') {
      return error.message;
    }
    throw error;
  }
  throw new Error('expected an invalid-configuration error');
}

test('no CDS variable: the CDS Hooks routes are off', (t) => {
  t.is(cdsSettingsFromEnv({ JOINTSPACE_FHIR_URL: 'https://fhir.example.org/' }), undefined);
  t.is(cdsSettingsFromEnv({ JOINTSPACE_CDS_ISSUERS: '  ' }), undefined);
});

test('jwt by default: the trusted keys by kid, the issuers, the default clock skew', (t) => {
  const settings = cdsSettingsFromEnv({
    ...JWT,
    JOINTSPACE_CDS_ISSUERS: ` ${ISSUER} , https://second.example.org `,
  });
  const auth = settings?.auth;
  if (auth?.kind !== 'jwt') return t.fail('expected jwt authentication');
  t.deepEqual([...auth.keys.keys()], [RSA_KEY.kid, EC_KEY.kid]);
  t.is(auth.keys.get(RSA_KEY.kid)?.algorithm, 'RS384');
  t.is(auth.keys.get(EC_KEY.kid)?.algorithm, 'ES384');
  t.deepEqual([...auth.issuers], [ISSUER, 'https://second.example.org']);
  t.is(auth.clockSkewS, DEFAULT_CLOCK_SKEW_S);
  t.is(settings?.publicUrl, undefined);
  t.is(settings?.reportUrlTemplate, undefined);
});

test('public URL gets a trailing slash; a report template and a clock skew are kept', (t) => {
  const settings = cdsSettingsFromEnv({
    ...JWT,
    JOINTSPACE_CDS_PUBLIC_URL: 'https://jointspace.example.org/knee',
    JOINTSPACE_CDS_REPORT_URL: 'https://viewer.example.org/?study={studyInstanceUid}',
    JOINTSPACE_CDS_CLOCK_SKEW_S: '30',
  });
  t.is(settings?.publicUrl, 'https://jointspace.example.org/knee/');
  t.is(settings?.reportUrlTemplate, 'https://viewer.example.org/?study={studyInstanceUid}');
  t.is(settings?.auth.kind === 'jwt' ? settings.auth.clockSkewS : -1, 30);
});

test('none, for local testing', (t) => {
  t.deepEqual(cdsSettingsFromEnv({ JOINTSPACE_CDS_AUTH: 'none' }), { auth: { kind: 'none' } });
  t.regex(
    problems({ JOINTSPACE_CDS_AUTH: 'none', JOINTSPACE_CDS_ISSUERS: ISSUER }),
    /JOINTSPACE_CDS_ISSUERS: expected unset with JOINTSPACE_CDS_AUTH=none/,
  );
});

test('every problem is reported at once, each naming its variable', (t) => {
  const message = problems({
    JOINTSPACE_CDS_AUTH: 'oauth',
    JOINTSPACE_CDS_PUBLIC_URL: 'ftp://jointspace.example.org/',
    JOINTSPACE_CDS_REPORT_URL: 'https://viewer.example.org/view',
    JOINTSPACE_CDS_CLOCK_SKEW_S: '900',
  });
  t.regex(message, /invalid CDS Hooks configuration \(6 problems\)/);
  t.regex(message, /- JOINTSPACE_CDS_AUTH: expected jwt or none, got "oauth"/);
  t.regex(message, /- JOINTSPACE_CDS_JWKS_FILE: required with JOINTSPACE_CDS_AUTH=jwt/);
  t.regex(message, /- JOINTSPACE_CDS_ISSUERS: required with JOINTSPACE_CDS_AUTH=jwt/);
  t.regex(message, /- JOINTSPACE_CDS_CLOCK_SKEW_S: expected an integer 0\.\.300, got "900"/);
  t.regex(message, /- JOINTSPACE_CDS_PUBLIC_URL: expected an http or https URL, got scheme "ftp:"/);
  t.regex(message, /- JOINTSPACE_CDS_REPORT_URL: expected a URL containing \{studyInstanceUid\}/);
});

test('the JWKS file: path, readability, JSON, shape', (t) => {
  const env = (file: string) => ({ ...JWT, JOINTSPACE_CDS_JWKS_FILE: file });
  t.regex(problems(env('keys.json')), /JOINTSPACE_CDS_JWKS_FILE: expected an absolute path/);
  t.regex(
    problems(env(`${dir.path}/missing.json`)),
    /JOINTSPACE_CDS_JWKS_FILE: cannot read the file \(ENOENT\)/,
  );
  t.regex(problems(env(dir.file('text.json', 'hello'))), /expected a JSON JWK Set/);
  t.regex(problems(env(jwks([]))), /an object with a non-empty "keys" array/);
  t.regex(
    problems({ ...JWT, JOINTSPACE_CDS_ISSUERS: `${ISSUER},,` }),
    /JOINTSPACE_CDS_ISSUERS: expected comma-separated issuers without empty entries/,
  );
});

test('keys that cannot be trusted are refused, each with its reason', (t) => {
  const shortRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const privateJwk = { ...RSA_KEY.privateKey.export({ format: 'jwk' }), kid: 'private' };
  const file = jwks([
    jwkOf(RSA_KEY),
    { ...jwkOf(EC_KEY), kid: undefined },
    { ...shortRsa.export({ format: 'jwk' }), kid: 'short' },
    { ...p256.export({ format: 'jwk' }), kid: 'p256' },
    privateJwk,
    { ...jwkOf(EC_KEY), kid: 'enc', use: 'enc' },
    { ...jwkOf(EC_KEY), kid: 'wrong-alg', alg: 'RS384' },
    { kty: 'RSA', kid: 'broken', n: 'AQAB' },
    jwkOf(RSA_KEY),
  ]);
  const message = problems({ ...JWT, JOINTSPACE_CDS_JWKS_FILE: file });
  t.regex(message, /\(8 problems\)/);
  t.regex(message, /keys\[1\]: expected a non-empty "kid"/);
  t.regex(message, /keys\[2\] \(kid "short"\): expected an RSA key of at least 2048 bits/);
  t.regex(message, /keys\[3\] \(kid "p256"\): expected an RSA key .* or an EC P-384 key/);
  t.regex(message, /keys\[4\] \(kid "private"\): expected a public key, got private key members/);
  t.regex(message, /keys\[5\] \(kid "enc"\): expected "use" to be "sig"/);
  t.regex(message, /keys\[6\] \(kid "wrong-alg"\): "alg" "RS384" does not fit the key \(ES384\)/);
  t.regex(message, /keys\[7\] \(kid "broken"\): expected an RSA or EC public key in JWK form/);
  t.regex(message, /keys\[8\]: kid "ehr-rsa-1" appears twice/);
});

test('the variables are listed in the shape of CONFIG_VARIABLES, none secret', (t) => {
  t.deepEqual(
    CDS_CONFIG_VARIABLES.map((v) => v.name),
    [
      'JOINTSPACE_CDS_AUTH',
      'JOINTSPACE_CDS_JWKS_FILE',
      'JOINTSPACE_CDS_ISSUERS',
      'JOINTSPACE_CDS_PUBLIC_URL',
      'JOINTSPACE_CDS_REPORT_URL',
      'JOINTSPACE_CDS_CLOCK_SKEW_S',
    ],
  );
  for (const variable of CDS_CONFIG_VARIABLES) {
    t.false(variable.required, variable.name);
    t.false(variable.secret, variable.name);
    t.true(variable.description.length > 20, variable.name);
  }
});
