/**
 * The CDS Hooks routes through the real Koa app on a loopback port: discovery, CORS, JWT
 * authentication, request validation, and the cards with and without prefetch.
 */
import { randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { CdsCard } from '../../src/cds/cards.js';
import { AI_STATEMENT } from '../../src/cds/cards.js';
import type { CdsKneeResult } from '../../src/cds/results.js';
import { CDS_SERVICE_ID, cdsHandlers, type DiscoveryResponse } from '../../src/cds/service.js';
import { cdsSettingsFromEnv, type CdsSettings } from '../../src/cds/settings.js';
import { createLogger } from '../../src/log.js';
import { API_TOKEN, bearer, startApi } from '../api/harness.js';
import {
  EC_KEY,
  ISSUER,
  LEFT_STUDY,
  MemoryResults,
  NOW_MS,
  PATIENT_ID,
  RIGHT_STUDY,
  RSA_KEY,
  STRANGER_KEY,
  TODAY,
  USER_ID,
  baseRecord,
  cardiovascularCondition,
  jwkOf,
  prefetchOf,
  signJwt,
  storedKnees,
  tempDir,
} from './fixtures.js';

const dir = tempDir();
test.after.always(() => dir.remove());
const jwksFile = dir.file(
  'ehr-keys.json',
  JSON.stringify({ keys: [jwkOf(RSA_KEY), jwkOf(EC_KEY)] }),
);

function settingsFrom(env: NodeJS.ProcessEnv): CdsSettings {
  const settings = cdsSettingsFromEnv({
    JOINTSPACE_CDS_JWKS_FILE: jwksFile,
    JOINTSPACE_CDS_ISSUERS: `https://other-ehr.example.org, ${ISSUER}`,
    ...env,
  });
  if (settings === undefined) throw new Error('expected CDS settings');
  return settings;
}

interface CdsApi {
  url: string;
  endpoint: string;
  results: MemoryResults;
  /** Every log line of the app and of the CDS handlers. */
  logs: () => string;
}

async function startCds(
  t: ExecutionContext,
  options: { env?: NodeJS.ProcessEnv; knees?: CdsKneeResult[] } = {},
): Promise<CdsApi> {
  const results = new MemoryResults(new Map([[PATIENT_ID, options.knees ?? storedKnees()]]));
  const lines: string[] = [];
  const logger = createLogger({ component: 'cds' }, 'debug', (line) => lines.push(line));
  const cds = cdsHandlers({
    settings: settingsFrom(options.env ?? {}),
    results,
    logger,
    now: () => NOW_MS,
  });
  const api = await startApi(t, { cds });
  return {
    url: api.url,
    endpoint: new URL(`cds-services/${CDS_SERVICE_ID}`, api.url).href,
    results,
    logs: () => [...api.logLines, ...lines].join('\n'),
  };
}

function hookRequest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    fhirServer: 'https://ehr.example.org/fhir',
    context: { patientId: PATIENT_ID, userId: USER_ID },
    ...extra,
  };
}

