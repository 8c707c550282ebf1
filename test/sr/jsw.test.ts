/**
 * Joint-space widths written back: in the SR as TID 300 length measurements (one group per
 * compartment, OHIF's Length tracking identifier, a two-point SCOORD POLYLINE on the source
 * image, mm with pixel spacing and {pixels} without), valid for dciodvfy and readable by
 * dsrdump; in the overlay as coloured lines with their values. Widths measured on a real val
 * crop by src/measurement/jsw.ts go through unchanged.
 */
import test from 'ava';
import { JointspaceError } from '../../src/errors.js';
import { measureJointSpace } from '../../src/measurement/jsw.js';
import { JSW_MINIMUM, LENGTH, MILLIMETRE_UNIT, PIXEL_UNIT } from '../../src/sr/codes.js';
import type { Dataset } from '../../src/sr/dataset.js';
import {
  LENGTH_TRACKING_IDENTIFIER,
  buildMeasurementReport,
  jswLengths,
  type JswLength,
  type MeasurementReportInput,
} from '../../src/sr/measurement-report.js';
import { buildOverlay, lengthLabel, type OverlayInput } from '../../src/sr/overlay.js';
import {
  algorithm,
  camHotTopLeft,
  errorLines,
  fakeHeader,
  grading,
  items,
  leftImage,
  readDataset,
  rightImage,
  tool,
  valPicture,
  when,
  withFile,
} from './fixtures.js';

const medial: JswLength = {
  compartment: 'medial',
  femurPoint: { x: 150, y: 120.4 },
  tibiaPoint: { x: 150, y: 128.9 },
  value: 1.28,
  unit: 'mm',
};
const lateral: JswLength = {
  compartment: 'lateral',
  femurPoint: { x: 60, y: 118 },
  tibiaPoint: { x: 61, y: 131 },
  value: 1.95,
  unit: 'mm',
};

function input(overrides: Partial<MeasurementReportInput> = {}): MeasurementReportInput {
  return {
    header: fakeHeader,
    images: [rightImage, leftImage],
    knees: [
      { sopInstanceUid: rightImage.sopInstanceUid, grading, jsw: [medial, lateral] },
      {
        sopInstanceUid: leftImage.sopInstanceUid,
        grading,
        jsw: [{ ...medial, value: 8.5, unit: 'px' }],
      },
    ],
    algorithm,
    contentDateTime: when,
    ...overrides,
  };
}

function conceptOf(item: Dataset | undefined): string {
  const name = items(item?.ConceptNameCodeSequence)[0];
  return `${String(name?.CodeValue)}/${String(name?.CodingSchemeDesignator)}`;
}

function groups(dataset: Dataset): Dataset[] {
  const measurements = items(dataset.ContentSequence).find(
    (item) => conceptOf(item) === '126010/DCM',
  );
  return items(measurements?.ContentSequence);
}

function child(group: Dataset, concept: string): Dataset | undefined {
  return items(group.ContentSequence).find((item) => conceptOf(item) === concept);
}

const lengthGroups = (dataset: Dataset): Dataset[] =>
  groups(dataset).filter(
    (group) => child(group, '112039/DCM')?.TextValue === LENGTH_TRACKING_IDENTIFIER,
  );

