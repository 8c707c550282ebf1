/**
 * The operator console's API routes and static files, over a real PostgreSQL store and a
 * stand-in PACS that records what it is asked: authentication, the worklist's paging, filter
 * and counts, names from the PACS (and the answer without them when it is down or slow), the
 * job history, thumbnails only of recorded overlays, the model, and the console's files.
 */
import test from 'ava';
import { request as httpRequest } from 'node:http';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { DataSource } from 'typeorm';
import type { ConsoleDependencies } from '../../src/api/console.js';
import type { InstanceReference, InstanceSearch, SearchQuery } from '../../src/dicomweb/client.js';
import type { DicomJsonDataset } from '../../src/dicomweb/json.js';
import { JointspaceError } from '../../src/errors.js';
import { createDataSource, migrate } from '../../src/store/data-source.js';
import { Store } from '../../src/store/repository.js';
import { Worklist } from '../../src/store/worklist.js';
import { imageElements, writeDicom } from '../imaging/dicom-writer.js';
import { repoRoot } from '../helpers/paths.js';
import { usePostgres } from '../helpers/postgres.js';
import { API_TOKEN, bearer, logRecords, startApi, type TestApi } from './harness.js';

const database = usePostgres(test);
let dataSource: DataSource | undefined;
let store: Store | undefined;

// Obviously fake identities; UIDs under the 2.25 (UUID-derived) root.
const uid = (n: number) => `2.25.300000000000000000000000000000000${String(n).padStart(3, '0')}`;
const GRADED = uid(1);
const REFUSED = uid(2);
const FAILED = uid(3);
const WAITING = uid(4);
const PROCESSING = uid(5);
const SERIES = uid(10);
const KNEE_IMAGE = uid(11);
const CHEST_IMAGE = uid(12);
const OVERLAY = uid(20);
const OVERLAY_SERIES = uid(21);
/** In the PACS and in the graded study, but never recorded as written by jointspace. */
const FOREIGN_IMAGE = uid(22);
const UNKNOWN_STUDY = uid(99);
const SEEDED = [GRADED, REFUSED, FAILED, WAITING, PROCESSING];
const MODEL_DIR = `${repoRoot}models/knee-kl`;
const PACS_URL = 'http://127.0.0.1:1/dicom-web/';

const PATIENTS: Record<string, { name: string; id: string }> = {
  [GRADED]: { name: 'Console^Test^One', id: 'JS-CONSOLE-1' },
  [REFUSED]: { name: '<b>Console</b>^Markup', id: 'JS-CONSOLE-2' },
};

