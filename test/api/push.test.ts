import test, { type ExecutionContext } from 'ava';
import { MAX_JSON_BODY_BYTES } from '../../src/api/body.js';
import {
  API_TOKEN,
  WEBHOOK_SECRET,
  bearer,
  logRecords,
  startApi,
  type TestApi,
} from './harness.js';

// Obviously fake identities.
const STUDY = '2.25.300000000000000000000000000000000001';
const ORTHANC_ID = '0a1b2c3d-00000000-11111111-22222222-33333333';

const notice = { orthancStudyId: ORTHANC_ID, studyInstanceUid: STUDY };

async function withApi(t: ExecutionContext, use: (api: TestApi) => Promise<void>): Promise<void> {
  const api = await startApi(t);
  try {
    await use(api);
  } finally {
    await api.close();
  }
  const log = api.logLines.join('\n');
  t.false(log.includes(STUDY), 'the Study Instance UID reached the log');
  t.false(log.includes(ORTHANC_ID), "Orthanc's study id reached the log");
  t.false(log.includes(WEBHOOK_SECRET), 'the webhook secret reached the log');
}

function push(api: TestApi, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL('api/orthanc/stable-study', api.url), {
    method: 'POST',
    headers: { ...bearer(WEBHOOK_SECRET), 'Content-Type': 'application/json', ...headers },
    body,
  });
}

test('a stable study is queued as a push job and answered 202 with the job id', async (t) => {
  await withApi(t, async (api) => {
    const response = await push(api, JSON.stringify({ ...notice, note: 'ignored' }));

    t.is(response.status, 202);
    t.deepEqual(await response.json(), { jobId: 'recorded-job-1' });
    t.deepEqual(api.queue.enqueued, [{ ...notice, source: 'push', force: false }]);
    t.regex(await api.metrics.render(), /^jointspace_intake_events_total\{source="push"\} 1$/m);
  });
});

test('a push for a study that already waits is fine: 202 with a null job id', async (t) => {
  await withApi(t, async (api) => {
    await push(api, JSON.stringify(notice));
    const again = await push(api, JSON.stringify(notice), {
      'Content-Type': 'application/json; charset=utf-8',
    });

    t.is(again.status, 202);
    t.deepEqual(await again.json(), { jobId: null });
    t.is(api.queue.enqueued.length, 2);
  });
});

test('the push route takes the webhook secret only, never an API token', async (t) => {
  await withApi(t, async (api) => {
    for (const headers of [{}, bearer(API_TOKEN), bearer(`${WEBHOOK_SECRET}x`)]) {
      const response = await fetch(new URL('api/orthanc/stable-study', api.url), {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(notice),
      });
      t.is(response.status, 401);
      t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer /);
      t.is(((await response.json()) as { error: { code: string } }).error.code, 'unauthorized');
    }
    t.deepEqual(api.queue.enqueued, []);
  });
});

const invalidBodies: [string, unknown, string][] = [
  [
    'missing UID',
    { orthancStudyId: ORTHANC_ID },
    'studyInstanceUid: expected a DICOM UID (digits and dots, at most 64 characters)',
  ],
  [
    'UID with letters',
    { ...notice, studyInstanceUid: '1.2.840.abc' },
    'studyInstanceUid: expected a DICOM UID (digits and dots, at most 64 characters)',
  ],
  [
    'UID of 65 characters',
    { ...notice, studyInstanceUid: `1.${'2'.repeat(63)}` },
    'studyInstanceUid: expected a DICOM UID (digits and dots, at most 64 characters)',
  ],
  [
    'UID as a number',
    { ...notice, studyInstanceUid: 1.2 },
    'studyInstanceUid: expected a DICOM UID (digits and dots, at most 64 characters)',
  ],
  [
    'missing Orthanc id',
    { studyInstanceUid: STUDY },
    "orthancStudyId: expected an Orthanc id (five groups of 8 lowercase hex digits joined by '-')",
  ],
  [
    'Orthanc id with a path',
    { ...notice, orthancStudyId: '../../tools/reset' },
    "orthancStudyId: expected an Orthanc id (five groups of 8 lowercase hex digits joined by '-')",
  ],
  ['an array', [notice], 'body: expected a JSON object'],
  ['null', null, 'body: expected a JSON object'],
];

for (const [what, body, message] of invalidBodies) {
  test(`a push body with ${what} is 400 naming the field`, async (t) => {
    await withApi(t, async (api) => {
      const response = await push(api, JSON.stringify(body));
      t.is(response.status, 400);
      t.deepEqual(await response.json(), { error: { code: 'invalid-argument', message } });
      t.deepEqual(api.queue.enqueued, []);
    });
  });
}

test('a push body that is not JSON is 400, one of another type 415', async (t) => {
  await withApi(t, async (api) => {
    const broken = await push(api, '{"orthancStudyId":');
    t.is(broken.status, 400);
    t.deepEqual(await broken.json(), {
      error: { code: 'invalid-argument', message: 'body: expected a JSON object' },
    });

    const form = await push(api, 'orthancStudyId=x', {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    t.is(form.status, 415);
    t.deepEqual(await form.json(), {
      error: { code: 'unsupported-media-type', message: 'Content-Type: expected application/json' },
    });

    const empty = await push(api, '');
    t.is(empty.status, 400);
    t.deepEqual(api.queue.enqueued, []);
  });
});

test('a push body over 64 KiB is 413', async (t) => {
  await withApi(t, async (api) => {
    const padded = JSON.stringify({ ...notice, padding: 'x'.repeat(MAX_JSON_BODY_BYTES) });
    const response = await push(api, padded);

    t.is(response.status, 413);
    t.deepEqual(await response.json(), {
      error: {
        code: 'limit-exceeded',
        message: `body: expected at most ${MAX_JSON_BODY_BYTES} bytes`,
      },
    });
    t.deepEqual(api.queue.enqueued, []);
  });
});

test('a push is logged by route pattern, without its body', async (t) => {
  await withApi(t, async (api) => {
    await push(api, JSON.stringify(notice));
    await push(api, JSON.stringify({ ...notice, studyInstanceUid: 'x' }));

    const requests = logRecords(api).filter((record) => record.event === 'api-request');
    t.deepEqual(
      requests.map(({ route, status }) => ({ route, status })),
      [
        { route: '/api/orthanc/stable-study', status: 202 },
        { route: '/api/orthanc/stable-study', status: 400 },
      ],
    );
  });
});
