/**
 * `jointspace serve` with JOINTSPACE_PRECISION=int8, end to end: real Orthanc with the push
 * script, real PostgreSQL. The int8 build grades the study, and every result says so: the API,
 * the model route and the SR written back to the PACS.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DicomWebClient } from '../../src/dicomweb/client.js';
import { defaultModelDirectory } from '../../src/grading/model.js';
import { usePushedService } from '../helpers/pushed-service.js';
import { kneeStudy, valPictures } from './studies.js';
import { upload, waitForStudy, writtenObjects } from './support.js';

const run = promisify(execFile);
const { orthanc, service: running } = await usePushedService(test, {
  beforeStart: () => ({ JOINTSPACE_PRECISION: 'int8' }),
});

test('the int8 build grades a pushed study and names itself in the API and the SR', async (t) => {
  const service = running();
  const manifest = JSON.parse(
    await readFile(join(defaultModelDirectory(), 'model.json'), 'utf8'),
  ) as { name: string; version: string };
  const expected = `${manifest.name}@${manifest.version}+int8`;

  const model = (await (await service.api('/api/model')).json()) as {
    id: string;
    precision: string;
  };
  t.is(model.id, expected);
  t.is(model.precision, 'int8');

  const server = await orthanc();
  const [picture] = await valPictures(3, 1);
  const study = await kneeStudy([{ picture, laterality: 'R' }]);
  await upload(server, study);
  const result = await waitForStudy(service, study.studyInstanceUid);
  t.is(result.status, 'graded');
  const knees = result.knees as (StudyKnee & { model?: string })[];
  t.is(knees.length, 1);
  t.is(knees[0]?.model, expected);

  const written = await writtenObjects(server, study.studyInstanceUid);
  t.is(written.reports.length, 1);
  const client = new DicomWebClient({ url: server.dicomWebUrl });
  const [instance] = await client.searchForInstances({
    studyInstanceUid: study.studyInstanceUid,
    match: { SOPInstanceUID: written.reports[0] ?? '' },
    includeFields: ['SeriesInstanceUID'],
  });
  const bytes = await client.retrieveInstance({
    studyInstanceUid: study.studyInstanceUid,
    seriesInstanceUid: (instance?.['0020000E']?.Value?.[0] as string | undefined) ?? '',
    sopInstanceUid: written.reports[0] ?? '',
  });
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-int8-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'sr.dcm');
  await writeFile(file, bytes);
  const dump = await run('dsrdump', [file]);
  t.true(dump.stdout.includes(`${manifest.version}+int8`), 'the SR names the int8 build');
  const verify = await run('dciodvfy', [file]).catch((error: unknown) => {
    const output = error as { stdout?: string; stderr?: string };
    return { stdout: output.stdout ?? '', stderr: output.stderr ?? '' };
  });
  t.notRegex(`${verify.stdout}\n${verify.stderr}`, /^Error/m);
});

type StudyKnee = Awaited<ReturnType<typeof waitForStudy>>['knees'][number];