function overlayBytes(): Uint8Array {
  const rows = 200;
  const columns = 300;
  const pixels = new Uint8Array(rows * columns);
  for (let i = 0; i < pixels.length; i++)
    pixels[i] = Math.round(((i % columns) * 255) / (columns - 1));
  return writeDicom([
    ...imageElements({
      rows,
      columns,
      bitsAllocated: 8,
      extra: [
        { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
        { tag: 0x00080018, vr: 'UI', value: OVERLAY },
        { tag: 0x00080060, vr: 'CS', value: 'OT' },
      ],
    }),
    { tag: 0x7fe00010, vr: 'OB', value: pixels },
  ]);
}

type Pacs = ConsoleDependencies['pacs'];

/** A PACS answering from memory; `mode` makes it fail or hang. Records each call. */
class StubPacs implements Pacs {
  mode: 'ok' | 'down' | 'slow' = 'ok';
  readonly calls: string[] = [];
  private readonly overlay = overlayBytes();

  private async gate(): Promise<void> {
    if (this.mode === 'down') {
      throw new JointspaceError('pacs-unavailable', 'stub PACS is down', { status: 502 });
    }
    if (this.mode === 'slow') await new Promise((resolve) => setTimeout(resolve, 2000));
  }

  async searchForStudies(query: SearchQuery = {}): Promise<DicomJsonDataset[]> {
    this.calls.push('searchForStudies');
    await this.gate();
    const wanted = (query.match?.StudyInstanceUID ?? '').split(',');
    return wanted.flatMap((study) => {
      const patient = PATIENTS[study];
      if (patient === undefined) return [];
      return [
        {
          '0020000D': { vr: 'UI', Value: [study] },
          '00100010': { vr: 'PN', Value: [{ Alphabetic: patient.name }] },
          '00100020': { vr: 'LO', Value: [patient.id] },
        },
      ];
    });
  }

  async searchForInstances(query: InstanceSearch = {}): Promise<DicomJsonDataset[]> {
    this.calls.push('searchForInstances');
    await this.gate();
    if (query.studyInstanceUid !== GRADED) return [];
    const all: DicomJsonDataset[] = [
      {
        '00080018': { vr: 'UI', Value: [OVERLAY] },
        '0020000E': { vr: 'UI', Value: [OVERLAY_SERIES] },
        '00200062': { vr: 'CS', Value: ['R'] },
      },
      {
        '00080018': { vr: 'UI', Value: [FOREIGN_IMAGE] },
        '0020000E': { vr: 'UI', Value: [SERIES] },
      },
    ];
    const sop = query.match?.SOPInstanceUID;
    return sop === undefined
      ? all
      : all.filter((dataset) => dataset['00080018']?.Value?.[0] === sop);
  }

  async retrieveInstance(reference: InstanceReference): Promise<Uint8Array> {
    this.calls.push(`retrieveInstance ${reference.sopInstanceUid}`);
    await this.gate();
    if (reference.sopInstanceUid === OVERLAY && reference.seriesInstanceUid === OVERLAY_SERIES) {
      return this.overlay;
    }
    if (reference.sopInstanceUid === FOREIGN_IMAGE) return this.overlay;
    throw new JointspaceError('pacs-rejected', 'no such instance', { status: 404 });
  }
}

const probabilities = (grade: number) => [0, 1, 2, 3, 4].map((k) => (k === grade ? 0.6 : 0.1));

test.before(async () => {
  const { url } = await database();
  dataSource = createDataSource({ url, poolSize: 2 });
  await dataSource.initialize();
  await migrate(dataSource);
  store = new Store(dataSource);

  // Received in this order, one by one, so that newest first is the reverse.
  for (const study of SEEDED) await store.upsertStudy(study);

  await store.beginAttempt(GRADED);
  await store.recordImage({
    studyInstanceUid: GRADED,
    sopInstanceUid: KNEE_IMAGE,
    seriesInstanceUid: SERIES,
    laterality: 'B',
    status: 'graded',
  });
  for (const [laterality, grade] of [
    ['R', 2],
    ['L', 3],
  ] as const) {
    await store.saveResult({
      sopInstanceUid: KNEE_IMAGE,
      laterality,
      klGrade: grade,
      probabilities: probabilities(grade),
      confidence: 0.6,
      modelId: 'kl-grade-test@1',
    });
  }
  await store.recordImage({
    studyInstanceUid: GRADED,
    sopInstanceUid: CHEST_IMAGE,
    seriesInstanceUid: SERIES,
    status: 'refused',
  });
  await store.recordProblem({
    studyInstanceUid: GRADED,
    sopInstanceUid: CHEST_IMAGE,
    kind: 'refusal',
    code: 'not-a-knee-radiograph',
    reason: 'not a knee radiograph',
    permanent: true,
  });
  await store.recordWrites(GRADED, PACS_URL, [{ kind: 'overlay', id: OVERLAY }]);
  await store.recordWrites(GRADED, PACS_URL, [{ kind: 'overlay', id: OVERLAY }]);
  await store.finishAttempt(GRADED, 'graded', 'a'.repeat(64));
  const started = new Date('2026-01-02T10:00:00.000Z');
  await store.recordJob({
    jobId: 'job-graded-1',
    studyInstanceUid: GRADED,
    kind: 'grade-study',
    attempt: 1,
    outcome: 'retrying',
    error: { code: 'pacs-unavailable', message: 'the PACS did not answer' },
    workerId: 'test:1',
    startedAt: started,
    finishedAt: new Date(started.getTime() + 500),
  });
  await store.recordJob({
    jobId: 'job-graded-1',
    studyInstanceUid: GRADED,
    kind: 'grade-study',
    attempt: 2,
    outcome: 'succeeded',
    workerId: 'test:1',
    startedAt: new Date(started.getTime() + 2000),
    finishedAt: new Date(started.getTime() + 3250),
  });

  await store.beginAttempt(REFUSED);
  await store.recordProblem({
    studyInstanceUid: REFUSED,
    kind: 'refusal',
    code: 'not-a-knee-radiograph',
    reason: 'no knee radiograph in the study',
    permanent: true,
  });
  await store.finishAttempt(REFUSED, 'refused', null);
  await store.setStudyStatus(FAILED, 'failed');
  await store.setStudyStatus(PROCESSING, 'processing');
});

test.after.always(async () => {
  await dataSource?.destroy();
});

function consoleDeps(pacs: StubPacs, pacsTimeoutMs = 1000): ConsoleDependencies {
  if (dataSource === undefined) throw new Error('setup did not finish');
  return { worklist: new Worklist(dataSource), pacs, modelDirectory: MODEL_DIR, pacsTimeoutMs };
}

async function get(api: TestApi, path: string, token: string | null = API_TOKEN) {
  return fetch(new URL(path, api.url), { headers: token === null ? {} : bearer(token) });
}

interface WorklistBody {
  studies: {
    studyInstanceUid: string;
    status: string;
    receivedAt: string;
    latestJob: { jobId: string; outcome: string; durationMs: number | null } | null;
    jobs: number;
    kneesGraded: number;
    refusals: number;
    errors: number;
    patientName: string | null;
    patientId: string | null;
  }[];
  nextCursor: string | null;
  patientDetails: { available: boolean; reason: string | null };
}

async function worklist(api: TestApi, query: string): Promise<WorklistBody> {
  const response = await get(api, `api/studies${query}`);
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  return (await response.json()) as WorklistBody;
}

const ROUTES = [
  'api/studies',
  `api/studies/${GRADED}/jobs`,
  `api/studies/${GRADED}/overlays`,
  `api/studies/${GRADED}/overlays/${OVERLAY}/thumbnail`,
  'api/model',
];

test('every console route wants an API token and refuses a wrong one', async (t) => {
  const pacs = new StubPacs();
  const api = await startApi(t, { console: consoleDeps(pacs) });
  for (const path of ROUTES) {
    for (const token of [null, 'not-a-token-we-know-0000', 'test-webhook-secret-0123456789']) {
      const response = await get(api, path, token);
      t.is(response.status, 401, `${path} with ${token ?? 'no token'}`);
      t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer/);
      await response.body?.cancel();
    }
  }
  t.deepEqual(pacs.calls, [], 'the PACS is not asked for an unauthenticated caller');
});

