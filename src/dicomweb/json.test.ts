import test from 'ava';
import {
  firstNumber,
  firstString,
  sequenceItems,
  strings,
  tags,
  values,
  type DicomJsonDataset,
} from './json.js';

const dataset: DicomJsonDataset = {
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Test^Knee' }] },
  '0020000D': { vr: 'UI', Value: ['1.2.3'] },
  '00200013': { vr: 'IS', Value: ['7'] },
  '00200011': { vr: 'IS', Value: [3] },
  '00280030': { vr: 'DS', Value: [0.15, '0.2'] },
  '00080060': { vr: 'CS' },
  '00081199': {
    vr: 'SQ',
    Value: [{ '00081155': { vr: 'UI', Value: ['4.5'] } }, 'not an item'],
  },
};

test('firstString reads text, person names and numbers as text', (t) => {
  t.is(firstString(dataset, tags.PatientName), 'Test^Knee');
  t.is(firstString(dataset, '0020000d'), '1.2.3');
  t.is(firstString(dataset, tags.SeriesNumber), '3');
  t.deepEqual(strings(dataset, '00280030'), ['0.15', '0.2']);
});

test('firstNumber reads numbers sent as numbers or as decimal text', (t) => {
  t.is(firstNumber(dataset, tags.InstanceNumber), 7);
  t.is(firstNumber(dataset, tags.SeriesNumber), 3);
  t.is(firstNumber(dataset, tags.PatientName), undefined);
});

test('absent, empty and mistyped attributes read as nothing', (t) => {
  t.is(firstString(dataset, tags.Modality), undefined);
  t.is(firstString(dataset, tags.SOPInstanceUID), undefined);
  t.deepEqual(
    values({ '00080060': { vr: 'CS', Value: 'DX' as unknown as unknown[] } }, '00080060'),
    [],
  );
  t.is(firstNumber({ '00200013': { vr: 'IS', Value: [' '] } }, tags.InstanceNumber), undefined);
});

test('sequenceItems keeps the items that are objects', (t) => {
  const items = sequenceItems(dataset, tags.ReferencedSOPSequence);

  t.is(items.length, 1);
  t.is(firstString(items[0] ?? {}, tags.ReferencedSOPInstanceUID), '4.5');
  t.deepEqual(sequenceItems(dataset, tags.FailedSOPSequence), []);
});
