import { request as httpRequest } from 'node:http';
import test from 'ava';
import Koa from 'koa';
import { listen } from '../../src/api/server.js';
import { API_TOKEN, bearer, logRecords, startApi } from './harness.js';

// An obviously fake identity.
const STUDY = '2.25.400000000000000000000000000000000001';

test('/healthz answers ok without a token', async (t) => {
  const api = await startApi(t);
  const response = await fetch(new URL('healthz', api.url));
  t.is(response.status, 200);
  t.deepEqual(await response.json(), { status: 'ok' });
});

test('/readyz is 200 when every check passes', async (t) => {
  const api = await startApi(t, {
    readiness: [
      { name: 'database', check: () => Promise.resolve() },
      { name: 'orthanc', check: () => Promise.resolve() },
    ],
  });
  const response = await fetch(new URL('readyz', api.url));
  t.is(response.status, 200);
  t.deepEqual(await response.json(), {
    status: 'ready',
    checks: { database: 'ok', orthanc: 'ok' },
  });
});

test('/readyz is 503 naming each failed or silent check and why', async (t) => {
  const api = await startApi(t, {
    readinessTimeoutMs: 200,
    readiness: [
      { name: 'database', check: () => Promise.resolve() },
      { name: 'orthanc', check: () => Promise.reject(new Error('Orthanc answered 503')) },
      { name: 'queue', check: () => new Promise<void>(() => undefined) },
    ],
  });
  const response = await fetch(new URL('readyz', api.url));

  t.is(response.status, 503);
  t.deepEqual(await response.json(), {
    status: 'not-ready',
    checks: {
      database: 'ok',
      orthanc: 'Orthanc answered 503',
      queue: 'no answer within 200 ms',
    },
  });
  t.deepEqual(
    logRecords(api)
      .filter((record) => record.event === 'api-not-ready')
      .map((record) => record.check),
    ['orthanc', 'queue'],
  );
});

test('/readyz runs its checks at the same time', async (t) => {
  // Each check waits for the other to have started: run one after the other, the first would
  // wait in vain and be reported as silent.
  let startA: () => void = () => undefined;
  let startB: () => void = () => undefined;
  const aStarted = new Promise<void>((resolve) => (startA = resolve));
  const bStarted = new Promise<void>((resolve) => (startB = resolve));
  const api = await startApi(t, {
    readinessTimeoutMs: 5000,
    readiness: [
      {
        name: 'a',
        check: async () => {
          startA();
          await bStarted;
        },
      },
      {
        name: 'b',
        check: async () => {
          startB();
          await aStarted;
        },
      },
    ],
  });
  const response = await fetch(new URL('readyz', api.url));
  t.is(response.status, 200);
  t.deepEqual(await response.json(), { status: 'ready', checks: { a: 'ok', b: 'ok' } });
});

test('/metrics serves every jointspace metric and the counts so far', async (t) => {
  const api = await startApi(t);
  api.metrics.jobFinished('succeeded');
  api.metrics.jobFinished('failed-transient');
  api.metrics.jobFinished('succeeded');
  api.metrics.imageFinished('refused');
  api.metrics.intake('poll');
  api.metrics.observeStage('grade', 0.2);
  api.metrics.observeStage('total', 1.5);
  await api.queue.enqueue({ studyInstanceUid: STUDY, source: 'poll', force: false });

  const response = await fetch(new URL('metrics', api.url));
  const text = await response.text();

  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  for (const line of [
    'jointspace_jobs_total{outcome="succeeded"} 2',
    'jointspace_jobs_total{outcome="failed-transient"} 1',
    'jointspace_jobs_total{outcome="failed-permanent"} 0',
    'jointspace_jobs_total{outcome="skipped"} 0',
    'jointspace_images_total{outcome="refused"} 1',
    'jointspace_images_total{outcome="graded"} 0',
    'jointspace_intake_events_total{source="poll"} 1',
    'jointspace_intake_events_total{source="push"} 0',
    'jointspace_stage_duration_seconds_bucket{le="0.25",stage="grade"} 1',
    'jointspace_stage_duration_seconds_count{stage="total"} 1',
    'jointspace_stage_duration_seconds_count{stage="fetch"} 0',
    'jointspace_queue_depth 1',
  ]) {
    t.true(text.split('\n').includes(line), line);
  }
  t.regex(text, /^process_cpu_user_seconds_total /m, 'default process metrics');
});

