/**
 * STOW-RS against a real Orthanc 1.10: the TID 1500 SR of the knee goes into the knee's study,
 * QIDO then lists an SR series beside the DX series, storing the same SR again replaces it
 * (OverwriteInstances), and an SR sent to another study's URL is listed as failed.
 */
import test from 'ava';
import { DicomWebClient } from '../../src/dicomweb/client.js';
import { firstString, tags } from '../../src/dicomweb/json.js';
import { COMPREHENSIVE_SR_STORAGE } from '../../src/sr/codes.js';
import { buildMeasurementReport } from '../../src/sr/measurement-report.js';
import { measurementReportUids } from '../../src/sr/uids.js';
import { useOrthanc } from '../helpers/orthanc.js';
import { algorithm, fakeHeader, grading, rightImage, when } from '../sr/fixtures.js';
import { kneeDx } from './knee-dx.js';

const orthanc = useOrthanc(test);

const study = fakeHeader.StudyInstanceUID;
const report = buildMeasurementReport({
  header: fakeHeader,
  images: [rightImage],
  knees: [{ sopInstanceUid: rightImage.sopInstanceUid, grading }],
  algorithm,
  contentDateTime: when,
});
const reportUids = measurementReportUids(study, `${algorithm.name}@${algorithm.version}`);

let client: DicomWebClient;

test.before(async () => {
  const server = await orthanc();
  client = new DicomWebClient({ url: server.dicomWebUrl, timeoutMs: 60_000 });
  await server.uploadInstance((await kneeDx()).bytes);
});

test.serial('the SR is stored into the study of the knee', async (t) => {
  const response = await client.storeInstances([report], { studyInstanceUid: study });

  t.is(response.status, 200);
  t.deepEqual(response.failed, []);
  t.is(response.referenced.length, 1);
  t.is(response.referenced[0]?.sopClassUid, COMPREHENSIVE_SR_STORAGE);
  t.is(response.referenced[0]?.sopInstanceUid, reportUids.sopInstanceUid);
  t.regex(response.referenced[0]?.retrieveUrl ?? '', /\/dicom-web\/studies\/[0-9.]+\/series\//);
});

test.serial('QIDO lists an SR series beside the DX series', async (t) => {
  const series = await client.searchForSeries({ studyInstanceUid: study });

  const modalities = series.map((entry) => firstString(entry, tags.Modality)).sort();
  t.deepEqual(modalities, ['DX', 'SR']);
  const sr = series.find((entry) => firstString(entry, tags.Modality) === 'SR') ?? {};
  t.is(firstString(sr, tags.SeriesInstanceUID), reportUids.seriesInstanceUid);
});

test.serial('storing the same SR twice leaves one instance', async (t) => {
  const again = await client.storeInstances([report], { studyInstanceUid: study });

  const instances = await client.searchForInstances({
    studyInstanceUid: study,
    seriesInstanceUid: reportUids.seriesInstanceUid,
  });
  t.is(again.status, 200);
  t.deepEqual(again.failed, []);
  t.deepEqual(
    instances.map((instance) => firstString(instance, tags.SOPInstanceUID)),
    [reportUids.sopInstanceUid],
  );
});

test.serial('the stored SR comes back byte for byte', async (t) => {
  const bytes = await client.retrieveInstance({
    studyInstanceUid: study,
    seriesInstanceUid: reportUids.seriesInstanceUid,
    sopInstanceUid: reportUids.sopInstanceUid,
  });

  t.true(Buffer.from(bytes).equals(Buffer.from(report)));
});

test.serial('an SR sent to the URL of another study is listed as failed (409)', async (t) => {
  const response = await client.storeInstances([report], { studyInstanceUid: '2.25.1' });

  t.is(response.status, 409);
  t.deepEqual(response.referenced, []);
  t.is(response.failed.length, 1);
  t.is(response.failed[0]?.sopInstanceUid, reportUids.sopInstanceUid);
  t.is(typeof response.failed[0]?.failureReason, 'number');
});