test('the worklist lists every study newest first, with counts, timings and names', async (t) => {
  const pacs = new StubPacs();
  const api = await startApi(t, { console: consoleDeps(pacs) });
  const body = await worklist(api, '');

  t.deepEqual(
    body.studies.map((study) => study.studyInstanceUid),
    [...SEEDED].reverse(),
  );
  t.is(body.nextCursor, null);
  t.deepEqual(body.patientDetails, { available: true, reason: null });
  const received = body.studies.map((study) => Date.parse(study.receivedAt));
  t.deepEqual(
    received,
    [...received].sort((a, b) => b - a),
  );

  const graded = body.studies.find((study) => study.studyInstanceUid === GRADED);
  t.like(graded, {
    status: 'graded',
    kneesGraded: 2,
    refusals: 1,
    errors: 0,
    jobs: 1,
    patientName: 'Console^Test^One',
    patientId: 'JS-CONSOLE-1',
    latestJob: { jobId: 'job-graded-1', outcome: 'succeeded', durationMs: 1250 },
  });
  const refused = body.studies.find((study) => study.studyInstanceUid === REFUSED);
  t.like(refused, { status: 'refused', kneesGraded: 0, refusals: 1, jobs: 0, latestJob: null });
  t.is(refused?.patientName, '<b>Console</b>^Markup', 'names are passed on as stored');
  const waiting = body.studies.find((study) => study.studyInstanceUid === WAITING);
  t.like(waiting, { status: 'received', patientName: null, patientId: null });
  t.deepEqual(pacs.calls, ['searchForStudies'], 'one PACS search for the page');

  // Names never reach the log.
  const log = api.logLines.join('\n');
  t.false(log.includes('Console^Test'));
  t.false(log.includes('JS-CONSOLE'));
});

