import test from 'ava';
import type { Quantity } from '@medplum/fhirtypes';
import { fhirCodes } from './codes.js';
import { UCUM, convertQuantity, readScore } from './units.js';

const { mass, length, bmi, score } = fhirCodes().units;

const ucum = (value: number, code: string): Quantity => ({ value, system: UCUM, code, unit: code });

const converted: [string, Quantity, ReadonlyMap<string, number>, number][] = [
  ['kilograms', ucum(82.5, 'kg'), mass, 82.5],
  ['grams', ucum(82500, 'g'), mass, 82.5],
  ['pounds', ucum(200, '[lb_av]'), mass, 90.718474],
  ['metres', ucum(1.72, 'm'), length, 1.72],
  ['centimetres', ucum(172, 'cm'), length, 1.72],
  ['millimetres', ucum(1720, 'mm'), length, 1.72],
  ['inches', ucum(66, '[in_i]'), length, 1.6764],
  ['feet', ucum(6, '[ft_i]'), length, 1.8288],
  ['kg/m2', ucum(31.2, 'kg/m2'), bmi, 31.2],
  ['a unit text without system or code', { value: 70, unit: 'kg' }, mass, 70],
];

for (const [name, quantity, factors, expected] of converted) {
  test(`converts ${name}`, (t) => {
    const reading = convertQuantity(quantity, factors, 'body weight');
    t.true(
      'value' in reading && Math.abs(reading.value - expected) < 1e-9,
      JSON.stringify(reading),
    );
  });
}

const refused: [string, Quantity | undefined, RegExp][] = [
  ['no quantity', undefined, /body weight has no numeric value/],
  ['no value', { system: UCUM, code: 'kg' }, /has no numeric value/],
  ['a value that is not finite', { value: Number.NaN, system: UCUM, code: 'kg' }, /no numeric/],
  ['no unit at all', { value: 80 }, /body weight has no unit/],
  [
    'an unknown unit',
    { value: 12, system: UCUM, code: '[stone_av]' },
    /unit "\[stone_av\]", not one of kg, g, \[lb_av\]/,
  ],
  ['a unit text that is not UCUM', { value: 180, unit: 'lbs' }, /unit "lbs"/],
  [
    'a unit from another system',
    { value: 80, system: 'http://example.org/units', code: 'kg' },
    /not UCUM/,
  ],
  [
    'a bound instead of a value',
    { value: 80, comparator: '<', system: UCUM, code: 'kg' },
    /a bound \(<\)/,
  ],
];

for (const [name, quantity, reason] of refused) {
  test(`refuses ${name}`, (t) => {
    const reading = convertQuantity(quantity, mass, 'body weight');
    t.true('reason' in reading);
    if ('reason' in reading) t.regex(reading.reason, reason);
  });
}

test('a score may have no unit or a score unit, never another unit', (t) => {
  t.deepEqual(readScore({ value: 6 }, score, 'pain score'), { value: 6 });
  t.deepEqual(readScore(ucum(6, '{score}'), score, 'pain score'), { value: 6 });
  t.deepEqual(readScore({ value: 6, unit: '1' }, score, 'pain score'), { value: 6 });
  t.deepEqual(readScore(ucum(60, 'mm'), score, 'pain score'), {
    reason: 'pain score has unit "mm", which is not a score',
  });
});
