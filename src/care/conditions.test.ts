import test from 'ava';
import {
  ConditionError,
  describeCondition,
  evaluate,
  parseCondition,
  type Condition,
  type Truth,
} from './conditions.js';
import type { DerivedFacts, FactValue } from './facts.js';

/** BMI 31, no GI bleed, pain trend worsening; KL grade and age missing. */
const facts: DerivedFacts = {
  values: new Map<string, FactValue>([
    ['bmi', 31],
    ['condition.gi-bleed-or-ulcer', false],
    ['painTrend', 'worsening'],
  ]),
  missing: new Map([
    ['klGrade', 'no KL grade for this knee'],
    ['age', 'no age on record'],
  ]),
};

const TRUE: Condition = parseCondition({ fact: 'bmi', gte: 25 }, 'c');
const FALSE: Condition = parseCondition({ fact: 'bmi', lt: 25 }, 'c');
const UNKNOWN: Condition = parseCondition({ fact: 'klGrade', gte: 2 }, 'c');
const leaves: [string, Condition, Truth][] = [
  ['true', TRUE, true],
  ['false', FALSE, false],
  ['unknown', UNKNOWN, 'unknown'],
];

test('all, any and not follow three-valued (Kleene) logic', (t) => {
  const truth = (c: Condition) => evaluate(c, facts).truth;
  for (const [, a, ta] of leaves) {
    for (const [, b, tb] of leaves) {
      const and: Truth =
        ta === false || tb === false ? false : ta === true && tb === true ? true : 'unknown';
      const or: Truth =
        ta === true || tb === true ? true : ta === false && tb === false ? false : 'unknown';
      t.is(truth({ all: [a, b] }), and, `${String(ta)} and ${String(tb)}`);
      t.is(truth({ any: [a, b] }), or, `${String(ta)} or ${String(tb)}`);
    }
    t.is(truth({ not: a }), ta === 'unknown' ? 'unknown' : !ta, `not ${String(ta)}`);
  }
  t.is(truth({ all: [] }), true);
});

test('comparisons on numbers, strings and booleans', (t) => {
  const holds = (json: unknown) => evaluate(parseCondition(json, 'c'), facts).truth;
  t.true(holds({ fact: 'bmi', eq: 31 }));
  t.true(holds({ fact: 'bmi', ne: 30 }));
  t.true(holds({ fact: 'bmi', gt: 30.9 }));
  t.false(holds({ fact: 'bmi', gt: 31 }));
  t.true(holds({ fact: 'bmi', gte: 31 }));
  t.true(holds({ fact: 'bmi', lte: 31 }));
  t.false(holds({ fact: 'bmi', lt: 31 }));
  t.true(holds({ fact: 'bmi', in: [25, 31] }));
  t.true(holds({ fact: 'painTrend', eq: 'worsening' }));
  t.true(holds({ fact: 'painTrend', in: ['worsening', 'stable'] }));
  t.true(holds({ fact: 'condition.gi-bleed-or-ulcer', eq: false }));
});

test('a presence check is never unknown', (t) => {
  const holds = (json: unknown) => evaluate(parseCondition(json, 'c'), facts).truth;
  t.true(holds({ fact: 'bmi', present: true }));
  t.false(holds({ fact: 'klGrade', present: true }));
  t.true(holds({ fact: 'klGrade', present: false }));
});

test('the facts that decided are reported, including those read through not', (t) => {
  const both = evaluate(
    { all: [TRUE, parseCondition({ fact: 'painTrend', eq: 'worsening' }, 'c')] },
    facts,
  );
  t.deepEqual(
    both.because.map((r) => r.text),
    ['BMI 31 kg/m²', 'pain trend worsening'],
  );

  const either = evaluate({ any: [FALSE, TRUE, UNKNOWN] }, facts);
  t.is(either.truth, true);
  t.deepEqual(
    either.because.map((r) => r.fact),
    ['bmi'],
  );
  t.deepEqual(either.missing, []);
  t.deepEqual(either.absent, ['klGrade']);

  const noBleed = evaluate(
    { not: parseCondition({ fact: 'condition.gi-bleed-or-ulcer', eq: true }, 'c') },
    facts,
  );
  t.true(noBleed.truth);
  t.deepEqual(
    noBleed.because.map((r) => r.text),
    ['gastrointestinal bleeding or ulcer: no'],
  );
});

test('an unknown outcome names the missing facts that left it open', (t) => {
  const result = evaluate(
    { all: [TRUE, { any: [UNKNOWN, parseCondition({ fact: 'age', gte: 45 }, 'c')] }] },
    facts,
  );
  t.is(result.truth, 'unknown');
  t.deepEqual(result.missing, ['klGrade', 'age']);
});

test('malformed conditions are refused, naming the field', (t) => {
  const cases: [unknown, RegExp][] = [
    [{ fact: 'weight', gte: 80 }, /^c\.fact must be a known fact \(got "weight"\)$/],
    [{ fact: 'bmi', gte: 25, lt: 40 }, /^c must be "fact" with exactly one of eq, ne/],
    [{ fact: 'bmi' }, /^c must be "fact" with exactly one of/],
    [{ fact: 'bmi', gte: '25' }, /^c\.gte must be a number$/],
    [{ fact: 'mobilityProblems', gt: 0 }, /^c\.gt must be used on a number fact/],
    [{ fact: 'painTrend', eq: 'better' }, /^c\.eq must be one of worsening, stable, improving$/],
    [{ fact: 'bmi', in: [] }, /^c\.in must be a non-empty array$/],
    [{ fact: 'bmi', present: 'yes' }, /^c\.present must be true or false$/],
    [{ any: [] }, /^c\.any must be a non-empty array/],
    [{ all: [{ fact: 'bmi', gte: 25 }], note: 'x' }, /^c must be only all \(unexpected note\)$/],
    [
      { all: [{ fact: 'bmi', gte: 25 }, { nope: 1 }] },
      /^c\.all\[1\] must be an object with one of/,
    ],
    [{ not: [] }, /^c\.not must be an object/],
    ['bmi >= 25', /^c must be an object/],
  ];
  for (const [json, message] of cases) {
    const error = t.throws(() => parseCondition(json, 'c'), { instanceOf: ConditionError });
    t.regex(error.message, message, JSON.stringify(json));
  }
});

test('conditions read back in clinician words', (t) => {
  const condition = parseCondition(
    {
      all: [
        { fact: 'latestPain', gte: 4 },
        {
          any: [
            { fact: 'klGrade', gte: 2 },
            { fact: 'age', gte: 45 },
          ],
        },
        { fact: 'condition.gi-bleed-or-ulcer', eq: false },
        { not: { fact: 'bmi', present: true } },
      ],
    },
    'c',
  );
  t.is(
    describeCondition(condition),
    'all of (latest pain ≥ 4/10; any of (KL grade ≥ 2; age ≥ 45 years); ' +
      'gastrointestinal bleeding or ulcer: no; not (BMI recorded))',
  );
  t.is(describeCondition({ all: [] }), 'always');
});
