import test, { type ExecutionContext } from 'ava';
import type { DataSource } from 'typeorm';
import { createDataSource, migrate } from '../../src/store/data-source.js';
import type { StudyResponse } from '../../src/api/studies.js';
import { recommend } from '../../src/care/engine.js';
import { careRules } from '../../src/care/rules.js';
import { CarePlanStore } from '../../src/store/care-plans.js';
import { Store } from '../../src/store/repository.js';
import { usePostgres } from '../helpers/postgres.js';
import {
  API_TOKEN,
  SECOND_API_TOKEN,
  WEBHOOK_SECRET,
  bearer,
  logRecords,
  startApi,
  type TestApi,
} from './harness.js';

const database = usePostgres(test);
let dataSource: DataSource | undefined;
let store: Store | undefined;

// Obviously fake identities; UIDs under the 2.25 (UUID-derived) root.
const STUDY = '2.25.200000000000000000000000000000000001';
const SERIES = '2.25.200000000000000000000000000000000002';
const KNEES_IMAGE = '2.25.200000000000000000000000000000000003';
const CHEST_IMAGE = '2.25.200000000000000000000000000000000004';
const UNKNOWN_STUDY = '2.25.200000000000000000000000000000000099';
const CARE_STUDY = '2.25.200000000000000000000000000000000010';
const MODEL = 'kl-grade-test@1';
const NOT_A_KNEE = 'not a knee radiograph: the image looks like a chest radiograph';

const probabilities = (grade: number) => [0, 1, 2, 3, 4].map((k) => (k === grade ? 0.6 : 0.1));

test.before(async () => {
  const { url } = await database();
  dataSource = createDataSource({ url, poolSize: 2 });
  await dataSource.initialize();
  await migrate(dataSource);
  store = new Store(dataSource);

  await store.upsertStudy(STUDY);
  await store.recordImage({
    studyInstanceUid: STUDY,
    sopInstanceUid: KNEES_IMAGE,
    seriesInstanceUid: SERIES,
    laterality: 'B',
    status: 'graded',
  });
  for (const [laterality, grade] of [
    ['R', 2],
    ['L', 3],
  ] as const) {
    await store.saveResult({
      sopInstanceUid: KNEES_IMAGE,
      laterality,
      klGrade: grade,
      probabilities: probabilities(grade),
      confidence: 0.6,
      modelId: MODEL,
    });
  }
  await store.recordImage({
    studyInstanceUid: STUDY,
    sopInstanceUid: CHEST_IMAGE,
    seriesInstanceUid: SERIES,
    status: 'refused',
  });
  await store.recordProblem({
    studyInstanceUid: STUDY,
    sopInstanceUid: CHEST_IMAGE,
    kind: 'refusal',
    code: 'not-a-knee-radiograph',
    reason: NOT_A_KNEE,
    permanent: true,
  });
  await store.setStudyStatus(STUDY, 'graded');
});

test.after.always(async () => {
  await dataSource?.destroy();
});

/** Runs `use` against an app of its own on the shared database, then checks its log. */
async function withApi(
  t: ExecutionContext,
  use: (api: TestApi) => Promise<void>,
  carePlans?: CarePlanStore,
): Promise<TestApi> {
  if (store === undefined) throw new Error('database not ready');
  const api = await startApi(t, { store, ...(carePlans === undefined ? {} : { carePlans }) });
  try {
    await use(api);
  } finally {
    await api.close();
  }
  const log = api.logLines.join('\n');
  for (const secret of [STUDY, KNEES_IMAGE, CHEST_IMAGE, UNKNOWN_STUDY, CARE_STUDY, '2.25.2000']) {
    t.false(log.includes(secret), `a UID reached the log: ${secret}`);
  }
  for (const secret of [API_TOKEN, SECOND_API_TOKEN, WEBHOOK_SECRET]) {
    t.false(log.includes(secret), 'a credential reached the log');
  }
  return api;
}

const studyUrl = (api: TestApi, uid: string) => new URL(`api/studies/${uid}`, api.url);
const reprocessUrl = (api: TestApi, uid: string) =>
  new URL(`api/studies/${uid}/reprocess`, api.url);

