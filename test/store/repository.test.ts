import test from 'ava';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { JointspaceError } from '../../src/errors.js';
import {
  createDataSource,
  migrate,
  migrations,
  MIGRATIONS_TABLE,
} from '../../src/store/data-source.js';
import { derivePatientKey, Store } from '../../src/store/repository.js';
import { usePostgres } from '../helpers/postgres.js';

const database = usePostgres(test);
let dataSource: DataSource | undefined;
let store: Store | undefined;
let firstMigrations: string[] = [];

// Obviously fake identities; UIDs under the 2.25 (UUID-derived) root.
const STUDY = '2.25.100000000000000000000000000000000001';
const SERIES = '2.25.100000000000000000000000000000000002';
const IMAGE = '2.25.100000000000000000000000000000000003';
const SECOND_IMAGE = '2.25.100000000000000000000000000000000004';
const SECRET = 'test-secret-not-for-production';
const MODEL = 'kl-grade-test@1';

const probabilities = (grade: number) => [0, 1, 2, 3, 4].map((k) => (k === grade ? 0.6 : 0.1));

test.before(async () => {
  const { url } = await database();
  dataSource = createDataSource({ url, poolSize: 2 });
  await dataSource.initialize();
  firstMigrations = await migrate(dataSource);
  store = new Store(dataSource);
});

test.after.always(async () => {
  await dataSource?.destroy();
});

interface Counts {
  images: number;
  results: number;
  problems: number;
  jobs: number;
}

function ready(): { dataSource: DataSource; store: Store } {
  if (dataSource === undefined || store === undefined) throw new Error('database not ready');
  return { dataSource, store };
}

test.serial(
  'migrations create every table on an empty database, and a second run does nothing',
  async (t) => {
    const { dataSource } = ready();
    const names = migrations.map((migration) => new migration().name);
    t.is(names[0], 'InitialSchema1764806400000');
    t.deepEqual(firstMigrations, names);
    t.deepEqual(await migrate(dataSource), []);

    for (let undone = 0; undone < names.length; undone++) {
      await dataSource.undoLastMigration({ transaction: 'each' });
    }
    const left: { count: number }[] = await dataSource.query(
      `SELECT count(*)::int AS count FROM information_schema.tables
      WHERE table_schema = 'public' AND table_name <> $1`,
      [MIGRATIONS_TABLE],
    );
    t.deepEqual(left, [{ count: 0 }], 'down() removes every table');
    t.deepEqual(await migrate(dataSource), names);

    const tables: { table_name: string }[] = await dataSource.query(
      `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' ORDER BY table_name`,
    );
    t.deepEqual(
      tables.map((row) => row.table_name),
      [
        'audit_entries',
        'care_plans',
        'images',
        'intake_cursors',
        'job_records',
        MIGRATIONS_TABLE,
        'problems',
        'results',
        'studies',
      ],
    );
  },
);

test.serial('a study graded on both knees reports both, probabilities summing to 1', async (t) => {
  const { store } = ready();
  const patientKey = derivePatientKey(SECRET, 'TEST-ISSUER', 'FAKE-0001');
  await store.upsertStudy(STUDY, patientKey);
  await store.setStudyStatus(STUDY, 'processing');
  await store.recordImage({
    studyInstanceUid: STUDY,
    sopInstanceUid: IMAGE,
    seriesInstanceUid: SERIES,
    laterality: 'B',
    view: 'PA',
    kneeCheck: { verdict: 'accepted', reason: 'looks like a knee radiograph', score: 0.93 },
    status: 'graded',
  });
  for (const [laterality, grade] of [
    ['R', 2],
    ['L', 3],
  ] as const) {
    await store.saveResult({
      sopInstanceUid: IMAGE,
      laterality,
      klGrade: grade,
      probabilities: probabilities(grade),
      confidence: 0.6,
      modelId: MODEL,
      timings: { fetchMs: 12, decodeMs: 30, inferMs: 85, writeMs: 7 },
    });
  }
  await store.setStudyStatus(STUDY, 'graded');

  const report = await store.getStudyReport(STUDY);

  t.is(report?.status, 'graded');
  t.deepEqual(
    report?.knees.map((knee) => [knee.laterality, knee.klGrade, knee.modelId]),
    [
      ['L', 3, MODEL],
      ['R', 2, MODEL],
    ],
  );
  for (const knee of report?.knees ?? []) {
    const sum = knee.probabilities.reduce((total, p) => total + p, 0);
    t.true(Math.abs(sum - 1) < 1e-9, `${knee.laterality}: probabilities sum to ${sum}`);
  }
  t.deepEqual(report?.refusals, []);
  t.is(await store.getStudyReport('2.25.999'), undefined);
});

