/**
 * Earlier jointspace results found in a real Orthanc: SRs built with buildMeasurementReport for
 * earlier studies of one fake patient are found and read back per knee (KL grade, JSW where
 * the SR has it, model id); the current and later studies, another patient (also one whose ID
 * matches the same wildcard query), another issuer and other vendors' SRs are not; an SR that
 * cannot be read is skipped with a reason; an unreachable PACS is thrown as transient; nothing
 * is logged.
 */
import test from 'ava';
import { assessProgression } from '../../src/care/progression.js';
import { DicomWebClient, type InstanceReference } from '../../src/dicomweb/client.js';
import { JointspaceError } from '../../src/errors.js';
import {
  findPriorResults,
  type PriorResultsClient,
  type PriorResultsQuery,
} from '../../src/pipeline/prior-results.js';
import { writePart10, type Dataset, type SourceHeader } from '../../src/sr/dataset.js';
import { buildMeasurementReport, type JswLength } from '../../src/sr/measurement-report.js';
import { freePort, useOrthanc } from '../helpers/orthanc.js';
import {
  algorithm,
  captureOutput,
  fakeHeader,
  grading,
  items,
  leftImage,
  readDataset,
  rightImage,
  when,
} from '../sr/fixtures.js';

const orthanc = useOrthanc(test);

/** A patient ID with a space, which QIDO on Orthanc can only match through a wildcard. */
const PATIENT = 'JS PRIOR A';
/** Matches the same wildcard query ("JS?PRIOR?A") but is another patient. */
const LOOKALIKE = 'JS-PRIOR-A';
const OTHER = 'JS PRIOR B';
const ISSUER = 'JS-TEST-ISSUER';
const CURRENT_DATE = '20250601';
const CURRENT_UID = '2.25.500000000000000000000000000000005';
const OLD_ALGORITHM = { ...algorithm, version: '0.9.0', sha256: 'cd'.repeat(32) };

const uid = (n: number) => `2.25.5000000000000000000000000000000${String(n).padStart(2, '0')}`;
const STUDY_2021 = uid(21);
const STUDY_2023 = uid(23);
const STUDY_2024_ISSUER = uid(24);
const STUDY_2022_OTHER = uid(22);
const STUDY_2022_LOOKALIKE = uid(32);
const STUDY_2025_LATER = uid(25);
const STUDY_2024_BROKEN = uid(44);

function header(patientId: string, studyInstanceUid: string, studyDate: string): SourceHeader {
  return {
    ...fakeHeader,
    PatientID: patientId,
    StudyInstanceUID: studyInstanceUid,
    StudyDate: studyDate,
  };
}

/**
 * An SR of both knees: right at `right`, left at `left`; `lengths` per knee are the minimum
 * joint-space widths as the pipeline writes them (length groups).
 */
function report(
  head: SourceHeader,
  right: number,
  left: number,
  model = algorithm,
  lengths: { R?: JswLength[]; L?: JswLength[] } = {},
): Uint8Array {
  const graded = (klGrade: number) => {
    const probabilities = [0, 0, 0, 0, 0].map((_, g) => (g === klGrade ? 0.8 : 0.05));
    return { ...grading, klGrade, probabilities, confidence: 0.8 };
  };
  return buildMeasurementReport({
    header: head,
    images: [rightImage, leftImage],
    knees: [
      {
        sopInstanceUid: rightImage.sopInstanceUid,
        grading: graded(right),
        ...(lengths.R === undefined ? {} : { jsw: lengths.R }),
      },
      {
        sopInstanceUid: leftImage.sopInstanceUid,
        grading: graded(left),
        ...(lengths.L === undefined ? {} : { jsw: lengths.L }),
      },
    ],
    algorithm: model,
    contentDateTime: when,
  });
}

function length(compartment: 'medial' | 'lateral', value: number, unit: 'mm' | 'px'): JswLength {
  const x = compartment === 'medial' ? 80 : 150;
  return { compartment, femurPoint: { x, y: 100 }, tibiaPoint: { x, y: 110 }, value, unit };
}

/** Rewrites an SR: `change` edits the naturalized data set. */
function rewrite(bytes: Uint8Array, change: (dataset: Dataset) => void): Uint8Array {
  const dataset = readDataset(bytes);
  change(dataset);
  return writePart10(dataset, String(dataset.SOPClassUID), String(dataset.SOPInstanceUID));
}

function measurementGroups(dataset: Dataset): Dataset[] {
  const measurements = items(dataset.ContentSequence).find(
    (item) => items(item.ConceptNameCodeSequence)[0]?.CodeValue === '126010',
  );
  return items(measurements?.ContentSequence);
}