test('a graded study answers its knees and its refusals', async (t) => {
  await withApi(t, async (api) => {
    const response = await fetch(studyUrl(api, STUDY), { headers: bearer(API_TOKEN) });

    t.is(response.status, 200);
    t.regex(response.headers.get('content-type') ?? '', /^application\/json/);
    t.deepEqual(await response.json(), {
      studyInstanceUid: STUDY,
      status: 'graded',
      knees: [
        {
          laterality: 'L',
          klGrade: 3,
          probabilities: probabilities(3),
          confidence: 0.6,
          model: MODEL,
        },
        {
          laterality: 'R',
          klGrade: 2,
          probabilities: probabilities(2),
          confidence: 0.6,
          model: MODEL,
        },
      ],
      refusals: [{ sopInstanceUid: CHEST_IMAGE, reason: NOT_A_KNEE }],
      errors: [],
      carePlan: null,
      recommendations: [],
      progression: [],
    });
  });
});

test('a study with a care plan answers its state and its recommendations knee by knee', async (t) => {
  if (dataSource === undefined || store === undefined) throw new Error('database not ready');
  const carePlans = new CarePlanStore(dataSource, 'test-patient-key-secret-0123');
  await store.upsertStudy(CARE_STUDY);
  await carePlans.markPending(CARE_STUDY);

  await withApi(
    t,
    async (api) => {
      const pending = await fetch(studyUrl(api, CARE_STUDY), { headers: bearer(API_TOKEN) });
      const body = (await pending.json()) as StudyResponse;
      t.is(body.carePlan?.status, 'pending');
      t.deepEqual(body.recommendations, []);
    },
    carePlans,
  );

  const rules = careRules();
  const knees = (['R', 'L'] as const).map((laterality) => ({
    laterality,
    klGrade: 3,
    modelId: MODEL,
    proposal: recommend(
      {
        asOf: '2026-12-01',
        age: 70,
        bmi: 31,
        conditions: ['chronic-kidney-disease'],
        treatments: [],
        knee: { laterality, klGrade: 3 },
      },
      rules,
    ),
  }));
  await carePlans.saveWritten(CARE_STUDY, 'patient-1', knees);

  await withApi(
    t,
    async (api) => {
      const response = await fetch(studyUrl(api, CARE_STUDY), { headers: bearer(API_TOKEN) });
      const body = (await response.json()) as StudyResponse;
      t.is(body.carePlan?.status, 'written');
      t.is(body.carePlan?.attempts, 1);
      const expected = knees.flatMap((knee) =>
        knee.proposal.recommendations.map((rec) => `${knee.laterality} ${rec.id}`),
      );
      t.true(expected.length >= 4);
      t.deepEqual(
        body.recommendations.map((rec) => `${rec.laterality} ${rec.id}`),
        expected,
      );
      for (const rec of body.recommendations) {
        for (const field of [
          'title',
          'strength',
          'source',
          'clinicianExplanation',
          'patientExplanation',
        ] as const) {
          t.true(rec[field].length > 0, `${rec.id} ${field}`);
        }
      }
      // Chronic kidney disease: the oral NSAID rule is held back, weight management proposed.
      t.false(body.recommendations.some((rec) => rec.id === 'R4'));
      t.true(body.recommendations.some((rec) => rec.id === 'R2'));
    },
    carePlans,
  );
});

test('every configured API token is accepted', async (t) => {
  await withApi(t, async (api) => {
    const response = await fetch(studyUrl(api, STUDY), { headers: bearer(SECOND_API_TOKEN) });
    t.is(response.status, 200);
  });
});

test('an unknown study is 404, a malformed UID 400 naming the parameter', async (t) => {
  await withApi(t, async (api) => {
    const unknown = await fetch(studyUrl(api, UNKNOWN_STUDY), { headers: bearer(API_TOKEN) });
    t.is(unknown.status, 404);
    t.deepEqual(await unknown.json(), {
      error: { code: 'not-found', message: 'no study with this Study Instance UID' },
    });

    for (const malformed of ['1.2.abc', '1..2', `1.${'2'.repeat(63)}`, '.1.2']) {
      const response = await fetch(studyUrl(api, malformed), { headers: bearer(API_TOKEN) });
      t.is(response.status, 400, malformed);
      t.deepEqual(await response.json(), {
        error: {
          code: 'invalid-argument',
          message: 'uid: expected a DICOM UID (digits and dots, at most 64 characters)',
        },
      });
    }
  });
});