test.serial('saving the same image, model and knee twice leaves one row, the latest', async (t) => {
  const { dataSource, store } = ready();
  const result = {
    sopInstanceUid: IMAGE,
    laterality: 'R' as const,
    probabilities: probabilities(1),
    confidence: 0.6,
    modelId: MODEL,
  };

  await store.saveResult({ ...result, klGrade: 1 });
  await store.saveResult({ ...result, klGrade: 1, timings: { inferMs: 90 } });

  const rows: { kl_grade: number; timings: unknown }[] = await dataSource.query(
    `SELECT r.kl_grade, r.timings FROM results r JOIN images i ON i.id = r.image_id
      WHERE i.sop_instance_uid = $1 AND r.model_id = $2 AND r.laterality = 'R'`,
    [IMAGE, MODEL],
  );
  t.deepEqual(rows, [{ kl_grade: 1, timings: { inferMs: 90 } }]);
});

test.serial('grade 5 is rejected by the CHECK constraint, naming it', async (t) => {
  const { dataSource, store } = ready();

  const error = await t.throwsAsync(
    store.saveResult({
      sopInstanceUid: IMAGE,
      laterality: 'L',
      klGrade: 5,
      probabilities: probabilities(4),
      confidence: 0.6,
      modelId: 'kl-grade-test@2',
    }),
    { instanceOf: JointspaceError },
  );
  t.is(error.code, 'invalid-argument');
  t.regex(error.message, /constraint results_kl_grade_range violated/);

  // The database itself refuses, whatever client writes.
  const raw = await t.throwsAsync(
    dataSource.query(
      `INSERT INTO results (image_id, laterality, kl_grade, probabilities, confidence, model_id)
       SELECT id, 'L', 5, '[0.2, 0.2, 0.2, 0.2, 0.2]', 0.2, 'raw' FROM images LIMIT 1`,
    ),
  );
  t.regex(raw.message, /results_kl_grade_range/);
});

test.serial(
  'refusals, errors, job attempts and audit entries are recorded and listed',
  async (t) => {
    const { store } = ready();
    await store.recordImage({
      studyInstanceUid: STUDY,
      sopInstanceUid: SECOND_IMAGE,
      seriesInstanceUid: SERIES,
      kneeCheck: { verdict: 'refused', reason: 'not a knee radiograph (score 0.04)', score: 0.04 },
      status: 'refused',
    });
    await store.recordProblem({
      studyInstanceUid: STUDY,
      sopInstanceUid: SECOND_IMAGE,
      kind: 'refusal',
      code: 'not-a-knee-radiograph',
      reason: 'not a knee radiograph (score 0.04)',
      permanent: true,
    });
    await store.recordProblem({
      studyInstanceUid: STUDY,
      kind: 'error',
      code: 'pacs-unavailable',
      reason: 'PACS did not answer within 30 s',
      permanent: false,
    });
    const started = new Date('2026-01-01T10:00:00Z');
    await store.recordJob({
      jobId: 'job-1',
      studyInstanceUid: STUDY,
      kind: 'grade-study',
      attempt: 1,
      outcome: 'retrying',
      error: { code: 'pacs-unavailable', message: 'PACS did not answer within 30 s' },
      workerId: 'worker-a',
      startedAt: started,
      finishedAt: new Date(started.getTime() + 30_000),
    });
    await store.recordJob({
      jobId: 'job-1',
      studyInstanceUid: STUDY,
      kind: 'grade-study',
      attempt: 2,
      outcome: 'succeeded',
      workerId: 'worker-b',
      startedAt: new Date(started.getTime() + 60_000),
      finishedAt: new Date(started.getTime() + 65_000),
    });
    await store.recordAudit({
      studyInstanceUid: STUDY,
      objectKind: 'sr',
      objectId: '2.25.100000000000000000000000000000000005',
      destination: 'http://user:secret@pacs.invalid:8042/dicom-web/studies?token=abc',
      action: 'stored',
    });
    await store.recordAudit({
      studyInstanceUid: STUDY,
      objectKind: 'fhir-DiagnosticReport',
      objectId: 'DiagnosticReport/knee-oa-1',
      destination: 'https://fhir.invalid/fhir/',
      action: 'replaced',
    });

    const problems = await store.listProblems(STUDY);
    t.deepEqual(
      problems.map((p) => [p.scope, p.kind, p.code, p.sopInstanceUid, p.permanent]),
      [
        ['image', 'refusal', 'not-a-knee-radiograph', SECOND_IMAGE, true],
        ['study', 'error', 'pacs-unavailable', null, false],
      ],
    );
    const report = await store.getStudyReport(STUDY);
    t.deepEqual(report?.refusals, [
      { sopInstanceUid: SECOND_IMAGE, reason: 'not a knee radiograph (score 0.04)' },
    ]);
    t.deepEqual(report?.errors, [
      { code: 'pacs-unavailable', reason: 'PACS did not answer within 30 s' },
    ]);

    // A new attempt starts with a clean report; the history stays in the table.
    await store.beginAttempt(STUDY);
    const fresh = await store.getStudyReport(STUDY);
    t.deepEqual(fresh?.refusals, []);
    t.deepEqual(fresh?.errors, []);
    t.is(fresh?.status, 'processing');
    t.is((await store.listProblems(STUDY)).length, 2);

    const jobs = await store.listJobs(STUDY);
    t.deepEqual(
      jobs.map((job) => [job.attempt, job.outcome, job.errorCode, job.workerId]),
      [
        [1, 'retrying', 'pacs-unavailable', 'worker-a'],
        [2, 'succeeded', null, 'worker-b'],
      ],
    );

    const audit = await store.listAudit(STUDY);
    t.deepEqual(
      audit.map((entry) => [entry.objectKind, entry.action, entry.destination]),
      [
        ['sr', 'stored', 'http://pacs.invalid:8042/dicom-web/studies'],
        ['fhir-DiagnosticReport', 'replaced', 'https://fhir.invalid/fhir/'],
      ],
    );
  },
);