test('the worklist pages with limit and cursor, and filters by status', async (t) => {
  const api = await startApi(t, { console: consoleDeps(new StubPacs()) });
  const all = (await worklist(api, '?limit=200')).studies.map((study) => study.studyInstanceUid);

  const paged: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
    const page = await worklist(api, query);
    t.true(page.studies.length <= 2);
    paged.push(...page.studies.map((study) => study.studyInstanceUid));
    cursor = page.nextCursor;
    pages++;
  } while (cursor !== null && pages < 10);
  t.is(pages, 3);
  t.deepEqual(paged, all);

  const graded = await worklist(api, '?status=graded');
  t.deepEqual(
    graded.studies.map((study) => study.studyInstanceUid),
    [GRADED],
  );
  const processing = await worklist(api, '?status=processing&limit=1');
  t.deepEqual(
    processing.studies.map((study) => study.studyInstanceUid),
    [PROCESSING],
  );
  t.is(processing.nextCursor, null);
});

test('bad worklist parameters are answered 400, naming the parameter', async (t) => {
  const pacs = new StubPacs();
  const api = await startApi(t, { console: consoleDeps(pacs) });
  const cases: [string, string][] = [
    ['?limit=0', 'limit'],
    ['?limit=201', 'limit'],
    ['?limit=ten', 'limit'],
    ['?limit=5&limit=6', 'limit'],
    ['?status=lost', 'status'],
    ['?status=', 'status'],
    ['?cursor=not-a-cursor', 'cursor'],
    [`?cursor=${Buffer.from('["yesterday","x"]').toString('base64url')}`, 'cursor'],
    ['?cursor=%27%3B%20DROP', 'cursor'],
  ];
  for (const [query, parameter] of cases) {
    const response = await get(api, `api/studies${query}`);
    t.is(response.status, 400, query);
    const body = (await response.json()) as { error: { code: string; message: string } };
    t.is(body.error.code, 'invalid-argument', query);
    t.true(body.error.message.startsWith(`${parameter}:`), `${query}: ${body.error.message}`);
  }
  t.deepEqual(pacs.calls, []);
});

test('without the PACS the worklist still answers, without names, and says why', async (t) => {
  for (const mode of ['down', 'slow'] as const) {
    const pacs = new StubPacs();
    pacs.mode = mode;
    const api = await startApi(t, { console: consoleDeps(pacs, 200) });
    const started = Date.now();
    const body = await worklist(api, '');
    t.true(Date.now() - started < 1500, `${mode}: answered without waiting for the PACS`);
    t.is(body.studies.length, SEEDED.length, mode);
    t.true(body.studies.every((study) => study.patientName === null && study.patientId === null));
    t.false(body.patientDetails.available);
    t.regex(
      body.patientDetails.reason ?? '',
      mode === 'down' ? /pacs-unavailable/ : /did not answer within 0\.2 s/,
    );
    const warnings = logRecords(api).filter((line) => line.event === 'console.pacs-failed');
    t.is(warnings.length, 1, mode);
  }
});