async function call(
  endpoint: string,
  body: unknown,
  token: string | undefined,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    json: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

async function cardsOf(api: CdsApi, body: unknown): Promise<CdsCard[]> {
  const answer = await call(api.endpoint, body, signJwt(api.endpoint));
  if (answer.status !== 200) throw new Error(`expected 200, got ${answer.status}`);
  return answer.json.cards as CdsCard[];
}

const byRule = (cards: CdsCard[], knee: 'Right' | 'Left', title: string) =>
  cards.filter((c) => c.summary.startsWith(`${knee} knee`) && c.summary.includes(title));

test('discovery lists the patient-view service with its prefetch templates, with CORS', async (t) => {
  const api = await startCds(t);
  const response = await fetch(new URL('cds-services', api.url), {
    headers: { Origin: 'https://ehr.example.org' },
  });
  t.is(response.status, 200);
  t.is(response.headers.get('access-control-allow-origin'), '*');
  const body = (await response.json()) as DiscoveryResponse;
  t.is(body.services.length, 1);
  const [service] = body.services;
  t.is(service?.hook, 'patient-view');
  t.is(service?.id, CDS_SERVICE_ID);
  t.truthy(service?.title);
  t.truthy(service?.description);
  const prefetch = service?.prefetch ?? {};
  t.is(prefetch.patient, 'Patient/{{context.patientId}}');
  for (const code of ['72514-3', '38208-5', '39156-5', '29463-7', '8302-2', '82332-8']) {
    t.true(prefetch.observations?.includes(`http://loinc.org|${code}`), code);
  }
  t.true(prefetch.observations?.startsWith('Observation?patient={{context.patientId}}&code='));
  t.is(prefetch.conditions, 'Condition?patient={{context.patientId}}');
  t.true(
    prefetch.medicationStatements?.startsWith('MedicationStatement?patient={{context.patientId}}'),
  );
  t.true(
    prefetch.medicationRequests?.startsWith('MedicationRequest?patient={{context.patientId}}'),
  );
  t.is(prefetch.procedures, 'Procedure?patient={{context.patientId}}');
});

test('the CORS preflight is answered on CDS routes only', async (t) => {
  const api = await startCds(t);
  const preflight = await fetch(api.endpoint, {
    method: 'OPTIONS',
    headers: {
      Origin: 'https://ehr.example.org',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type',
    },
  });
  t.is(preflight.status, 204);
  t.is(preflight.headers.get('access-control-allow-origin'), '*');
  t.regex(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
  t.regex(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);

  const other = await fetch(new URL('healthz', api.url), {
    headers: { Origin: 'https://ehr.example.org' },
  });
  t.is(other.status, 200);
  t.is(other.headers.get('access-control-allow-origin'), null);
});

test('a signed call without prefetch gets one card per recommendation and knee, from the stored proposals', async (t) => {
  const api = await startCds(t);
  const knees = storedKnees();
  const answer = await call(api.endpoint, hookRequest(), signJwt(api.endpoint));
  t.is(answer.status, 200);
  t.is(answer.headers.get('access-control-allow-origin'), '*');
  const cards = answer.json.cards as CdsCard[];
  t.deepEqual(api.results.asked, [PATIENT_ID]);

  const expected = knees.reduce((n, k) => n + k.proposal.recommendations.length, 0);
  t.is(cards.length, expected);
  t.is(new Set(cards.map((c) => c.uuid)).size, cards.length);
  for (const card of cards) {
    t.true(card.summary.length < 140, card.summary);
    t.regex(card.summary, /^(Right|Left) knee, KL [23] \(AI\): /);
    t.true(card.detail.includes(AI_STATEMENT));
    t.regex(card.detail, /the proposal made when the study was graded, for 2026-01-15/);
    t.regex(card.detail, /Today's record was not evaluated: the EHR sent no prefetch/);
    t.regex(card.source.label, /^jointspace: /);
    t.regex(card.source.url ?? '', /^https:\/\//);
    t.not(card.indicator, 'critical');
    const report = card.links[0];
    t.is(report?.type, 'absolute');
    const study = card.summary.startsWith('Right') ? RIGHT_STUDY : LEFT_STUDY;
    t.is(report?.url, new URL(`api/studies/${study}`, api.url).href);
  }

  // Oral NSAID (R4) for both knees: pain 6/10 despite the gel, no contraindication on record.
  const oral = byRule(cards, 'Right', 'Oral NSAID');
  t.is(oral.length, 1);
  t.is(oral[0]?.indicator, 'info');
  t.regex(oral[0]?.detail ?? '', /\*\*Triggered by:\*\* .*latest pain 6\/10/);
  t.regex(oral[0]?.detail ?? '', /Right knee: Kellgren–Lawrence grade 3\*\* \(study of 2026-01-15/);
  t.is(byRule(cards, 'Left', 'Oral NSAID').length, 1);
  // The progression flag (R15) fired at grading for the right knee only, as a warning.
  const flag = cards.filter((c) => c.detail.includes('R15 '));
  t.is(flag.length, 1);
  t.is(flag[0]?.indicator, 'warning');
  t.regex(flag[0]?.summary ?? '', /^Right knee/);
  // Missing data is named (no KOOS JR for R13).
  t.true(cards.every((c) => c.detail.includes('**Missing data:**')));
});

test('an ES384-signed call is accepted too', async (t) => {
  const api = await startCds(t);
  const answer = await call(api.endpoint, hookRequest(), signJwt(api.endpoint, {}, EC_KEY));
  t.is(answer.status, 200);
  t.true((answer.json.cards as CdsCard[]).length > 0);
});

test('prefetch with cardiovascular disease: no oral NSAID card, an avoid warning instead', async (t) => {
  const api = await startCds(t);

  const before = await cardsOf(api, hookRequest({ prefetch: prefetchOf(baseRecord()) }));
  t.is(byRule(before, 'Right', 'Oral NSAID').length, 1);
  t.is(before.filter((c) => c.indicator === 'warning' && c.detail.includes('R6 ')).length, 0);
  t.regex(
    before[0]?.detail ?? '',
    new RegExp(`evaluated on ${TODAY} from the record the EHR sent`),
  );

  const record = [...baseRecord(), cardiovascularCondition()];
  const after = await cardsOf(api, hookRequest({ prefetch: prefetchOf(record) }));
  for (const knee of ['Right', 'Left'] as const) {
    t.is(byRule(after, knee, 'Oral NSAID').length, 0, knee);
    const avoid = after.filter((c) => c.summary.startsWith(knee) && c.detail.includes('R6 '));
    t.is(avoid.length, 1, knee);
    t.is(avoid[0]?.indicator, 'warning');
    t.regex(avoid[0]?.detail ?? '', /cardiovascular disease: yes/);
    t.regex(avoid[0]?.detail ?? '', /\*\*Held back for this knee:\*\*\n\n- R4 /);
  }
  // Progression depends on the images only: R15 is carried from the stored proposal.
  const flag = after.filter((c) => c.detail.includes('R15 '));
  t.is(flag.length, 1);
  t.regex(
    flag[0]?.detail ?? '',
    /Progression \(R14, R15\) is as assessed when the study was graded/,
  );
});

test('prefetch values that are null or malformed count as not sent', async (t) => {
  const api = await startCds(t);
  const prefetch = prefetchOf([...baseRecord(), cardiovascularCondition()]);
  prefetch.conditions = null;
  prefetch.procedures = { resourceType: 'Patient', id: PATIENT_ID };
  const cards = await cardsOf(api, hookRequest({ prefetch }));
  // The stored proposal, which knew no cardiovascular disease, is shown and says why.
  t.is(byRule(cards, 'Right', 'Oral NSAID').length, 1);
  t.regex(
    cards[0]?.detail ?? '',
    /the prefetch was incomplete \(conditions: sent as null \(no data\); procedures: not a Bundle\)/,
  );
});

test('a prefetch holding resources of another patient is not used', async (t) => {
  const api = await startCds(t);
  const prefetch = prefetchOf(baseRecord());
  const stranger = cardiovascularCondition();
  stranger.subject = { reference: 'Patient/someone-else' };
  prefetch.conditions = {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: [{ resource: stranger }],
  };
  const cards = await cardsOf(api, hookRequest({ prefetch }));
  t.regex(cards[0]?.detail ?? '', /conditions: a Condition of another patient/);
});

test('a patient without results gets no cards', async (t) => {
  const api = await startCds(t, { knees: [] });
  const answer = await call(api.endpoint, hookRequest(), signJwt(api.endpoint));
  t.is(answer.status, 200);
  t.deepEqual(answer.json, { cards: [] });
});

test('refused tokens: 401 with the reason, the token never echoed', async (t) => {
  const api = await startCds(t);
  const nowS = Math.floor(NOW_MS / 1000);
  const cases: [string, string | undefined, RegExp][] = [
    ['no token', undefined, /a Bearer JWT is required/],
    ['not a JWT', 'abc', /three dot-separated parts/],
    ['wrong signature', signJwt(api.endpoint, {}, STRANGER_KEY), /signature does not verify/],
    ['wrong aud', signJwt(`${api.url}cds-services/other`), /aud must be the service endpoint/],
    ['wrong aud origin', signJwt(api.endpoint.replace('127.0.0.1', 'localhost')), /aud/],
    ['expired', signJwt(api.endpoint, { exp: nowS - 120, iat: nowS - 400 }), /expired/],
    ['too far ahead', signJwt(api.endpoint, { exp: nowS + 3600 }), /more than 300 seconds ahead/],
    ['issued in the future', signJwt(api.endpoint, { iat: nowS + 200 }), /iat is in the future/],
    ['no jti', signJwt(api.endpoint, { jti: undefined }), /no jti/],
    [
      'unknown issuer',
      signJwt(api.endpoint, { iss: 'https://evil.example.org' }),
      /not a trusted issuer/,
    ],
    ['unknown kid', signJwt(api.endpoint, {}, RSA_KEY, { kid: 'nope' }), /names no trusted key/],
    ['alg none', signJwt(api.endpoint, {}, RSA_KEY, { alg: 'none' }), /alg must be RS384 or ES384/],
    ['alg of another key', signJwt(api.endpoint, {}, RSA_KEY, { alg: 'ES384' }), /does not match/],
  ];
  for (const [name, token, reason] of cases) {
    const answer = await call(api.endpoint, hookRequest(), token);
    t.is(answer.status, 401, name);
    const error = answer.json.error as { code: string; message: string };
    t.is(error.code, 'unauthorized', name);
    t.regex(error.message, reason, name);
    if (token !== undefined) t.false(JSON.stringify(answer.json).includes(token), name);
    t.regex(answer.headers.get('www-authenticate') ?? '', /invalid_token/, name);
    t.is(answer.headers.get('access-control-allow-origin'), '*', name);
  }
  t.deepEqual(api.results.asked, []);
});

test('a replayed jti is refused', async (t) => {
  const api = await startCds(t);
  const token = signJwt(api.endpoint);
  t.is((await call(api.endpoint, hookRequest(), token)).status, 200);
  const again = await call(api.endpoint, hookRequest(), token);
  t.is(again.status, 401);
  t.regex((again.json.error as { message: string }).message, /jti was used before \(replay\)/);
  // The same jti from another trusted issuer is a different token.
  const jti = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
    jti: string;
  };
  const other = signJwt(api.endpoint, { iss: 'https://other-ehr.example.org', jti: jti.jti });
  t.is((await call(api.endpoint, hookRequest(), other)).status, 200);
});

test('an API token is not a CDS credential', async (t) => {
  const api = await startCds(t);
  const response = await fetch(api.endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...bearer(API_TOKEN) },
    body: JSON.stringify(hookRequest()),
  });
  t.is(response.status, 401);
});

test('malformed requests: 400 naming the field', async (t) => {
  const api = await startCds(t);
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['no context', hookRequest({ context: undefined }), /^context: expected an object/],
    [
      'no patientId',
      hookRequest({ context: { userId: USER_ID } }),
      /^context\.patientId: expected a FHIR logical id/,
    ],
    [
      'no userId',
      hookRequest({ context: { patientId: PATIENT_ID } }),
      /^context\.userId: expected a reference/,
    ],
    ['no hook', hookRequest({ hook: undefined }), /^hook: expected a string/],
    ['another hook', hookRequest({ hook: 'order-sign' }), /^hook: expected "patient-view"/],
    ['no hookInstance', hookRequest({ hookInstance: undefined }), /^hookInstance: expected a UUID/],
    [
      'fhirAuthorization without fhirServer',
      hookRequest({ fhirServer: undefined, fhirAuthorization: { access_token: 'x' } }),
      /^fhirServer: expected present with fhirAuthorization/,
    ],
  ];
  for (const [name, body, message] of cases) {
    const answer = await call(api.endpoint, body, signJwt(api.endpoint));
    t.is(answer.status, 400, name);
    t.regex((answer.json.error as { message: string }).message, message, name);
  }
});

test('an unknown service id is 404', async (t) => {
  const api = await startCds(t);
  const endpoint = `${api.url}cds-services/something-else`;
  const answer = await call(endpoint, hookRequest(), signJwt(endpoint));
  t.is(answer.status, 404);
  t.regex((answer.json.error as { message: string }).message, /no CDS service with this id/);
});

test('behind a proxy: aud is checked against the public URL, and links use it', async (t) => {
  const publicUrl = 'https://jointspace.example.org/knee';
  const api = await startCds(t, { env: { JOINTSPACE_CDS_PUBLIC_URL: publicUrl } });
  const publicEndpoint = `${publicUrl}/cds-services/${CDS_SERVICE_ID}`;
  t.is((await call(api.endpoint, hookRequest(), signJwt(api.endpoint))).status, 401);
  const answer = await call(api.endpoint, hookRequest(), signJwt(publicEndpoint));
  t.is(answer.status, 200);
  const cards = answer.json.cards as CdsCard[];
  t.is(cards[0]?.links[0]?.url, `${publicUrl}/api/studies/${RIGHT_STUDY}`);
});

test('a configured viewer URL template is used for the report link', async (t) => {
  const api = await startCds(t, {
    env: { JOINTSPACE_CDS_REPORT_URL: 'https://viewer.example.org/view?study={studyInstanceUid}' },
  });
  const cards = await cardsOf(api, hookRequest());
  const left = cards.find((c) => c.summary.startsWith('Left'));
  t.is(left?.links[0]?.url, `https://viewer.example.org/view?study=${LEFT_STUDY}`);
});

test('with JOINTSPACE_CDS_AUTH=none calls need no token, and a warning is logged', async (t) => {
  const results = new MemoryResults(new Map([[PATIENT_ID, storedKnees()]]));
  const lines: string[] = [];
  const cds = cdsHandlers({
    settings: { auth: { kind: 'none' } },
    results,
    logger: createLogger({}, 'debug', (line) => lines.push(line)),
    now: () => NOW_MS,
  });
  const api = await startApi(t, { cds });
  const answer = await call(`${api.url}cds-services/${CDS_SERVICE_ID}`, hookRequest(), undefined);
  t.is(answer.status, 200);
  t.true(
    lines.some((line) => line.includes('"level":"warn"') && line.includes('cds.auth-disabled')),
  );
});

test('without the cds dependency the CDS routes answer 404 saying why', async (t) => {
  const api = await startApi(t);
  for (const [method, path] of [
    ['GET', 'cds-services'],
    ['POST', `cds-services/${CDS_SERVICE_ID}`],
  ] as const) {
    const response = await fetch(new URL(path, api.url), {
      method,
      headers: { 'Content-Type': 'application/json' },
      ...(method === 'POST' ? { body: JSON.stringify(hookRequest()) } : {}),
    });
    t.is(response.status, 404, path);
    const body = (await response.json()) as { error: { message: string } };
    t.regex(body.error.message, /CDS Hooks is not enabled on this node/, path);
  }
});

test('logs name no patient, user, study or token', async (t) => {
  const api = await startCds(t);
  const token = signJwt(api.endpoint);
  await cardsOf(api, hookRequest({ prefetch: prefetchOf(baseRecord()) }));
  await call(api.endpoint, hookRequest(), token);
  await call(api.endpoint, hookRequest(), token);
  await call(
    api.endpoint,
    hookRequest({ context: { patientId: PATIENT_ID } }),
    signJwt(api.endpoint),
  );
  const logs = api.logs();
  t.regex(logs, /cds\.cards/);
  t.regex(logs, /cds\.auth-refused/);
  for (const secret of [PATIENT_ID, USER_ID, RIGHT_STUDY, LEFT_STUDY, token, '1958-06-15']) {
    t.false(logs.includes(secret), secret);
  }
});
