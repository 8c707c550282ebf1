/**
 * Orthanc pushes, jointspace grades, the results appear in the study: real Orthanc with the
 * DICOMweb plugin and the shipped Lua script, real PostgreSQL, `jointspace serve` as its own
 * process with polling off, so the push is the only way in.
 */
import test from 'ava';
import pg from 'pg';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DicomWebClient } from '../../src/dicomweb/client.js';
import { usePushedService } from '../helpers/pushed-service.js';
import { kneeStudy, sampleInStudy, truncatedInstance, valPictures } from './studies.js';
import { upload, waitForStudy, writtenObjects } from './support.js';

const run = promisify(execFile);
const { orthanc, database, service: running } = await usePushedService(test);

async function query<T>(sql: string, values: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: (await database()).url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

test.serial(
  'a knee study sent to Orthanc gets one SR and one overlay, with no other action',
  async (t) => {
    const server = await orthanc();
    const [right, left] = await valPictures(3, 2);
    const study = await kneeStudy([
      { picture: right, laterality: 'R' },
      { picture: left, laterality: 'L' },
    ]);
    await upload(server, study);

    const result = await waitForStudy(running(), study.studyInstanceUid);
    t.is(result.status, 'graded');
    t.deepEqual(result.knees.map((knee) => knee.laterality).sort(), ['L', 'R']);
    for (const knee of result.knees) {
      t.true(Number.isInteger(knee.klGrade) && knee.klGrade >= 0 && knee.klGrade <= 4);
      t.is(knee.probabilities.length, 5);
      t.true(Math.abs(knee.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-3);
      t.is(knee.confidence, Math.max(...knee.probabilities));
    }
    t.deepEqual(result.refusals, []);

    const written = await writtenObjects(server, study.studyInstanceUid);
    t.is(written.reports.length, 1);
    t.is(written.overlays.length, 2);

    // What the PACS holds parses as an SR (dcmtk) and validates (dicom3tools).
    const client = new DicomWebClient({ url: server.dicomWebUrl });
    const srSeries = await client.searchForInstances({
      studyInstanceUid: study.studyInstanceUid,
      match: { SOPInstanceUID: written.reports[0] ?? '' },
      includeFields: ['SeriesInstanceUID'],
    });
    const seriesUid = (srSeries[0]?.['0020000E']?.Value?.[0] as string | undefined) ?? '';
    const bytes = await client.retrieveInstance({
      studyInstanceUid: study.studyInstanceUid,
      seriesInstanceUid: seriesUid,
      sopInstanceUid: written.reports[0] ?? '',
    });
    const dir = await mkdtemp(join(tmpdir(), 'jointspace-push-'));
    try {
      const file = join(dir, 'sr.dcm');
      await writeFile(file, bytes);
      const dump = await run('dsrdump', [file]);
      t.regex(dump.stdout, /Imaging Measurement Report/);
      // dciodvfy exits non-zero on warnings too; its findings are read from the output.
      const verify = await run('dciodvfy', [file]).catch((error: unknown) => {
        const output = error as { stdout?: string; stderr?: string };
        return { stdout: output.stdout ?? '', stderr: output.stderr ?? '' };
      });
      t.notRegex(`${verify.stdout}\n${verify.stderr}`, /^Error/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test.serial('its own writes do not start the study again', async (t) => {
  const server = await orthanc();
  const study = await kneeStudy([{ laterality: 'R' }]);
  await upload(server, study);
  await waitForStudy(running(), study.studyInstanceUid);
  // The SR and overlay make the study unstable again; Orthanc pushes it once more after its
  // stable age. That second job must end without grading or writing: the study's job history
  // shows two successful jobs, and its audit trail only the two first writes (a second run
  // would have added "replaced" entries).
  const uid = study.studyInstanceUid;
  const deadline = Date.now() + 60_000;
  let jobs = 0;
  while (jobs < 2 && Date.now() < deadline) {
    jobs = Number(
      (
        await query<{ n: string }>(
          `SELECT count(DISTINCT job_id) AS n FROM job_records
            WHERE study_instance_uid = $1 AND outcome = 'succeeded'`,
          [uid],
        )
      )[0]?.n ?? 0,
    );
    if (jobs < 2) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  t.is(jobs, 2, 'the stable event of its own writes reached jointspace as a second job');
  const audit = await query<{ object_kind: string; action: string }>(
    `SELECT a.object_kind, a.action FROM audit_entries a
       JOIN studies s ON s.id = a.study_id WHERE s.study_instance_uid = $1
      ORDER BY a.object_kind`,
    [uid],
  );
  t.deepEqual(audit, [
    { object_kind: 'overlay', action: 'stored' },
    { object_kind: 'sr', action: 'stored' },
  ]);
  const written = await writtenObjects(server, uid);
  t.is(written.reports.length, 1);
  t.is(written.overlays.length, 1);
});

test.serial(
  'a study mixing a knee with broken and non-knee files: the knee is graded, each other file refused with its reason',
  async (t) => {
    const server = await orthanc();
    const study = await kneeStudy([{ laterality: 'L' }]);
    study.instances.push(truncatedInstance(study));
    study.instances.push(await sampleInStudy('cr-chest-mono1-jpeg-baseline.dcm', study));
    study.instances.push(await sampleInStudy('mr-knee.dcm', study));
    await upload(server, study);

    const result = await waitForStudy(running(), study.studyInstanceUid);
    t.is(result.status, 'graded');
    t.deepEqual(
      result.knees.map((knee) => knee.laterality),
      ['L'],
    );
    t.is(result.refusals.length, 3);
    const reasonOf = (index: number) =>
      result.refusals.find((r) => r.sopInstanceUid === study.instances[index]?.sopInstanceUid)
        ?.reason ?? '';
    t.regex(reasonOf(1), /cannot be read/);
    t.regex(reasonOf(2), /CHEST|not .*knee/i);
    t.regex(reasonOf(3), /MR|magnetic/);
    const written = await writtenObjects(server, study.studyInstanceUid);
    t.is(written.reports.length, 1);
    t.is(written.overlays.length, 1);
  },
);

test.serial('the push endpoint refuses a wrong secret', async (t) => {
  const response = await fetch(new URL('api/orthanc/stable-study', running().url), {
    method: 'POST',
    headers: { authorization: 'Bearer not-the-secret-at-all', 'content-type': 'application/json' },
    body: JSON.stringify({ orthancStudyId: 'x', studyInstanceUid: '1.2.3' }),
  });
  t.is(response.status, 401);
});

test.serial('no patient data in the service log', (t) => {
  const text = running().output();
  t.false(text.includes('Pipeline^Test'));
  t.false(text.includes('JS-PIPE-0001'));
  t.false(text.includes('19600101'));
});