test('the job history lists every attempt, oldest first', async (t) => {
  const api = await startApi(t, { console: consoleDeps(new StubPacs()) });
  const response = await get(api, `api/studies/${GRADED}/jobs`);
  t.is(response.status, 200);
  const body = (await response.json()) as {
    studyInstanceUid: string;
    jobs: { jobId: string; attempt: number; outcome: string; errorCode: string | null }[];
  };
  t.is(body.studyInstanceUid, GRADED);
  t.deepEqual(
    body.jobs.map((job) => [job.jobId, job.attempt, job.outcome, job.errorCode]),
    [
      ['job-graded-1', 1, 'retrying', 'pacs-unavailable'],
      ['job-graded-1', 2, 'succeeded', null],
    ],
  );

  const empty = await get(api, `api/studies/${WAITING}/jobs`);
  t.deepEqual(((await empty.json()) as { jobs: unknown[] }).jobs, []);
  const unknown = await get(api, `api/studies/${UNKNOWN_STUDY}/jobs`);
  t.is(unknown.status, 404);
  await unknown.body?.cancel();
  const bad = await get(api, 'api/studies/not-a-uid/jobs');
  t.is(bad.status, 400);
  t.regex(((await bad.json()) as { error: { message: string } }).error.message, /^uid:/);
});

test('overlays are listed from the audit trail, with their laterality from the PACS', async (t) => {
  const api = await startApi(t, { console: consoleDeps(new StubPacs()) });
  const response = await get(api, `api/studies/${GRADED}/overlays`);
  t.is(response.status, 200);
  const body = (await response.json()) as {
    overlays: { sopInstanceUid: string; laterality: string | null; writes: number }[];
    pacs: { available: boolean };
  };
  t.deepEqual(
    body.overlays.map((o) => [o.sopInstanceUid, o.laterality, o.writes]),
    [[OVERLAY, 'R', 2]],
  );
  t.true(body.pacs.available);
  const none = await get(api, `api/studies/${REFUSED}/overlays`);
  t.deepEqual(((await none.json()) as { overlays: unknown[] }).overlays, []);
});

test('a thumbnail is made only of an overlay recorded for that study', async (t) => {
  const pacs = new StubPacs();
  const api = await startApi(t, { console: consoleDeps(pacs) });

  const response = await get(api, `api/studies/${GRADED}/overlays/${OVERLAY}/thumbnail`);
  t.is(response.status, 200);
  t.is(response.headers.get('content-type'), 'image/png');
  t.regex(response.headers.get('cache-control') ?? '', /no-store/);
  const png = Buffer.from(await response.arrayBuffer());
  const meta = await sharp(png).metadata();
  t.is(meta.format, 'png');
  t.deepEqual([meta.width, meta.height], [256, 171]);
  // The gradient survives: the left edge is dark, the right edge bright.
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  const row = info.width * 85;
  t.true((data[row + info.width - 2] ?? 0) - (data[row + 1] ?? 0) > 200);

  pacs.calls.length = 0;
  const refusedCases = [
    // In the PACS, in the study, but not written by jointspace.
    `api/studies/${GRADED}/overlays/${FOREIGN_IMAGE}/thumbnail`,
    // jointspace's overlay, asked for under another study.
    `api/studies/${REFUSED}/overlays/${OVERLAY}/thumbnail`,
    `api/studies/${UNKNOWN_STUDY}/overlays/${OVERLAY}/thumbnail`,
  ];
  for (const path of refusedCases) {
    const refused = await get(api, path);
    t.is(refused.status, 404, path);
    t.is(((await refused.json()) as { error: { code: string } }).error.code, 'not-found');
  }
  t.deepEqual(pacs.calls, [], 'nothing is fetched from the PACS for an unrecorded overlay');

  const bad = await get(api, `api/studies/${GRADED}/overlays/1.2.x/thumbnail`);
  t.is(bad.status, 400);
  t.regex(((await bad.json()) as { error: { message: string } }).error.message, /^sopInstanceUid:/);
});