test.serial(
  'objects written in one statement: stored the first time, replaced after',
  async (t) => {
    const { store } = ready();
    const study = '2.25.100000000000000000000000000000000077';
    await store.upsertStudy(study);
    const objects = [
      { kind: 'sr' as const, id: '2.25.100000000000000000000000000000000078' },
      { kind: 'overlay' as const, id: '2.25.100000000000000000000000000000000079' },
    ];
    await store.recordWrites(study, 'http://user:pw@pacs.invalid/dicom-web/', objects);
    await store.recordWrites(study, 'http://pacs.invalid/dicom-web/', objects.slice(0, 1));
    const audit = await store.listAudit(study);
    // Rows of one statement share their time, so their order is not defined: compare as sets.
    t.deepEqual(
      audit.map((entry) => `${entry.objectKind} ${entry.action} ${entry.destination}`).sort(),
      [
        'overlay stored http://pacs.invalid/dicom-web/',
        'sr replaced http://pacs.invalid/dicom-web/',
        'sr stored http://pacs.invalid/dicom-web/',
      ],
    );
    await t.throwsAsync(store.recordWrites('2.25.123', 'http://pacs.invalid/', objects), {
      message: /no study/,
    });
  },
);

test.serial(
  'a study with audit entries cannot be deleted; its other rows go with it',
  async (t) => {
    const { dataSource } = ready();
    await t.throwsAsync(
      dataSource.query('DELETE FROM studies WHERE study_instance_uid = $1', [STUDY]),
      {
        message: /audit_entries/,
      },
    );

    await dataSource.query('DELETE FROM audit_entries');
    await dataSource.query('DELETE FROM studies WHERE study_instance_uid = $1', [STUDY]);
    const [counts] = await dataSource.query<Counts[]>(
      `SELECT (SELECT count(*) FROM images)::int AS images,
            (SELECT count(*) FROM results)::int AS results,
            (SELECT count(*) FROM problems)::int AS problems,
            (SELECT count(*) FROM job_records)::int AS jobs`,
    );
    t.deepEqual(counts, { images: 0, results: 0, problems: 0, jobs: 2 });
  },
);

test('no column is named for a patient name, identifier, birth date or accession number', async (t) => {
  const { url } = await database();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> $1`,
      [MIGRATIONS_TABLE],
    );
    t.true(rows.length > 30);
    const identifying = rows.filter(
      (row) =>
        /patient|name|birth|accession|sex|address|phone/i.test(row.column_name) &&
        // The name of an intake feed, such as 'orthanc-changes'.
        !(row.table_name === 'intake_cursors' && row.column_name === 'name'),
    );
    // The two patient columns hold HMACs (their CHECKs allow 64 hex digits only).
    t.deepEqual(
      identifying.sort((a, b) => a.table_name.localeCompare(b.table_name)),
      [
        { table_name: 'care_plans', column_name: 'fhir_patient_key' },
        { table_name: 'studies', column_name: 'patient_key' },
      ],
    );
  } finally {
    await client.end();
  }
});

test('the patient key is a keyed hash: stable, secret-dependent, not the identifier', (t) => {
  const key = derivePatientKey(SECRET, 'TEST-ISSUER', 'FAKE-0001');

  t.regex(key, /^[0-9a-f]{64}$/);
  t.is(derivePatientKey(SECRET, 'TEST-ISSUER', 'FAKE-0001'), key);
  t.not(derivePatientKey(`${SECRET}-other`, 'TEST-ISSUER', 'FAKE-0001'), key);
  t.not(derivePatientKey(SECRET, 'TEST-ISSUE', 'RFAKE-0001'), key);
  t.throws(() => derivePatientKey('short', 'TEST-ISSUER', 'FAKE-0001'), {
    instanceOf: JointspaceError,
  });
});
