/**
 * QIDO-RS and WADO-RS against a real Orthanc 1.10 with the DICOMweb plugin: a knee DX of the
 * fake patient "Test^Knee" is found at study, series and instance level with the include
 * fields asked for, comes back byte for byte, and its pixels come back native; compressed
 * copies come back decoded where Orthanc can transcode them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { DicomWebClient, type InstanceReference } from '../../src/dicomweb/client.js';
import { firstNumber, firstString, tags } from '../../src/dicomweb/json.js';
import { errorOf } from '../helpers/errors.js';
import { useOrthanc } from '../helpers/orthanc.js';
import { dicomSamples } from '../helpers/paths.js';
import { readDataset } from '../sr/fixtures.js';
import {
  EXPLICIT_VR_LITTLE_ENDIAN,
  JPEG_LOSSLESS_SV1,
  JPEG_LS_LOSSLESS,
  RLE_LOSSLESS,
  compressWithDcmtk,
  kneeDx,
  type KneeInstance,
} from './knee-dx.js';

const orthanc = useOrthanc(test);

/** Lossless copies of the knee made with dcmtk, each in a series of its own. */
const kneeCopies = [
  { tool: 'dcmcjpls', syntax: JPEG_LS_LOSSLESS, mediaType: 'image/jls', digit: '7' },
  { tool: 'dcmcjpeg', syntax: JPEG_LOSSLESS_SV1, mediaType: 'image/jpeg', digit: '8' },
  { tool: 'dcmcrle', syntax: RLE_LOSSLESS, mediaType: 'image/dicom-rle', digit: '9' },
];

/** Samples of test/../shared/data/dicom-samples and what Orthanc 1.10 does with them. */
const samples = [
  { file: 'cr-chest-mono1-jpeg-baseline.dcm', syntax: '1.2.840.10008.1.2.4.50', decoded: true },
  {
    file: 'cr-dental-jpeg-lossless-modality-lut.dcm',
    syntax: '1.2.840.10008.1.2.4.70',
    decoded: true,
  },
  // Orthanc 1.10 has no JPEG 2000 decoder of its own; the GDCM plugin would add one.
  { file: 'cr-lower-leg-j2k-lossless.dcm', syntax: '1.2.840.10008.1.2.4.90', decoded: false },
  { file: 'cr-chest-j2k-lossy-15bit.dcm', syntax: '1.2.840.10008.1.2.4.91', decoded: false },
];

let knee: KneeInstance;
const kneeCopyReferences = new Map<string, InstanceReference>();
const sampleReferences = new Map<string, InstanceReference & { frameBytes: number }>();

function sampleReference(file: string): InstanceReference & { frameBytes: number } {
  const reference = sampleReferences.get(file);
  if (reference === undefined) throw new Error(`${file} was not uploaded`);
  return reference;
}

let dicomWebUrl = '';

function client(): DicomWebClient {
  return new DicomWebClient({ url: dicomWebUrl, timeoutMs: 60_000 });
}

test.before(async () => {
  const server = await orthanc();
  dicomWebUrl = server.dicomWebUrl;

  knee = await kneeDx();
  await server.uploadInstance(knee.bytes);

  for (const { tool, digit } of kneeCopies) {
    const copy = await kneeDx({
      seriesInstanceUid: knee.reference.seriesInstanceUid.slice(0, -1) + digit,
      sopInstanceUid: knee.reference.sopInstanceUid.slice(0, -1) + digit,
    });
    await server.uploadInstance(await compressWithDcmtk(tool, copy.bytes));
    kneeCopyReferences.set(tool, copy.reference);
  }

  for (const sample of samples) {
    const bytes = new Uint8Array(await readFile(join(dicomSamples, sample.file)));
    await server.uploadInstance(bytes);
    const dataset = readDataset(bytes);
    sampleReferences.set(sample.file, {
      studyInstanceUid: String(dataset.StudyInstanceUID),
      seriesInstanceUid: String(dataset.SeriesInstanceUID),
      sopInstanceUid: String(dataset.SOPInstanceUID),
      frameBytes:
        (Number(dataset.Rows) * Number(dataset.Columns) * Number(dataset.BitsAllocated)) / 8,
    });
  }
});

test('searchForStudies finds the study by patient name, with the include fields', async (t) => {
  const studies = await client().searchForStudies({
    match: { PatientName: 'Test^Knee' },
    includeFields: ['PatientBirthDate', tags.NumberOfStudyRelatedSeries, tags.ModalitiesInStudy],
  });

  t.is(studies.length, 1);
  const study = studies[0] ?? {};
  t.is(firstString(study, tags.StudyInstanceUID), knee.reference.studyInstanceUid);
  t.is(firstString(study, tags.PatientName), 'Test^Knee');
  t.is(firstString(study, '00100030'), '19600101');
  t.is(firstNumber(study, tags.NumberOfStudyRelatedSeries), 1 + kneeCopies.length);
  t.is(firstString(study, tags.ModalitiesInStudy), 'DX');
});

test('searchForStudies with wildcards and no match', async (t) => {
  const search = client();

  t.is((await search.searchForStudies({ match: { PatientName: 'test^kn*' } })).length, 1);
  t.deepEqual(await search.searchForStudies({ match: { PatientID: 'NO-SUCH-PATIENT' } }), []);
});