test('a study route without a token, or with a wrong one, is 401 with a Bearer challenge', async (t) => {
  await withApi(t, async (api) => {
    const cases: [string, Record<string, string>, string][] = [
      ['no Authorization', {}, 'a bearer token is required'],
      ['another scheme', { Authorization: `Basic ${API_TOKEN}` }, 'a bearer token is required'],
      [
        'a wrong token',
        bearer('test-api-token-wrong-wrong'),
        'the bearer token is not accepted here',
      ],
      ['a token prefix', bearer(API_TOKEN.slice(0, -1)), 'the bearer token is not accepted here'],
      ['the webhook secret', bearer(WEBHOOK_SECRET), 'the bearer token is not accepted here'],
    ];
    for (const [what, headers, message] of cases) {
      for (const [method, url] of [
        ['GET', studyUrl(api, STUDY)],
        ['POST', reprocessUrl(api, STUDY)],
      ] as const) {
        const response = await fetch(url, { method, headers });
        t.is(response.status, 401, `${method} with ${what}`);
        t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer realm="jointspace"/);
        t.deepEqual(await response.json(), { error: { code: 'unauthorized', message } });
      }
    }
    t.deepEqual(api.queue.enqueued, [], 'nothing queued without a valid token');
  });
});

test('authentication comes before validation: a bad UID without a token is 401', async (t) => {
  await withApi(t, async (api) => {
    const response = await fetch(studyUrl(api, 'not-a-uid'));
    t.is(response.status, 401);
  });
});

test('reprocess queues a forced job; a second while it waits answers a null job id', async (t) => {
  await withApi(t, async (api) => {
    const first = await fetch(reprocessUrl(api, STUDY), {
      method: 'POST',
      headers: bearer(API_TOKEN),
    });
    const second = await fetch(reprocessUrl(api, STUDY), {
      method: 'POST',
      headers: bearer(API_TOKEN),
    });

    t.is(first.status, 202);
    t.deepEqual(await first.json(), { jobId: 'recorded-job-1' });
    t.is(second.status, 202);
    t.deepEqual(await second.json(), { jobId: null });
    const job = { studyInstanceUid: STUDY, source: 'reprocess', force: true };
    t.deepEqual(api.queue.enqueued, [job, job]);
    t.regex(
      await api.metrics.render(),
      /^jointspace_intake_events_total\{source="reprocess"\} 2$/m,
    );
  });
});

test('reprocess validates the UID', async (t) => {
  await withApi(t, async (api) => {
    const response = await fetch(reprocessUrl(api, '1.2.x'), {
      method: 'POST',
      headers: bearer(API_TOKEN),
    });
    t.is(response.status, 400);
    t.deepEqual(api.queue.enqueued, []);
  });
});

test('the access log names the route pattern, method, status and request id, never the UID', async (t) => {
  const api = await withApi(t, async (api) => {
    await fetch(studyUrl(api, STUDY), {
      headers: { ...bearer(API_TOKEN), 'X-Request-Id': 'trace-study-1' },
    });
    await fetch(studyUrl(api, UNKNOWN_STUDY), { headers: bearer(API_TOKEN) });
    await fetch(reprocessUrl(api, STUDY), { method: 'POST', headers: bearer(WEBHOOK_SECRET) });
  });

  const requests = logRecords(api).filter((record) => record.event === 'api-request');
  t.deepEqual(
    requests.map(({ method, route, status, errorCode }) => ({ method, route, status, errorCode })),
    [
      { method: 'GET', route: '/api/studies/:uid', status: 200, errorCode: undefined },
      { method: 'GET', route: '/api/studies/:uid', status: 404, errorCode: 'not-found' },
      {
        method: 'POST',
        route: '/api/studies/:uid/reprocess',
        status: 401,
        errorCode: 'unauthorized',
      },
    ],
  );
  t.is(requests[0]?.requestId, 'trace-study-1');
  t.regex(String(requests[1]?.requestId), /^[0-9a-f-]{36}$/);
  for (const record of requests) t.is(typeof record.durationMs, 'number');
});
