import test from 'ava';
import {
  IMPLEMENTATION_CLASS_UID,
  algorithmDeviceUid,
  deriveUid,
  isValidUid,
  measurementReportUids,
  overlayUids,
  trackingUid,
} from './uids.js';

const study = '2.25.111111111111111111111111111111111';
const image = '2.25.222222222222222222222222222222221';

test('a derived UID is stable, valid, UUID-derived and at most 64 characters', (t) => {
  const uid = deriveUid('jointspace', 'sr-instance', study, 'model@1.0.0');
  t.is(deriveUid('jointspace', 'sr-instance', study, 'model@1.0.0'), uid);
  t.true(isValidUid(uid));
  t.true(uid.length <= 64);
  t.regex(uid, /^2\.25\.[1-9][0-9]{0,38}$/);
  const uuid = BigInt(uid.slice(5)).toString(16).padStart(32, '0');
  t.is(uuid[12], '8', 'UUID version 8 (RFC 9562)');
  t.true(['8', '9', 'a', 'b'].includes(uuid[16] ?? ''), 'RFC 9562 variant');
});

test('different inputs give different UIDs, including a shifted part boundary', (t) => {
  const uids = new Set([
    deriveUid('ab', 'c'),
    deriveUid('a', 'bc'),
    deriveUid('abc'),
    deriveUid('c', 'ab'),
    ...Array.from({ length: 1000 }, (_, i) => deriveUid('jointspace', String(i))),
  ]);
  t.is(uids.size, 1004);
});

test('deriveUid needs a part', (t) => {
  t.throws(() => deriveUid(), { message: /at least one part/ });
});

test('the UID syntax check follows PS3.5 9.1', (t) => {
  for (const good of ['1.2.840.10008.1.2.1', '2.25.0', '0.1', IMPLEMENTATION_CLASS_UID]) {
    t.true(isValidUid(good), good);
  }
  for (const bad of ['', '1..2', '1.02', '1.2.', '.1', '1.2a', `1.${'2'.repeat(63)}`]) {
    t.false(isValidUid(bad), bad);
  }
});

test('the SR UIDs depend on the study and the model version only', (t) => {
  const first = measurementReportUids(study, 'm@1');
  t.deepEqual(measurementReportUids(study, 'm@1'), first);
  t.not(first.seriesInstanceUid, first.sopInstanceUid);
  t.not(measurementReportUids(study, 'm@2').sopInstanceUid, first.sopInstanceUid);
  t.not(measurementReportUids(`${study}1`, 'm@1').sopInstanceUid, first.sopInstanceUid);
});

test('overlays of one study share a series; each source image has its own instance', (t) => {
  const a = overlayUids(study, image, 'm@1');
  const b = overlayUids(study, `${image}9`, 'm@1');
  t.is(a.seriesInstanceUid, b.seriesInstanceUid);
  t.not(a.sopInstanceUid, b.sopInstanceUid);
  t.not(a.seriesInstanceUid, measurementReportUids(study, 'm@1').seriesInstanceUid);
  t.not(overlayUids(study, image, 'm@2').sopInstanceUid, a.sopInstanceUid);
});

test('the device UID follows the model file; tracking UIDs follow the knee', (t) => {
  t.is(algorithmDeviceUid('AB'.repeat(32)), algorithmDeviceUid('ab'.repeat(32)));
  t.not(algorithmDeviceUid('ab'.repeat(32)), algorithmDeviceUid('cd'.repeat(32)));
  t.not(trackingUid(study, image, 'R', 'm@1'), trackingUid(study, image, 'L', 'm@1'));
  t.true(isValidUid(trackingUid(study, image, 'R', 'm@1')));
});
