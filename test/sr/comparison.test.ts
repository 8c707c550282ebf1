/**
 * The comparison group of a knee with a baseline: content items of the right value types,
 * codes, units and values; one container per baseline; placed in a measurement group of a
 * real TID 1500 SR, dciodvfy finds no errors and dsrdump shows the comparison.
 */
import test from 'ava';
import { assessProgression } from '../../src/care/progression.js';
import { JointspaceError } from '../../src/errors.js';
import {
  FLAG_TEXT,
  NO_FLAG_TEXT,
  comparisonContentItems,
  type KneeComparison,
} from '../../src/sr/comparison.js';
import { writePart10, type Dataset } from '../../src/sr/dataset.js';
import { buildMeasurementReport } from '../../src/sr/measurement-report.js';
import {
  algorithm,
  errorLines,
  fakeHeader,
  grading,
  items,
  readDataset,
  rightImage,
  tool,
  when,
  withFile,
} from './fixtures.js';

const BASELINE_UID = '2.25.444444444444444444444444444444441';
const OTHER_UID = '2.25.444444444444444444444444444444442';

const BASELINE = { studyInstanceUid: BASELINE_UID, studyDate: '2021-12-20', intervalYears: 2.04 };

const comparison: KneeComparison = {
  kl: { baseline: BASELINE, klChange: 2 },
  jsw: {
    baseline: BASELINE,
    medialChangeMm: -0.8,
    medialChangeMmPerYear: -0.39,
  },
  flags: ['accelerated-jsw-loss', 'accelerated-kl-increase', 'jsw-loss'],
};

function conceptValue(item: Dataset | undefined): unknown {
  return items(item?.ConceptNameCodeSequence)[0]?.CodeValue;
}

function numberOf(item: Dataset | undefined): [unknown, unknown] {
  const measured = items(item?.MeasuredValueSequence)[0];
  return [measured?.NumericValue, items(measured?.MeasurementUnitsCodeSequence)[0]?.CodeValue];
}

test('one container holds the baseline, the interval, the changes and the flags', (t) => {
  const result = comparisonContentItems(comparison);
  t.is(result.length, 1);
  const box = result[0];
  t.is(box?.ValueType, 'CONTAINER');
  t.is(box?.RelationshipType, 'CONTAINS');
  t.is(conceptValue(box), 'PROG-COMPARISON');
  t.is(items(box?.ConceptNameCodeSequence)[0]?.CodingSchemeDesignator, '99JOINTSPACE');

  const children = items(box?.ContentSequence);
  t.deepEqual(
    children.map((c) => [c.RelationshipType, c.ValueType, conceptValue(c)]),
    [
      ['CONTAINS', 'UIDREF', '110180'],
      ['CONTAINS', 'DATE', '111060'],
      ['CONTAINS', 'NUM', 'PROG-INTERVAL'],
      ['CONTAINS', 'NUM', 'PROG-KL-CHANGE'],
      ['CONTAINS', 'NUM', 'PROG-JSW-CHANGE'],
      ['CONTAINS', 'NUM', 'PROG-JSW-RATE'],
      ['CONTAINS', 'TEXT', 'PROG-FLAG'],
      ['CONTAINS', 'TEXT', 'PROG-FLAG'],
      ['CONTAINS', 'TEXT', 'PROG-FLAG'],
    ],
  );
  t.is(children[0]?.UID, BASELINE_UID);
  t.is(children[1]?.Date, '20211220');
  t.deepEqual(numberOf(children[2]), ['2.04', 'a']);
  t.deepEqual(numberOf(children[3]), ['2', '{grade}']);
  t.deepEqual(numberOf(children[4]), ['-0.8', 'mm']);
  t.deepEqual(numberOf(children[5]), ['-0.39', 'mm/a']);
  t.deepEqual(
    children.slice(6).map((c) => c.TextValue),
    [
      FLAG_TEXT['accelerated-jsw-loss'],
      FLAG_TEXT['accelerated-kl-increase'],
      FLAG_TEXT['jsw-loss'],
    ],
  );
});

test('KL only: no JSW items, and "No progression flag" when none applies', (t) => {
  const [box, extra] = comparisonContentItems({ kl: comparison.kl, flags: [] });
  t.is(extra, undefined);
  const children = items(box?.ContentSequence);
  t.deepEqual(
    children.map((c) => conceptValue(c)),
    ['110180', '111060', 'PROG-INTERVAL', 'PROG-KL-CHANGE', 'PROG-FLAG'],
  );
  t.is(children.at(-1)?.TextValue, NO_FLAG_TEXT);
});

