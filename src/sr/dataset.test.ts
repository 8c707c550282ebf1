import test from 'ava';
import { decimalString } from './dataset.js';

test('DS values keep ten significant digits where 16 characters allow', (t) => {
  t.is(decimalString(0.123456789012), '0.123456789');
  t.is(decimalString(2), '2');
  t.is(decimalString(-0.5), '-0.5');
});

test('very small and very large DS values lose digits, never the 16-character limit', (t) => {
  for (const value of [0.000007836518307, 1.234567891e-7, 9.87654321e-300, 1.2345678901e17]) {
    const text = decimalString(value);
    t.true(text.length <= 16, text);
    t.true(Math.abs(Number(text) - value) <= Math.abs(value) * 1e-6, text);
  }
});

test('a value that is not a finite number is refused', (t) => {
  t.throws(() => decimalString(Number.NaN), { message: /does not fit a DS/ });
  t.throws(() => decimalString(Number.POSITIVE_INFINITY), { message: /does not fit a DS/ });
});