test('the model route answers the manifest, the figures and the card as shipped', async (t) => {
  const api = await startApi(t, { console: consoleDeps(new StubPacs()) });
  const response = await get(api, 'api/model');
  t.is(response.status, 200);
  const body = (await response.json()) as {
    id: string;
    precision: string;
    manifest: { name: string; version: string };
    metrics: Record<string, unknown> | null;
    card: string | null;
  };
  const manifest = JSON.parse(await readFile(`${MODEL_DIR}/model.json`, 'utf8')) as {
    name: string;
    version: string;
  };
  t.is(body.id, `${manifest.name}@${manifest.version}`);
  t.is(body.precision, 'float32');
  t.deepEqual(body.manifest, manifest as unknown);
  t.deepEqual(
    body.metrics,
    JSON.parse(await readFile(`${MODEL_DIR}/metrics.json`, 'utf8')) as unknown,
  );
  t.is(body.card, await readFile(`${MODEL_DIR}/card.md`, 'utf8'));

  // A service running the int8 build names it, as its results do.
  const int8 = await startApi(t, {
    console: { ...consoleDeps(new StubPacs()), precision: 'int8' },
  });
  const quantised = (await (await get(int8, 'api/model')).json()) as typeof body;
  t.is(quantised.id, `${manifest.name}@${manifest.version}+int8`);
  t.is(quantised.precision, 'int8');

  const broken = await startApi(t, {
    console: { ...consoleDeps(new StubPacs()), modelDirectory: `${repoRoot}no-such-model` },
  });
  const missing = await get(broken, 'api/model');
  t.is(missing.status, 503);
  t.is(((await missing.json()) as { error: { code: string } }).error.code, 'model-unavailable');
});

test('without console dependencies the routes answer 503', async (t) => {
  const api = await startApi(t);
  for (const path of ROUTES) {
    const response = await get(api, path);
    t.is(response.status, 503, path);
    t.is(
      ((await response.json()) as { error: { code: string } }).error.code,
      'invalid-configuration',
    );
  }
});

/** A raw GET, so the path reaches the server exactly as written (fetch would normalise it). */
function rawGet(base: string, path: string) {
  const url = new URL(base);
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const request = httpRequest(
        { host: url.hostname, port: url.port, path, method: 'GET' },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
          );
        },
      );
      request.on('error', reject);
      request.end();
    },
  );
}

test('the console files are served without a token, under a strict CSP, and nothing else is', async (t) => {
  const api = await startApi(t);

  const page = await rawGet(api.url, '/console/');
  t.is(page.status, 200);
  t.regex(String(page.headers['content-type']), /^text\/html/);
  const csp = String(page.headers['content-security-policy']);
  t.regex(csp, /default-src 'none'/);
  t.regex(csp, /script-src 'self'(;|$)/);
  t.notRegex(csp, /unsafe-inline|unsafe-eval/);
  t.is(page.headers['x-content-type-options'], 'nosniff');
  t.regex(page.body, /<script type="module" src="console.js"><\/script>/);
  t.notRegex(page.body, /<script>|<style|style="|\son[a-z]+=/i, 'no inline script or style');

  const script = await rawGet(api.url, '/console/console.js');
  t.is(script.status, 200);
  t.regex(String(script.headers['content-type']), /^text\/javascript/);
  t.false(script.body.includes('innerHTML'), 'the script never parses server text as HTML');
  t.is((await rawGet(api.url, '/console/console.css')).status, 200);

  const redirect = await rawGet(api.url, '/console');
  t.is(redirect.status, 302);
  t.is(redirect.headers.location, '/console/');

  for (const path of [
    '/console/../package.json',
    '/console/%2e%2e/package.json',
    '/console/..%2fpackage.json',
    '/console/%2e%2e%2f%2e%2e%2fpackage.json',
    '/console/tsconfig.json',
    '/console/nope.js',
    '/console/console.js/',
    '/console//etc/passwd',
  ]) {
    const response = await rawGet(api.url, path);
    t.is(response.status, 404, path);
    t.false(response.body.includes('"name": "jointspace"'), path);
  }
  const post = await fetch(new URL('console/', api.url), { method: 'POST' });
  t.is(post.status, 405);
  await post.body?.cancel();
});