test('a JSW baseline of its own gets its own container with its own flags', (t) => {
  const result = comparisonContentItems({
    kl: comparison.kl,
    jsw: {
      baseline: { studyInstanceUid: OTHER_UID, studyDate: '20220601', intervalYears: 1.6 },
      medialChangeMm: -0.9,
    },
    flags: ['jsw-loss'],
  });
  t.is(result.length, 2);
  const [kl, jsw] = result.map((box) => items(box.ContentSequence));
  t.is(kl?.[0]?.UID, BASELINE_UID);
  t.deepEqual(
    kl?.map((c) => c.TextValue).filter((v) => v !== undefined),
    [NO_FLAG_TEXT],
  );
  t.is(jsw?.[0]?.UID, OTHER_UID);
  t.is(jsw?.[1]?.Date, '20220601');
  t.false(
    jsw?.some((c) => conceptValue(c) === 'PROG-JSW-RATE'),
    'no rate given, none written',
  );
  t.deepEqual(
    jsw?.map((c) => c.TextValue).filter((v) => v !== undefined),
    [FLAG_TEXT['jsw-loss']],
  );
});

test('nothing to compare gives no items; a progression assessment fits as input', (t) => {
  t.deepEqual(comparisonContentItems({ flags: [] }), []);
  const assessment = assessProgression(
    { laterality: 'R', klGrade: 3, jsw: { medialMinMm: 3 }, studyDate: '20250601' },
    [
      {
        laterality: 'R',
        klGrade: 2,
        jsw: { medialMinMm: 3.2 },
        studyDate: '20230601',
        studyInstanceUid: BASELINE_UID,
        modelId: 'm@1',
        source: 'pacs',
      },
    ],
  );
  const [box] = comparisonContentItems(assessment);
  t.deepEqual(numberOf(items(box?.ContentSequence)[3]), ['1', '{grade}']);
});

test('bad input is refused, naming the field', (t) => {
  const bad: [KneeComparison, RegExp][] = [
    [
      {
        ...comparison,
        kl: { baseline: { ...BASELINE, studyInstanceUid: 'x' }, klChange: 1 },
      },
      /kl\.baseline\.studyInstanceUid/,
    ],
    [
      {
        ...comparison,
        kl: { baseline: { ...BASELINE, studyDate: '2021-02-30' }, klChange: 1 },
      },
      /kl\.baseline\.studyDate/,
    ],
    [{ ...comparison, kl: { baseline: BASELINE, klChange: 1.5 } }, /kl\.klChange/],
    [
      {
        ...comparison,
        jsw: { baseline: { ...BASELINE, intervalYears: 0 }, medialChangeMm: 1 },
      },
      /jsw\.baseline\.intervalYears/,
    ],
  ];
  for (const [input, message] of bad) {
    t.throws(() => comparisonContentItems(input), { instanceOf: JointspaceError, message });
  }
});

/** A real SR of the right knee with the comparison appended to its measurement group. */
function srWithComparison(): Uint8Array {
  const sr = buildMeasurementReport({
    header: fakeHeader,
    images: [rightImage],
    knees: [{ sopInstanceUid: rightImage.sopInstanceUid, grading }],
    algorithm,
    contentDateTime: when,
  });
  const dataset = readDataset(sr);
  const measurements = items(dataset.ContentSequence).find((i) => conceptValue(i) === '126010');
  const group = items(measurements?.ContentSequence)[0];
  if (group === undefined) throw new Error('the SR has no measurement group');
  group.ContentSequence = [...items(group.ContentSequence), ...comparisonContentItems(comparison)];
  return writePart10(dataset, String(dataset.SOPClassUID), String(dataset.SOPInstanceUID));
}

test('in a measurement group of a real SR, dciodvfy finds no errors', async (t) => {
  await withFile(srWithComparison(), 'sr.dcm', async (path) => {
    const { output } = await tool('dciodvfy', [path]);
    t.deepEqual(errorLines(output), [], output);
  });
});

test('dsrdump reads the comparison from the SR', async (t) => {
  await withFile(srWithComparison(), 'sr.dcm', async (path) => {
    const { code, output } = await tool('dsrdump', ['+Pl', '+Pc', '+Pu', path]);
    t.is(code, 0, output);
    const expected = [
      'Comparison with earlier study',
      `"${BASELINE_UID}"`,
      '="20211220"',
      '"2.04" (a,UCUM,"year")',
      '"-0.8" (mm,UCUM,"millimeter")',
      '"-0.39" (mm/a,UCUM,"millimeter per year")',
      FLAG_TEXT['accelerated-kl-increase'],
    ];
    for (const text of expected) t.true(output.includes(text), `dsrdump shows ${text}\n${output}`);
  });
});
