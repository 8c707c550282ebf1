import test from 'ava';
import { checkFacts, deriveFacts, type CareFacts, type PainScore } from './facts.js';

const AS_OF = '2025-06-01';

function derive(extra: Partial<CareFacts>) {
  return deriveFacts({ asOf: AS_OF, knee: {}, ...extra });
}

function scores(...pairs: [string, number][]): PainScore[] {
  return pairs.map(([date, score]) => ({ date, score }));
}

test('latest pain and its trend, whatever the order of the scores', (t) => {
  const worse = derive({ painScores: scores(['2025-05-01', 7], ['2025-01-01', 4]) });
  t.is(worse.values.get('latestPain'), 7);
  t.is(worse.values.get('latestPainDate'), '2025-05-01');
  t.is(worse.values.get('painTrend'), 'worsening');

  const better = derive({ painScores: scores(['2025-01-01', 6], ['2025-05-01', 4]) });
  t.is(better.values.get('painTrend'), 'improving');

  const same = derive({ painScores: scores(['2025-01-01', 5], ['2025-05-01', 6]) });
  t.is(same.values.get('painTrend'), 'stable');

  const one = derive({ painScores: scores(['2025-05-01', 6]) });
  t.is(one.missing.get('painTrend'), 'fewer than two pain scores in a year, so no pain trend');
});

test('pain scores older than a year are not used', (t) => {
  const old = derive({ painScores: scores(['2024-01-01', 9]) });
  t.false(old.values.has('latestPain'));
  t.is(old.missing.get('latestPain'), 'no pain score in the 12 months before 2025-06-01');

  const none = derive({});
  t.is(none.missing.get('latestPain'), 'no pain score on record');
});

test('how long moderate pain has lasted', (t) => {
  const months = (...pairs: [string, number][]) =>
    derive({ painScores: scores(...pairs) }).values.get('moderatePainMonths');
  t.is(months(['2025-01-01', 5], ['2025-03-01', 4], ['2025-05-01', 6]), 3.9);
  t.is(months(['2025-01-01', 5], ['2025-03-01', 2], ['2025-05-01', 6]), 0);
  t.is(months(['2025-01-01', 6], ['2025-05-01', 3]), 0);
  t.is(
    derive({ painScores: scores(['2025-05-01', 6]) }).missing.get('moderatePainMonths'),
    'only one pain score, so how long the pain has lasted is unknown',
  );
});

test('comorbidities are yes or no when the problem list is known, missing when it is not', (t) => {
  const known = derive({ conditions: ['frailty'] });
  t.is(known.values.get('condition.frailty'), true);
  t.is(known.values.get('condition.diabetes'), false);

  const unknown = derive({});
  t.is(unknown.missing.get('condition.frailty'), 'no list of conditions on record');
});

test('treatments: tried, current, and the longest exercise course', (t) => {
  const facts = derive({
    treatments: [
      { treatment: 'oral-nsaid', start: '2024-01-01', end: '2024-03-01' },
      { treatment: 'opioid', start: '2025-01-01', end: '2025-12-01' },
      { treatment: 'paracetamol', start: '2025-01-01' },
      { treatment: 'physiotherapy-or-exercise', weeks: 13 },
      { treatment: 'physiotherapy-or-exercise', start: '2024-12-01', current: true },
    ],
  });
  t.is(facts.values.get('treatment.oral-nsaid.tried'), true);
  t.is(facts.values.get('treatment.oral-nsaid.current'), false);
  t.is(facts.values.get('treatment.opioid.current'), true);
  t.is(facts.values.get('treatment.topical-nsaid.tried'), false);
  t.is(
    facts.missing.get('treatment.paracetamol.current'),
    'the record of paracetamol does not say whether it is current',
  );
  t.is(facts.values.get('exerciseMonths'), 6);

  const undated = derive({ treatments: [{ treatment: 'physiotherapy-or-exercise' }] });
  t.is(
    undated.missing.get('exerciseMonths'),
    'exercise or physiotherapy is recorded without dates or duration',
  );
  t.is(derive({ treatments: [] }).values.get('exerciseMonths'), 0);
  t.is(derive({}).missing.get('exerciseMonths'), 'no treatment history on record');
  t.is(derive({}).values.get('askedAbout.opioid'), false);
});

test('progression facts', (t) => {
  const facts = derive({
    knee: { progression: { jswChangeMmPerYear: -0.3, klChange: 2, klChangeYears: 3 } },
  });
  t.is(facts.values.get('jswLossMmPerYear'), 0.3);
  t.is(facts.values.get('klIncreaseWithin4Years'), 2);
  t.is(facts.missing.get('medialJswLossMm'), 'no earlier medial joint-space width to compare');

  const old = derive({ knee: { progression: { klChange: 2, klChangeYears: 6 } } });
  t.is(old.missing.get('klIncreaseWithin4Years'), 'the earlier KL grade is more than 4 years old');
});

test('unclean facts are refused, naming the field', (t) => {
  const cases: [Partial<CareFacts>, RegExp][] = [
    [{ asOf: '2025-02-30' }, /^care facts: asOf must be a date YYYY-MM-DD/],
    [{ age: -1 }, /^care facts: age must be a number from 0 to 130 \(got -1\)$/],
    [{ bmi: Number.NaN }, /^care facts: bmi must be a number from 10 to 100/],
    [
      { painScores: [{ date: '2025-07-01', score: 3 }] },
      /painScores\[0\]\.date must be on or before 2025-06-01/,
    ],
    [{ koos: { koosJr: 120 } }, /koos\.koosJr must be a number from 0 to 100/],
    [{ conditions: ['gout' as never] }, /conditions\[0\] must be a known condition \(got "gout"\)/],
    [
      { treatments: [{ treatment: 'oral-nsaid', start: '2025-03-01', end: '2025-01-01' }] },
      /treatments\[0\]\.end must be on or after start 2025-03-01/,
    ],
    [{ knee: { laterality: 'B' as never } }, /knee\.laterality must be "R" or "L"/],
    [{ knee: { klGrade: 5 } }, /knee\.klGrade must be a number from 0 to 4/],
  ];
  for (const [extra, message] of cases) {
    const error = t.throws(() => {
      checkFacts({ asOf: AS_OF, knee: {}, ...extra });
    });
    t.regex(error.message, message);
  }
  t.notThrows(() => {
    checkFacts({ asOf: AS_OF, knee: { klGrade: 4 }, bmi: 41, age: 85 });
  });
});