let dicomWebUrl = '';

test.before(async () => {
  const server = await orthanc();
  dicomWebUrl = server.dicomWebUrl;
  const otherVendor = rewrite(report(header(PATIENT, STUDY_2023, '20230305'), 4, 4), (d) => {
    d.Manufacturer = 'Other Vendor';
    d.SeriesDescription = 'Radiologist measurements';
    d.SeriesInstanceUID = '2.25.600000000000000000000000000000001';
    d.SOPInstanceUID = '2.25.600000000000000000000000000000002';
  });
  const broken = rewrite(report(header(PATIENT, STUDY_2024_BROKEN, '20240110'), 1, 1), (d) => {
    for (const group of measurementGroups(d)) {
      group.ContentSequence = items(group.ContentSequence).filter(
        (item) => items(item.ConceptNameCodeSequence)[0]?.CodeValue !== '363698007',
      );
    }
  });
  const withIssuer = rewrite(report(header(PATIENT, STUDY_2024_ISSUER, '20240601'), 3, 2), (d) => {
    d.IssuerOfPatientID = ISSUER;
  });
  const files = [
    report(header(PATIENT, STUDY_2021, '20210110'), 1, 2, algorithm, {
      R: [length('medial', 4.2, 'mm')],
    }),
    report(header(PATIENT, STUDY_2023, '20230305'), 2, 2, OLD_ALGORITHM, {
      // As the pipeline writes them: the right knee in mm, the left in pixels (no spacing).
      R: [length('medial', 3.1, 'mm'), length('lateral', 5.6, 'mm')],
      L: [length('medial', 9, 'px')],
    }),
    otherVendor,
    broken,
    withIssuer,
    report(header(PATIENT, CURRENT_UID, CURRENT_DATE), 3, 3),
    report(header(PATIENT, STUDY_2025_LATER, '20250901'), 4, 4),
    report(header(OTHER, STUDY_2022_OTHER, '20220101'), 0, 0),
    report(header(LOOKALIKE, STUDY_2022_LOOKALIKE, '20220601'), 0, 0),
  ];
  for (const file of files) await server.uploadInstance(file);
});

function client(): DicomWebClient {
  return new DicomWebClient({ url: dicomWebUrl });
}

const query: PriorResultsQuery = {
  patientId: PATIENT,
  beforeStudyDate: CURRENT_DATE,
  excludeStudyInstanceUid: CURRENT_UID,
};

test('finds the knees of the earlier jointspace SRs of the patient, and only those', async (t) => {
  const found = await findPriorResults(client(), query);
  const rows = found.results
    .map((r) => [r.studyDate, r.laterality, r.klGrade, r.modelId, r.source].join(' '))
    .sort();
  t.deepEqual(rows, [
    '2021-01-10 L 2 jointspace-knee-kl@1.0.0 pacs',
    '2021-01-10 R 1 jointspace-knee-kl@1.0.0 pacs',
    '2023-03-05 L 2 jointspace-knee-kl@0.9.0 pacs',
    '2023-03-05 R 2 jointspace-knee-kl@0.9.0 pacs',
    '2024-06-01 L 2 jointspace-knee-kl@1.0.0 pacs',
    '2024-06-01 R 3 jointspace-knee-kl@1.0.0 pacs',
  ]);
  const studies = new Set(found.results.map((r) => r.studyInstanceUid));
  for (const absent of [CURRENT_UID, STUDY_2025_LATER, STUDY_2022_OTHER, STUDY_2022_LOOKALIKE]) {
    t.false(studies.has(absent));
  }
  t.is(found.studiesSearched, 4);
  t.false(
    found.skipped.some((s) => /not written by jointspace/.test(s.reason)),
    "another vendor's SR is recognised from its QIDO attributes and never retrieved",
  );
});

test('reads the joint-space width where the SR has it', async (t) => {
  const found = await findPriorResults(client(), query);
  const right2021 = found.results.find(
    (r) => r.studyInstanceUid === STUDY_2021 && r.laterality === 'R',
  );
  const left2021 = found.results.find(
    (r) => r.studyInstanceUid === STUDY_2021 && r.laterality === 'L',
  );
  t.deepEqual(right2021?.jsw, { medialMinMm: 4.2 });
  t.is(left2021?.jsw, undefined);

  // The length groups of an SR as the pipeline writes it: mm are read, pixels are not.
  const at2023 = (side: 'R' | 'L') =>
    found.results.find((r) => r.studyInstanceUid === STUDY_2023 && r.laterality === side);
  t.deepEqual(at2023('R')?.jsw, { medialMinMm: 3.1, lateralMinMm: 5.6 });
  t.is(at2023('L')?.jsw, undefined);
});

