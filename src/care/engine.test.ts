import test from 'ava';
import { recommend } from './engine.js';
import type { CareFacts } from './facts.js';
import { parseCareRules } from './rules.js';

/**
 * A two-rule table where the contraindication reads a fact the recommendation does not:
 * "exercise" (always) and "avoid-exercise" (frailty) suppressing it.
 */
const rules = parseCareRules({
  kind: 'jointspace-care-rules',
  version: '0.0.1',
  status: 'draft',
  guidelines: { 'NICE NG226 2022': { citation: 'NICE NG226' } },
  rules: [
    {
      id: 'X1',
      title: 'Exercise',
      topic: 'exercise advice',
      kind: 'recommend',
      strength: 'strong',
      order: 2,
      recommendation: 'Exercise.',
      patientText: 'Move more.',
      sources: [{ guideline: 'NICE NG226 2022', section: '1.3', grade: 'offer', statement: 'X.' }],
      conditions: { fact: 'latestPain', gte: 1 },
      cautions: [
        {
          topic: 'heart disease (exercise testing)',
          conditions: { fact: 'condition.cardiovascular-disease', eq: true },
          clinicianText: 'Consider exercise testing.',
          patientText: 'Ask about a heart check first.',
        },
      ],
    },
    {
      id: 'X2',
      title: 'Avoid exercise when frail',
      topic: 'exercise with frailty',
      kind: 'avoid',
      strength: 'conditional-against',
      order: 1,
      recommendation: 'Avoid.',
      patientText: 'Rest.',
      sources: [{ guideline: 'NICE NG226 2022', section: '1.3', grade: 'x', statement: 'X.' }],
      conditions: { fact: 'condition.frailty', eq: true },
      suppresses: ['X1'],
    },
  ],
});

const facts = (extra: Partial<CareFacts>): CareFacts => ({
  asOf: '2025-06-01',
  painScores: [{ date: '2025-05-01', score: 5 }],
  knee: { klGrade: 2 },
  ...extra,
});

test('a recommendation is held back while its contraindication cannot be ruled out', (t) => {
  const proposal = recommend(facts({}), rules);
  t.deepEqual(proposal.recommendations, []);
  t.deepEqual(
    proposal.missing.map((m) => m.message),
    [
      'no list of conditions on record: exercise with frailty (X2) could not be assessed',
      'no list of conditions on record: exercise advice (X1) held back, ' +
        'because exercise with frailty (X2) could not be ruled out',
    ],
  );
  t.deepEqual(proposal.missing[1]?.rules, ['X1']);
});

test('a contraindication that holds suppresses; one that does not lets the advice through', (t) => {
  const frail = recommend(facts({ conditions: ['frailty'] }), rules);
  t.deepEqual(
    frail.recommendations.map((r) => r.id),
    ['X2'],
  );
  t.deepEqual(frail.suppressed, [{ id: 'X1', title: 'Exercise', by: ['X2'] }]);

  const fit = recommend(facts({ conditions: [] }), rules);
  t.deepEqual(
    fit.recommendations.map((r) => r.id),
    ['X1'],
  );
  t.deepEqual(fit.missing, []);
});

test('a caution applies when its condition holds', (t) => {
  const heart = recommend(facts({ conditions: ['cardiovascular-disease'] }), rules);
  const advice = heart.recommendations[0];
  t.deepEqual(advice?.cautions, ['Consider exercise testing.']);
  t.is(advice?.patientExplanation, 'Move more. Ask about a heart check first.');
  t.regex(advice?.clinicianExplanation ?? '', /Caution: Consider exercise testing\./);
});

test('each recommendation lists the facts that triggered it', (t) => {
  const proposal = recommend(facts({ conditions: [] }), rules);
  t.deepEqual(proposal.recommendations[0]?.triggeredBy, [
    { fact: 'latestPain', value: 5, text: 'latest pain 5/10' },
  ]);
  t.is(proposal.recommendations[0]?.source, 'NICE NG226 2022: offer');
});
