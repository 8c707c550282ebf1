/**
 * The TID 1500 SR built from a synthetic study of two knees: valid for dciodvfy (no errors),
 * readable by dsrdump with the expected content, and read back by dcmjs with the structure,
 * codes and values that were put in; the same input gives the same bytes; bad input is
 * refused without quoting patient data; nothing is logged.
 */
import test from 'ava';
import { JointspaceError } from '../../src/errors.js';
import {
  COMPREHENSIVE_SR_STORAGE,
  GRADE_UNIT,
  KL_GRADE,
  KL_GRADE_CONFIDENCE,
  PRIVATE_SCHEME,
  klGradeProbability,
} from '../../src/sr/codes.js';
import type { Dataset } from '../../src/sr/dataset.js';
import {
  SR_SERIES_DESCRIPTION,
  buildMeasurementReport,
  type MeasurementReportInput,
} from '../../src/sr/measurement-report.js';
import { algorithmDeviceUid, measurementReportUids, trackingUid } from '../../src/sr/uids.js';
import {
  algorithm,
  captureOutput,
  errorLines,
  fakeHeader,
  grading,
  items,
  leftImage,
  patientValues,
  readDataset,
  rightImage,
  tool,
  when,
  withFile,
} from './fixtures.js';

const modelId = `${algorithm.name}@${algorithm.version}`;

function input(overrides: Partial<MeasurementReportInput> = {}): MeasurementReportInput {
  return {
    header: fakeHeader,
    images: [rightImage, leftImage],
    knees: [
      { sopInstanceUid: rightImage.sopInstanceUid, grading },
      {
        sopInstanceUid: leftImage.sopInstanceUid,
        grading: {
          klGrade: 4,
          probabilities: [0.0, 0.01, 0.04, 0.15, 0.8],
          confidence: 0.8,
          kneeCheck: { accepted: true, reason: 'Knee radiograph.' },
        },
        region: { x: 20, y: 30, width: 150, height: 120 },
      },
    ],
    algorithm,
    contentDateTime: when,
    ...overrides,
  };
}

function concept(item: Dataset): string {
  const name = items(item.ConceptNameCodeSequence)[0];
  return `${String(name?.CodeValue)}/${String(name?.CodingSchemeDesignator)}`;
}

function children(item: Dataset, value: string, scheme = 'DCM'): Dataset[] {
  return items(item.ContentSequence).filter((child) => concept(child) === `${value}/${scheme}`);
}

function only(item: Dataset, value: string, scheme = 'DCM'): Dataset {
  const found = children(item, value, scheme);
  if (found.length !== 1) throw new Error(`expected one ${value} (${scheme}), got ${found.length}`);
  return found[0] as Dataset;
}

function groups(dataset: Dataset): Dataset[] {
  return children(only(dataset, '126010'), '125007');
}

test('dciodvfy finds no errors in the SR', async (t) => {
  await withFile(buildMeasurementReport(input()), 'sr.dcm', async (path) => {
    const { output } = await tool('dciodvfy', [path]);
    t.true(output.includes('ComprehensiveSR'), output);
    t.deepEqual(errorLines(output), []);
  });
});

test('dsrdump reads the SR and shows the report, the grade text and the region', async (t) => {
  await withFile(buildMeasurementReport(input()), 'sr.dcm', async (path) => {
    const { code, output } = await tool('dsrdump', ['+Pl', '+Pc', '+Pu', '+Pt', path]);
    t.is(code, 0, output);
    const expected = [
      'Comprehensive SR Document',
      'Verification Flag   : UNVERIFIED',
      '(126000,DCM,"Imaging Measurement Report")',
      '# TID 1500 (DCMR)',
      '(111028,DCM,"Image Library")',
      '(125007,DCM,"Measurement Group")',
      '(112039,DCM,"Tracking Identifier")="KL grade, right knee, image 1"',
      `(112040,DCM,"Tracking Unique Identifier")="${trackingUid(fakeHeader.StudyInstanceUID, rightImage.sopInstanceUid, 'R', modelId)}"`,
      '(121071,DCM,"Finding")=(239873007,SCT,"Osteoarthritis of knee")',
      '(363698007,SCT,"Finding Site")=(49076000,SCT,"Knee joint")',
      '(272741003,SCT,"Laterality")=(7771000,SCT,"Left")',
      '="KL grade 2 (minimal)"',
      '="KL grade 4 (severe)"',
      '(KL-2,99JOINTSPACE,"Kellgren-Lawrence grade 2 (minimal)")',
      'NUM:(KL-GRADE,99JOINTSPACE,"Kellgren-Lawrence grade")="2" ({grade},UCUM,"grade")',
      'SCOORD:(111030,DCM,"Image Region")=(POLYLINE,',
      '(111001,DCM,"Algorithm Name")="jointspace-knee-kl"',
      '(121012,DCM,"Device Observer UID")',
    ];
    for (const text of expected) t.true(output.includes(text), `dsrdump shows ${text}`);
  });
});