test('an SR without knee lateralities is skipped with the reason', async (t) => {
  const found = await findPriorResults(client(), query);
  const broken = found.skipped.filter((s) => s.studyInstanceUid === STUDY_2024_BROKEN);
  t.is(broken.length, 2);
  for (const skip of broken) t.regex(skip.reason, /no finding site laterality/);
  t.false(found.results.some((r) => r.studyInstanceUid === STUDY_2024_BROKEN));
});

test('with an issuer, studies of another or no issuer are skipped', async (t) => {
  const found = await findPriorResults(client(), { ...query, issuerOfPatientId: ISSUER });
  t.deepEqual([...new Set(found.results.map((r) => r.studyInstanceUid))], [STUDY_2024_ISSUER]);
  const skipped = new Set(found.skipped.map((s) => s.studyInstanceUid));
  t.true(skipped.has(STUDY_2021));
  t.regex(found.skipped[0]?.reason ?? '', /no Issuer of Patient ID/);

  const other = await findPriorResults(client(), { ...query, issuerOfPatientId: 'JS-ELSEWHERE' });
  t.deepEqual(other.results, []);
  t.true(other.skipped.some((s) => /differs/.test(s.reason)));
});

test('only studies before the given date count', async (t) => {
  const found = await findPriorResults(client(), { ...query, beforeStudyDate: '2023-03-05' });
  t.deepEqual([...new Set(found.results.map((r) => r.studyDate))], ['2021-01-10']);
});

test('the results feed the progression of a knee', async (t) => {
  const found = await findPriorResults(client(), query);
  const progression = assessProgression(
    {
      laterality: 'R',
      klGrade: 3,
      studyDate: CURRENT_DATE,
      studyInstanceUid: CURRENT_UID,
      modelId: 'jointspace-knee-kl@1.0.0',
    },
    found.results,
  );
  t.is(progression.kl?.baseline.studyInstanceUid, STUDY_2023);
  t.is(progression.kl?.klChange, 1);
  t.false(progression.kl?.baseline.sameModel);
});

test('an SR that cannot be retrieved for good is skipped; a transient failure is thrown', async (t) => {
  const real = client();
  const failing = (permanent: boolean): PriorResultsClient => ({
    searchForStudies: (q) => real.searchForStudies(q),
    searchForInstances: (q) => real.searchForInstances(q),
    retrieveInstance: (reference: InstanceReference) =>
      reference.studyInstanceUid === STUDY_2021
        ? Promise.reject(
            new JointspaceError(
              permanent ? 'pacs-rejected' : 'pacs-unavailable',
              'DICOMweb retrieveInstance: HTTP 404',
              { permanent },
            ),
          )
        : real.retrieveInstance(reference),
  });

  const found = await findPriorResults(failing(true), query);
  t.false(found.results.some((r) => r.studyInstanceUid === STUDY_2021));
  t.regex(
    found.skipped.find((s) => s.studyInstanceUid === STUDY_2021)?.reason ?? '',
    /could not be retrieved/,
  );
  await t.throwsAsync(findPriorResults(failing(false), query), { message: /HTTP 404/ });
});

test('a PACS that cannot be reached is thrown as transient', async (t) => {
  const down = new DicomWebClient({
    url: `http://127.0.0.1:${await freePort()}/dicom-web/`,
    timeoutMs: 2_000,
  });
  const error = await t.throwsAsync(findPriorResults(down, query), { instanceOf: JointspaceError });
  t.is(error.code, 'pacs-unavailable');
  t.false(error.permanent);
});

test('nothing is logged and no reason quotes the patient ID', async (t) => {
  let skipped: string[] = [];
  const output = await captureOutput(async () => {
    const found = await findPriorResults(client(), { ...query, issuerOfPatientId: ISSUER });
    skipped = found.skipped.map((s) => s.reason);
  });
  t.is(output, '');
  t.true(skipped.length > 0);
  for (const reason of skipped) t.false(reason.includes(PATIENT) || reason.includes(ISSUER));
});

test('a bad query is refused before anything is sent', async (t) => {
  await t.throwsAsync(findPriorResults(client(), { ...query, beforeStudyDate: '2025-02-30' }), {
    message: /beforeStudyDate must be a date/,
  });
  await t.throwsAsync(findPriorResults(client(), { ...query, patientId: ' ' }), {
    message: /patientId must not be empty/,
  });
});