test('searchForSeries lists the DX series of the study with its include fields', async (t) => {
  const series = await client().searchForSeries({
    studyInstanceUid: knee.reference.studyInstanceUid,
    match: { SeriesInstanceUID: knee.reference.seriesInstanceUid },
    includeFields: ['BodyPartExamined', tags.NumberOfSeriesRelatedInstances],
  });

  t.is(series.length, 1);
  const first = series[0] ?? {};
  t.is(firstString(first, tags.Modality), 'DX');
  t.is(firstString(first, '00180015'), 'KNEE');
  t.is(firstNumber(first, tags.NumberOfSeriesRelatedInstances), 1);
});

test('searchForInstances returns instance attributes only when asked for', async (t) => {
  const search = client();
  const where = {
    studyInstanceUid: knee.reference.studyInstanceUid,
    seriesInstanceUid: knee.reference.seriesInstanceUid,
  };

  const plain = await search.searchForInstances(where);
  const included = await search.searchForInstances({
    ...where,
    includeFields: ['ImageLaterality', '00185101', tags.Rows, tags.Columns],
  });

  t.is(plain.length, 1);
  t.is(firstString(plain[0] ?? {}, '00200062'), undefined);
  t.is(included.length, 1);
  const instance = included[0] ?? {};
  t.is(firstString(instance, tags.SOPInstanceUID), knee.reference.sopInstanceUid);
  t.is(firstString(instance, '00200062'), 'R');
  t.is(firstString(instance, '00185101'), 'PA');
  t.is(firstNumber(instance, tags.Rows), knee.rows);
  t.is(firstNumber(instance, tags.Columns), knee.columns);
});

test('retrieveInstance returns the stored file byte for byte', async (t) => {
  const bytes = await client().retrieveInstance(knee.reference);

  t.is(readDataset(bytes).SOPInstanceUID, knee.reference.sopInstanceUid);
  t.true(Buffer.from(bytes).equals(Buffer.from(knee.bytes)));
});

test('retrieveInstanceMetadata returns the data set as DICOM JSON', async (t) => {
  const metadata = await client().retrieveInstanceMetadata(knee.reference);

  t.is(firstString(metadata, tags.PatientName), 'Test^Knee');
  t.is(firstString(metadata, tags.SOPInstanceUID), knee.reference.sopInstanceUid);
  t.is(firstNumber(metadata, tags.BitsAllocated), 16);
});

test('retrieveFrames with Explicit VR Little Endian returns the source pixels', async (t) => {
  const frames = await client().retrieveFrames(knee.reference, [1], {
    transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN,
  });

  t.is(frames.length, 1);
  const frame = frames[0];
  t.is(frame?.mediaType, 'application/octet-stream');
  t.is(frame?.transferSyntax, EXPLICIT_VR_LITTLE_ENDIAN);
  t.true(Buffer.from(frame?.bytes ?? []).equals(Buffer.from(knee.pixels)));
});

for (const copy of kneeCopies) {
  test(`a ${copy.syntax} copy made by ${copy.tool} is decoded to the source pixels`, async (t) => {
    const reference = kneeCopyReferences.get(copy.tool);
    if (reference === undefined) throw new Error(`${copy.tool} copy was not uploaded`);
    const search = client();

    const [stored] = await search.retrieveFrames(reference, [1], { transferSyntax: '*' });
    const [decoded] = await search.retrieveFrames(reference, [1], {
      transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN,
    });

    t.is(stored?.transferSyntax, copy.syntax);
    t.is(stored?.mediaType, copy.mediaType);
    t.is(decoded?.transferSyntax, EXPLICIT_VR_LITTLE_ENDIAN);
    t.is(decoded?.bytes.length, knee.rows * knee.columns * 2);
    t.true(Buffer.from(decoded?.bytes ?? []).equals(Buffer.from(knee.pixels)));
  });
}

for (const sample of samples) {
  const outcome = sample.decoded ? 'decoded' : 'refused with a transient error';
  test(`frames of ${sample.file} (${sample.syntax}) asked for native: ${outcome}`, async (t) => {
    const reference = sampleReference(sample.file);
    const search = client();

    const [stored] = await search.retrieveFrames(reference, [1], { transferSyntax: '*' });
    t.is(stored?.transferSyntax, sample.syntax);

    const native = search.retrieveFrames(reference, [1], {
      transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN,
    });
    if (sample.decoded) {
      const [frame] = await native;
      t.is(frame?.bytes.length, reference.frameBytes);
      t.is(frame?.transferSyntax, EXPLICIT_VR_LITTLE_ENDIAN);
    } else {
      // Orthanc answers 500 "Cannot transcode image": indistinguishable from a server fault.
      const error = await errorOf(native);
      t.is(error.code, 'pacs-unavailable');
      t.regex(error.message, /retrieveFrames: the PACS answered HTTP 500/);
    }
  });
}

test('the 16-bit JPEG 2000 sample comes back as a JPEG 2000 codestream when asked for *', async (t) => {
  const reference = sampleReference('cr-lower-leg-j2k-lossless.dcm');

  const [frame] = await client().retrieveFrames(reference, [1], { transferSyntax: '*' });

  // SOC and SIZ markers open a JPEG 2000 codestream (ISO/IEC 15444-1 A.4).
  t.deepEqual([...(frame?.bytes.subarray(0, 4) ?? [])], [0xff, 0x4f, 0xff, 0x51]);
});