test('each width is a Length measurement group with a two-point line on its source image', (t) => {
  const dataset = readDataset(buildMeasurementReport(input()));
  t.is(groups(dataset).length, 5, 'two KL groups and three length groups');
  const lengths = lengthGroups(dataset);
  t.is(lengths.length, 3);

  const [first, second, third] = lengths;
  if (first === undefined || second === undefined || third === undefined) return;
  const finding = (group: Dataset) =>
    items(child(group, '121071/DCM')?.ConceptCodeSequence)[0]?.CodeValue;
  t.is(finding(first), JSW_MINIMUM.medial.value);
  t.is(finding(second), JSW_MINIMUM.lateral.value);
  // The text OHIF shows above the value (it shows neither the Finding nor the NUM's name).
  t.is(child(first, '121106/DCM')?.TextValue, 'Medial minimum JSW, right knee');
  t.is(child(third, '121106/DCM')?.TextValue, 'Medial minimum JSW, left knee');

  const num = child(first, `${LENGTH.value}/${LENGTH.scheme}`);
  t.is(num?.ValueType, 'NUM');
  const measured = items(num?.MeasuredValueSequence)[0];
  t.is(Number(measured?.NumericValue), 1.28);
  t.is(items(measured?.MeasurementUnitsCodeSequence)[0]?.CodeValue, MILLIMETRE_UNIT.value);

  // OHIF draws the line only when the SCOORD is the NUM's one child.
  t.is(items(num?.ContentSequence).length, 1);
  const scoord = items(num?.ContentSequence)[0];
  t.is(scoord?.ValueType, 'SCOORD');
  t.is(scoord?.RelationshipType, 'INFERRED FROM');
  t.is(scoord?.GraphicType, 'POLYLINE');
  // Pixel-index points shifted by half a pixel to SR image coordinates (PS3.3 C.18.6.1.1).
  const graphic = items(scoord?.GraphicData) as unknown as number[];
  const expected = [150.5, 120.9, 150.5, 129.4];
  t.is(graphic.length, 4);
  // GraphicData is FL (float32): equal to single precision.
  graphic.forEach((value, index) => {
    t.true(Math.abs(value - (expected[index] ?? Number.NaN)) < 1e-4, `GraphicData[${index}]`);
  });
  const image = items(scoord?.ContentSequence)[0];
  t.is(image?.RelationshipType, 'SELECTED FROM');
  t.is(items(image?.ReferencedSOPSequence)[0]?.ReferencedSOPInstanceUID, rightImage.sopInstanceUid);

  const pixels = child(third, `${LENGTH.value}/${LENGTH.scheme}`);
  const unit = items(items(pixels?.MeasuredValueSequence)[0]?.MeasurementUnitsCodeSequence)[0];
  t.is(unit?.CodeValue, PIXEL_UNIT.value);

  const uids = lengths.map((group) => String(child(group, '112040/DCM')?.UID));
  t.is(new Set(uids).size, 3, 'every line has its own Tracking Unique Identifier');
  const again = lengthGroups(readDataset(buildMeasurementReport(input()))).map((group) =>
    String(child(group, '112040/DCM')?.UID),
  );
  t.deepEqual(again, uids, 'and the same one on a rerun');
});

test('an SR without widths keeps one group per knee', (t) => {
  const plain = input({
    knees: [{ sopInstanceUid: rightImage.sopInstanceUid, grading }],
  });
  t.is(groups(readDataset(buildMeasurementReport(plain))).length, 1);
});

test('dciodvfy finds no errors and dsrdump shows the lengths', async (t) => {
  await withFile(buildMeasurementReport(input()), 'sr.dcm', async (path) => {
    const checked = await tool('dciodvfy', [path]);
    t.deepEqual(errorLines(checked.output), [], checked.output);
    const dumped = await tool('dsrdump', [path]);
    t.is(dumped.code, 0, dumped.output);
    t.regex(dumped.output, /Length/);
    t.regex(dumped.output, /Minimum joint space width, medial/);
    t.regex(dumped.output, /POLYLINE/);
  });
});

test('widths that cannot be right are refused, naming the attribute', (t) => {
  const withJsw = (jsw: JswLength[], image = rightImage) =>
    input({ images: [image], knees: [{ sopInstanceUid: image.sopInstanceUid, grading, jsw }] });
  const cases: [MeasurementReportInput, RegExp][] = [
    [withJsw([medial], leftImage), /unit is "mm" but the source image has no pixel spacing/],
    [withJsw([medial, medial]), /medial compartment twice/],
    [withJsw([{ ...medial, value: Number.NaN }]), /value must be a finite number/],
    [withJsw([{ ...medial, tibiaPoint: { x: 150, y: 400 } }]), /tibiaPoint must lie on/],
    [withJsw([{ ...medial, unit: 'cm' as 'mm' }]), /unit must be "mm" or "px"/],
  ];
  for (const [bad, message] of cases) {
    const error = t.throws(() => buildMeasurementReport(bad), { instanceOf: JointspaceError });
    t.regex(error.message, message);
  }
});

