import test from 'ava';
import { readFileSync } from 'node:fs';
import { JointspaceError } from '../errors.js';
import {
  KL_GRADE,
  PRIVATE_SCHEME,
  PRIVATE_SCHEME_FILE,
  klGradeCode,
  klGradeProbability,
  klGradeText,
  parsePrivateScheme,
} from './codes.js';

function table(): Record<string, unknown> {
  return JSON.parse(readFileSync(PRIVATE_SCHEME_FILE, 'utf8')) as Record<string, unknown>;
}

test('the private scheme defines grades 0..4 with their probabilities', (t) => {
  t.is(PRIVATE_SCHEME.designator, '99JOINTSPACE');
  t.deepEqual(
    PRIVATE_SCHEME.grades.map((grade) => grade.code.value),
    ['KL-0', 'KL-1', 'KL-2', 'KL-3', 'KL-4'],
  );
  t.is(klGradeCode(2).meaning, 'Kellgren-Lawrence grade 2 (minimal)');
  t.is(klGradeCode(4).scheme, '99JOINTSPACE');
  t.is(klGradeProbability(0).value, 'KL-P0');
  t.is(klGradeText(0), 'KL grade 0 (none)');
  t.is(KL_GRADE.meaning, 'Kellgren-Lawrence grade');
});

test('a grade outside 0..4 is refused', (t) => {
  for (const grade of [-1, 5, 1.5, Number.NaN]) {
    t.throws(() => klGradeCode(grade), { instanceOf: JointspaceError });
  }
});

test('a table with a standard-looking designator, a missing grade or a reused value is refused', (t) => {
  const bad = [
    { ...table(), codingSchemeDesignator: 'JOINTSPACE' },
    { ...table(), grades: (table().grades as unknown[]).slice(0, 4) },
    {
      ...table(),
      concepts: {
        ...(table().concepts as Record<string, unknown>),
        klGradeConfidence: { value: 'KL-2', meaning: 'dup' },
      },
    },
  ];
  for (const json of bad) {
    t.throws(() => parsePrivateScheme(json, 'test.json'), { instanceOf: JointspaceError });
  }
});