test('the SR reads back with a measurement group per knee and the grade in the private scheme', (t) => {
  const dataset = readDataset(buildMeasurementReport(input()));
  t.is(dataset.SOPClassUID, COMPREHENSIVE_SR_STORAGE);
  t.is(concept(dataset), '126000/DCM');
  t.is(dataset.VerificationFlag, 'UNVERIFIED');
  t.is(dataset.SeriesDescription, SR_SERIES_DESCRIPTION);
  const library = items(only(only(dataset, '111028'), '126200').ContentSequence);
  t.deepEqual(
    library.map((entry) => entry.ValueType),
    ['IMAGE', 'IMAGE'],
  );

  const [right, left] = groups(dataset);
  if (right === undefined || left === undefined) throw new Error('expected two groups');
  for (const [group, grade] of [
    [right, 2],
    [left, 4],
  ] as const) {
    t.is(only(group, '112039').ValueType, 'TEXT');
    t.regex(String(only(group, '112040').UID), /^2\.25\.\d+$/);
    const coded = children(group, KL_GRADE.value, PRIVATE_SCHEME.designator);
    const code = coded.find((item) => item.ValueType === 'CODE');
    const text = coded.find((item) => item.ValueType === 'TEXT');
    t.is(items(code?.ConceptCodeSequence)[0]?.CodeValue, `KL-${grade}`);
    t.is(items(code?.ConceptCodeSequence)[0]?.CodingSchemeDesignator, '99JOINTSPACE');
    t.regex(String(text?.TextValue), new RegExp(`^KL grade ${grade} `));
    const probabilities = [0, 1, 2, 3, 4].map((g) => {
      const num = only(group, klGradeProbability(g).value, PRIVATE_SCHEME.designator);
      return Number(items(num.MeasuredValueSequence)[0]?.NumericValue);
    });
    t.true(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    t.is(probabilities.indexOf(Math.max(...probabilities)), grade);

    // OHIF labels the region with the first five NUMs, in content order: grade, then confidence.
    const nums = items(group.ContentSequence).filter((item) => item.ValueType === 'NUM');
    t.deepEqual(nums.slice(0, 2).map(concept), [
      `${KL_GRADE.value}/${PRIVATE_SCHEME.designator}`,
      `${KL_GRADE_CONFIDENCE.value}/${PRIVATE_SCHEME.designator}`,
    ]);
    const measured = items(nums[0]?.MeasuredValueSequence)[0];
    t.is(Number(measured?.NumericValue), grade);
    t.is(items(measured?.MeasurementUnitsCodeSequence)[0]?.CodeValue, GRADE_UNIT.value);
  }
});

test('the SR region is a closed POLYLINE on its source image', (t) => {
  const dataset = readDataset(buildMeasurementReport(input()));
  const [right, left] = groups(dataset);
  const region = (group: Dataset | undefined) => only(group ?? {}, '111030');
  t.deepEqual(region(right).GraphicData, [0, 0, 224, 0, 224, 224, 0, 224, 0, 0]);
  t.deepEqual(region(left).GraphicData, [20, 30, 170, 30, 170, 150, 20, 150, 20, 30]);
  const image = items(region(left).ContentSequence)[0];
  t.is(image?.RelationshipType, 'SELECTED FROM');
  t.is(items(image?.ReferencedSOPSequence)[0]?.ReferencedSOPInstanceUID, leftImage.sopInstanceUid);
});

test('the SR header copies the study, names the algorithm and references every source image', (t) => {
  const dataset = readDataset(buildMeasurementReport(input()));
  t.is(dataset.StudyInstanceUID, fakeHeader.StudyInstanceUID);
  t.is(dataset.AccessionNumber, fakeHeader.AccessionNumber);
  t.is(dataset.Modality, 'SR');
  const equipment = items(dataset.ContributingEquipmentSequence)[0];
  t.is(equipment?.Manufacturer, 'jointspace');
  t.is(equipment?.ManufacturerModelName, algorithm.name);
  t.is(equipment?.SoftwareVersions, algorithm.version);
  t.is(equipment?.DeviceUID, algorithmDeviceUid(algorithm.sha256));
  t.is(items(equipment?.PurposeOfReferenceCodeSequence)[0]?.CodeValue, '109102');
  const evidence = items(dataset.CurrentRequestedProcedureEvidenceSequence);
  const series = items(evidence[0]?.ReferencedSeriesSequence);
  t.is(series.length, 2);
  const referenced = series.flatMap((s) =>
    items(s.ReferencedSOPSequence).map((sop) => sop.ReferencedSOPInstanceUID),
  );
  t.deepEqual(referenced, [rightImage.sopInstanceUid, leftImage.sopInstanceUid]);
});

test('the same input gives the same bytes and UIDs; another model version new UIDs', (t) => {
  const first = buildMeasurementReport(input());
  t.deepEqual(buildMeasurementReport(input()), first);
  const uids = measurementReportUids(fakeHeader.StudyInstanceUID, modelId);
  const dataset = readDataset(first);
  t.is(dataset.SOPInstanceUID, uids.sopInstanceUid);
  t.is(dataset.SeriesInstanceUID, uids.seriesInstanceUid);
  const next = readDataset(
    buildMeasurementReport(input({ algorithm: { ...algorithm, version: '1.1.0' } })),
  );
  t.not(next.SOPInstanceUID, dataset.SOPInstanceUID);
  t.not(next.SeriesInstanceUID, dataset.SeriesInstanceUID);
});

function refusal(t: import('ava').ExecutionContext, bad: MeasurementReportInput, names: string) {
  const error = t.throws(() => buildMeasurementReport(bad), { instanceOf: JointspaceError });
  t.is(error.code, 'invalid-argument');
  t.true(error.message.includes(names), error.message);
  for (const value of patientValues) t.false(error.message.includes(value));
}

test('bad input is refused naming the attribute, never quoting patient data', (t) => {
  refusal(t, input({ header: { ...fakeHeader, StudyInstanceUID: 'x1' } }), 'StudyInstanceUID');
  refusal(t, input({ header: { ...fakeHeader, PatientBirthDate: '1960' } }), 'PatientBirthDate');
  refusal(t, input({ knees: [] }), 'knees');
  refusal(t, input({ knees: [{ sopInstanceUid: '2.25.9', grading }] }), 'knees[0].sopInstanceUid');
  refusal(
    t,
    input({
      knees: [{ sopInstanceUid: rightImage.sopInstanceUid, grading: { ...grading, klGrade: 5 } }],
    }),
    'knees[0].grading.klGrade',
  );
  refusal(
    t,
    input({
      knees: [
        {
          sopInstanceUid: rightImage.sopInstanceUid,
          grading: { ...grading, probabilities: [0.5, 0.5, 0.5, 0, 0] },
        },
      ],
    }),
    'probabilities',
  );
  refusal(
    t,
    input({
      knees: [
        {
          sopInstanceUid: rightImage.sopInstanceUid,
          grading,
          region: { x: 100, y: 0, width: 200, height: 10 },
        },
      ],
    }),
    'knees[0].region',
  );
});

test.serial('building the SR writes nothing to stdout, stderr or the console', async (t) => {
  const output = await captureOutput(() => Promise.resolve(buildMeasurementReport(input())));
  t.is(output, '');
});