test('a failing queue depth does not fail the scrape', async (t) => {
  const api = await startApi(t);
  api.metrics.setQueueDepthSource(() => Promise.reject(new Error('queue down')));
  const response = await fetch(new URL('metrics', api.url));
  t.is(response.status, 200);
  t.regex(await response.text(), /^jointspace_queue_depth nan$/im);
});

test('each app counts in its own registry', async (t) => {
  const first = await startApi(t);
  const second = await startApi(t);
  first.metrics.intake('push');
  t.regex(await second.metrics.render(), /^jointspace_intake_events_total\{source="push"\} 0$/m);
});

test('every answer carries a request id: a sane incoming one, else a new one', async (t) => {
  const api = await startApi(t);
  const get = (id?: string) =>
    fetch(new URL('healthz', api.url), { headers: id === undefined ? {} : { 'X-Request-Id': id } });

  t.is((await get('trace-42.a_b')).headers.get('x-request-id'), 'trace-42.a_b');
  const generated = (await get()).headers.get('x-request-id') ?? '';
  t.regex(generated, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  for (const insane of ['a'.repeat(65), 'has space', 'quote"d', STUDY]) {
    const answered = (await get(insane)).headers.get('x-request-id') ?? '';
    t.not(answered, insane);
    t.regex(answered, /^[0-9a-f-]{36}$/);
  }
  t.false(api.logLines.join('\n').includes(STUDY), 'a UID-like request id is not logged');
});

test('an unknown path is a JSON 404, a known path with another method a JSON 405', async (t) => {
  const api = await startApi(t);
  const missing = await fetch(new URL('api/nothing-here', api.url));
  t.is(missing.status, 404);
  t.deepEqual(await missing.json(), { error: { code: 'not-found', message: 'no such route' } });

  const wrongMethod = await fetch(new URL('healthz', api.url), { method: 'DELETE' });
  t.is(wrongMethod.status, 405);
  t.is(wrongMethod.headers.get('allow'), 'HEAD, GET');
  t.deepEqual(await wrongMethod.json(), {
    error: { code: 'method-not-allowed', message: 'DELETE is not allowed here' },
  });

  const request = logRecords(api).find((record) => record.event === 'api-request');
  t.is(request?.route, null, 'an unmatched path is not logged');
});

test('an unexpected error is a 500 with no detail, logged by name without its message', async (t) => {
  const api = await startApi(t, {
    store: {
      getStudyReport: () =>
        Promise.reject(
          Object.assign(new TypeError(`database choked on ${STUDY}`), { code: 'XX000' }),
        ),
    },
  });
  const response = await fetch(new URL(`api/studies/${STUDY}`, api.url), {
    headers: { ...bearer(API_TOKEN), 'X-Request-Id': 'trace-500' },
  });

  t.is(response.status, 500);
  t.deepEqual(await response.json(), { error: { code: 'internal', message: 'internal error' } });
  const error = logRecords(api).find((record) => record.event === 'api-error');
  t.like(error, {
    level: 'error',
    requestId: 'trace-500',
    route: '/api/studies/:uid',
    errorName: 'TypeError',
    errorCode: 'XX000',
  });
  t.false(api.logLines.join('\n').includes(STUDY));
});

test('close ends idle keep-alive connections instead of waiting for them', async (t) => {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const server = await listen(app, '127.0.0.1', 0);
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= server.close());
  t.teardown(close);
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  const agentRequest = () =>
    new Promise<number>((resolve, reject) => {
      const request = httpRequest(server.url, { headers: { Connection: 'keep-alive' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      request.on('error', reject);
      request.end();
    });
  t.is(await agentRequest(), 200);

  const started = Date.now();
  await close();
  t.true(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
});