async function overlayInput(overrides: Partial<OverlayInput> = {}): Promise<OverlayInput> {
  return {
    header: fakeHeader,
    source: rightImage,
    image: await valPicture(),
    grading: { ...grading, cam: camHotTopLeft(grading.klGrade) },
    algorithm,
    contentDateTime: when,
    ...overrides,
  };
}

/** RGB pixels of the overlay's Pixel Data. */
function overlayPixels(bytes: Uint8Array): Uint8Array {
  const dataset = readDataset(bytes);
  const data = items(dataset.PixelData)[0] as unknown as ArrayBuffer;
  return new Uint8Array(data);
}

test('the overlay draws each width as a coloured line with its value', async (t) => {
  const plain = overlayPixels(await buildOverlay(await overlayInput()));
  const drawn = overlayPixels(await buildOverlay(await overlayInput({ jsw: [medial, lateral] })));
  const width = 224;
  const magenta = (x: number, y: number): boolean => {
    const at = (y * width + x) * 3;
    return (drawn[at] ?? 0) > 200 && (drawn[at + 1] ?? 0) < 120 && (drawn[at + 2] ?? 0) > 200;
  };
  let onLine = 0;
  for (let y = 122; y <= 128; y++) if (magenta(150, y)) onLine++;
  t.true(onLine >= 5, `magenta medial line at x = 150 (${onLine} of 7 rows)`);

  // The label is drawn beside the line, and the picture elsewhere is untouched.
  let changedNearLabels = 0;
  for (let y = 125; y < 145; y++) {
    for (let x = 100; x < 148; x++) {
      const at = (y * width + x) * 3;
      if (drawn[at] !== plain[at] || drawn[at + 1] !== plain[at + 1]) changedNearLabels++;
    }
  }
  t.true(changedNearLabels > 20, 'medial label drawn to the left of the line');
  const farAway = (200 * width + 200) * 3;
  t.deepEqual([...drawn.subarray(farAway, farAway + 3)], [...plain.subarray(farAway, farAway + 3)]);
  t.is(lengthLabel(medial), 'M 1.3 mm');
  t.is(lengthLabel({ ...lateral, value: 9, unit: 'px' }), 'L 9.0 px');
});

test('the overlay refuses a width off the picture', async (t) => {
  const bad = await overlayInput({ jsw: [{ ...medial, femurPoint: { x: -3, y: 10 } }] });
  const error = await t.throwsAsync(buildOverlay(bad), { instanceOf: JointspaceError });
  t.regex(error.message, /jsw\[0\]\.femurPoint/);
});

test('widths measured on a val crop go into the SR and the overlay unchanged', async (t) => {
  const picture = await valPicture();
  const result = measureJointSpace(picture, { laterality: 'R' });
  if (result.status !== 'measured') {
    t.fail(`the val crop was refused: ${result.detail}`);
    return;
  }
  const jsw = jswLengths(result);
  t.true(jsw.length >= 1);
  const image = { ...rightImage, pixelSpacing: undefined };
  const sr = readDataset(
    buildMeasurementReport(
      input({ images: [image], knees: [{ sopInstanceUid: image.sopInstanceUid, grading, jsw }] }),
    ),
  );
  const values = lengthGroups(sr).map((group) =>
    Number(
      items(child(group, `${LENGTH.value}/${LENGTH.scheme}`)?.MeasuredValueSequence)[0]
        ?.NumericValue,
    ),
  );
  t.deepEqual(
    values.map((value) => value.toFixed(3)),
    jsw.map((length) => length.value.toFixed(3)),
  );
  const bytes = await buildOverlay(await overlayInput({ source: image, jsw }));
  t.true(bytes.length > 224 * 224 * 3);
});
