/**
 * The pure parts of the CDS Hooks service: the replay memory, the JWT checks at the edges of
 * the clock skew, the prefetch reader, and the OpenAPI description of the CDS routes.
 */
import test from 'ava';
import { openApiDocument } from '../../src/api/openapi.js';
import { ReplayGuard, verifyCdsJwt, type VerifyOptions } from '../../src/cds/jwt.js';
import { readPrefetch } from '../../src/cds/prefetch.js';
import { JointspaceError } from '../../src/errors.js';
import {
  EC_KEY,
  ISSUER,
  NOW_MS,
  PATIENT_ID,
  RSA_KEY,
  baseRecord,
  medicationWithReference,
  prefetchOf,
  signJwt,
} from './fixtures.js';

const AUDIENCE = 'https://jointspace.example.org/cds-services/jointspace-knee-oa';
const NOW_S = Math.floor(NOW_MS / 1000);

function options(overrides: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    keys: new Map([
      [RSA_KEY.kid, { kid: RSA_KEY.kid, algorithm: 'RS384', key: RSA_KEY.publicKey }],
      [EC_KEY.kid, { kid: EC_KEY.kid, algorithm: 'ES384', key: EC_KEY.publicKey }],
    ]),
    issuers: new Set([ISSUER]),
    audience: AUDIENCE,
    clockSkewS: 60,
    nowMs: NOW_MS,
    replay: new ReplayGuard(),
    ...overrides,
  };
}

function refusal(token: string, given: VerifyOptions): string {
  const error = t401(() => verifyCdsJwt(token, given));
  return error.message;
}

function t401(run: () => unknown): JointspaceError {
  try {
    run();
  } catch (error) {
    if (error instanceof JointspaceError && error.status === 401) return error;
    throw error;
  }
  throw new Error('expected a 401');
}

test('exp and iat are judged with the clock skew', (t) => {
  const at = (exp: number, iat: number) => signJwt(AUDIENCE, { exp, iat });
  t.is(verifyCdsJwt(at(NOW_S - 30, NOW_S - 200), options()).iss, ISSUER);
  t.regex(refusal(at(NOW_S - 61, NOW_S - 200), options()), /has expired/);
  t.is(verifyCdsJwt(at(NOW_S + 200, NOW_S + 50), options()).iss, ISSUER);
  t.regex(refusal(at(NOW_S + 200, NOW_S + 61), options()), /iat is in the future/);
  t.regex(refusal(at(NOW_S - 1, NOW_S - 200), options({ clockSkewS: 0 })), /has expired/);
});

test('aud may be an array that holds the endpoint', (t) => {
  const token = signJwt(AUDIENCE, { aud: ['https://other.example.org/', AUDIENCE] });
  t.deepEqual(verifyCdsJwt(token, options()).aud, ['https://other.example.org/', AUDIENCE]);
  t.regex(refusal(signJwt(`${AUDIENCE}/`), options()), /aud must be the service endpoint/);
});

test('a jti is remembered until its token has expired, then forgotten', (t) => {
  const replay = new ReplayGuard();
  const token = signJwt(AUDIENCE, { exp: NOW_S + 100, jti: 'once' });
  verifyCdsJwt(token, options({ replay }));
  t.regex(refusal(token, options({ replay })), /replay/);
  t.is(replay.size, 1);
  replay.forgetExpired(NOW_MS + (100 + 60 + 1) * 1000);
  t.is(replay.size, 0);
});

test('a full replay memory refuses new tokens rather than forgetting live ones', (t) => {
  const replay = new ReplayGuard(2);
  verifyCdsJwt(signJwt(AUDIENCE), options({ replay }));
  verifyCdsJwt(signJwt(AUDIENCE), options({ replay }));
  t.regex(refusal(signJwt(AUDIENCE), options({ replay })), /too many recent tokens/);
});

test('a signature of the wrong length or encoding is refused', (t) => {
  const [head = '', body = ''] = signJwt(AUDIENCE, {}, EC_KEY).split('.');
  t.regex(refusal(`${head}.${body}.AAAA`, options()), /signature does not verify/);
  t.regex(refusal(`${head}.${body}.a+b/`, options()), /signature does not verify/);
  t.regex(refusal(`${head}.e30.`, options()), /three dot-separated parts|signature/);
  t.regex(refusal(`!!.${body}.x`, options()), /header is not base64url/);
});

test('prefetch: the whole record is read, Medications from _include included', (t) => {
  const prefetch = prefetchOf([...baseRecord(), ...medicationWithReference()]);
  const reading = readPrefetch(prefetch, PATIENT_ID);
  t.deepEqual(reading.unusable, []);
  t.is(reading.record?.patient.id, PATIENT_ID);
  t.is(reading.record?.observations?.length, 3);
  t.is(reading.record?.medicationRequests?.length, 1);
  t.deepEqual([...(reading.record?.medications?.keys() ?? [])], ['Medication/cds-naproxen']);
});

test('prefetch: a paged, absent or foreign part makes the record unusable, with reasons', (t) => {
  const prefetch = prefetchOf(baseRecord());
  prefetch.observations = {
    resourceType: 'Bundle',
    type: 'searchset',
    link: [{ relation: 'next', url: 'https://ehr.example.org/fhir?page=2' }],
    entry: [],
  };
  Reflect.deleteProperty(prefetch, 'procedures');
  prefetch.patient = { resourceType: 'Patient', id: 'someone-else' };
  const reading = readPrefetch(prefetch, PATIENT_ID);
  t.is(reading.record, undefined);
  t.deepEqual(reading.unusable, [
    { key: 'patient', reason: 'a Patient other than context.patientId' },
    {
      key: 'observations',
      reason: 'only the first page of the search (the Bundle has a next link)',
    },
    { key: 'procedures', reason: 'not sent' },
  ]);
  t.is(readPrefetch('not an object', PATIENT_ID).unusable.length, 6);
});

test('the OpenAPI document describes the CDS routes with their own credential', (t) => {
  t.deepEqual(openApiDocument.paths['/cds-services']?.get?.security, []);
  t.deepEqual(openApiDocument.paths['/cds-services/{id}']?.post?.security, [{ cdsJwt: [] }]);
  const scheme = openApiDocument.components.securitySchemes.cdsJwt;
  t.is(scheme?.bearerFormat, 'JWT');
  t.truthy(openApiDocument.components.schemas.CdsCard);
});
