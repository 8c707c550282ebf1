/**
 * Failures against a real Orthanc 1.10 that requires HTTP Basic authentication: a wrong
 * password or an unknown instance is a permanent `pacs-rejected`; a stopped Orthanc is a
 * transient `pacs-unavailable`; no message carries the patient data that was asked for; after
 * a restart the same client works again. Serial: one test stops the server.
 */
import test from 'ava';
import { DicomWebClient } from '../../src/dicomweb/client.js';
import { firstString, tags } from '../../src/dicomweb/json.js';
import type { JointspaceError } from '../../src/errors.js';
import { errorOf } from '../helpers/errors.js';
import { useOrthanc } from '../helpers/orthanc.js';
import { patientValues } from '../sr/fixtures.js';
import { kneeDx, type KneeInstance } from './knee-dx.js';

const user = { username: 'jointspace', password: 'correct-horse' };
const orthanc = useOrthanc(test, { user });

let knee: KneeInstance;
let dicomWebUrl = '';

function client(password = user.password): DicomWebClient {
  return new DicomWebClient({ url: dicomWebUrl, username: user.username, password });
}

/** The message and every cause below it, as text. */
function everything(error: JointspaceError): string {
  const texts: string[] = [];
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    texts.push(current.message, String((current as { code?: unknown }).code));
  }
  return texts.join('\n');
}

function assertNoPatientData(t: import('ava').ExecutionContext, error: JointspaceError) {
  const text = everything(error);
  for (const value of [...patientValues, knee.reference.sopInstanceUid]) {
    t.false(text.includes(value), `error text must not contain ${value}`);
  }
}

test.before(async () => {
  const server = await orthanc();
  dicomWebUrl = server.dicomWebUrl;
  knee = await kneeDx();
  await server.uploadInstance(knee.bytes);
});

test.serial('the right credentials are accepted', async (t) => {
  const studies = await client().searchForStudies({ match: { PatientID: 'JS-TEST-0001' } });

  t.is(studies.length, 1);
  t.is(firstString(studies[0] ?? {}, tags.StudyInstanceUID), knee.reference.studyInstanceUid);
});

test.serial('a wrong password is a permanent pacs-rejected error', async (t) => {
  const error = await errorOf(
    client('wrong').searchForStudies({ match: { PatientName: 'Test^Knee' } }),
  );

  t.is(error.code, 'pacs-rejected');
  t.true(error.permanent);
  t.is(error.message, 'DICOMweb searchForStudies: the PACS refused the request with HTTP 401');
  assertNoPatientData(t, error);
});

test.serial('no credentials at all are refused the same way', async (t) => {
  const anonymous = new DicomWebClient({ url: dicomWebUrl });

  const error = await errorOf(anonymous.retrieveInstance(knee.reference));

  t.is(error.code, 'pacs-rejected');
  t.regex(error.message, /retrieveInstance: .* HTTP 401$/);
});

test.serial('an unknown instance is a permanent pacs-rejected error (404)', async (t) => {
  const error = await errorOf(
    client().retrieveInstance({ ...knee.reference, sopInstanceUid: '2.25.404' }),
  );

  t.is(error.code, 'pacs-rejected');
  t.true(error.permanent);
  t.regex(error.message, /HTTP 404$/);
  t.false(error.message.includes('2.25.404'));
});

test.serial(
  'a stopped Orthanc is a transient pacs-unavailable error, then a restart heals',
  async (t) => {
    const server = await orthanc();
    const search = client();
    await server.stop();

    const searched = await errorOf(
      search.searchForStudies({ match: { PatientName: 'Test^Knee', PatientID: 'JS-TEST-0001' } }),
    );
    const retrieved = await errorOf(search.retrieveInstance(knee.reference));
    const stored = await errorOf(search.storeInstances([knee.bytes]));

    for (const error of [searched, retrieved, stored]) {
      t.is(error.code, 'pacs-unavailable');
      t.false(error.permanent);
      t.is(error.status, 503);
      assertNoPatientData(t, error);
    }
    t.is(searched.message, 'DICOMweb searchForStudies: cannot reach the PACS (ECONNREFUSED)');

    await server.restart();
    const found = await search.searchForStudies({ match: { PatientName: 'Test^Knee' } });
    t.is(found.length, 1);
  },
);
