import test from 'ava';
import { ageAt, fhirDay, monthsBetween, parseFhirDate } from './dates.js';

test('a date or dateTime precise to the day gives that day', (t) => {
  t.is(fhirDay('2024-03-05'), '2024-03-05');
  t.is(fhirDay('2024-03-05T23:30:00+01:00'), '2024-03-05');
  t.is(fhirDay('2024-03-05T10:00:00Z'), '2024-03-05');
  t.is(fhirDay('2024-03-05T10:00:00.123Z'), '2024-03-05');
});

test('partial, malformed and impossible dates give no day', (t) => {
  for (const value of [
    undefined,
    '',
    '2024',
    '2024-03',
    '2024-02-30',
    '2024-13-01',
    '05/03/2024',
    'x',
  ]) {
    t.is(fhirDay(value), undefined, String(value));
  }
});

test('partial dates are parsed with the parts they have', (t) => {
  t.deepEqual(parseFhirDate('1958'), { year: 1958 });
  t.deepEqual(parseFhirDate('1958-06'), { year: 1958, month: 6 });
  t.is(parseFhirDate('1958-00'), undefined);
});

test('age counts whole years to the day', (t) => {
  t.is(ageAt('1958-06-15', '2024-06-14'), 65);
  t.is(ageAt('1958-06-15', '2024-06-15'), 66);
  t.is(ageAt('2000-02-29', '2024-02-28'), 23);
  t.is(ageAt('2000-02-29', '2024-02-29'), 24);
});

test('a partial birth date gives the lowest age it allows', (t) => {
  t.is(ageAt('1958', '2024-12-30'), 65);
  t.is(ageAt('1958', '2024-12-31'), 66);
  t.is(ageAt('1958-06', '2024-06-29'), 65);
  t.is(ageAt('1958-06', '2024-06-30'), 66);
});

test('a malformed birth date gives no age', (t) => {
  t.is(ageAt('June 1958', '2024-06-30'), undefined);
  t.is(ageAt(undefined, '2024-06-30'), undefined);
});

test('months between two days', (t) => {
  t.is(Math.round(monthsBetween('2023-01-01', '2024-01-01')), 12);
  t.true(monthsBetween('2024-01-01', '2023-01-01') < 0);
});
