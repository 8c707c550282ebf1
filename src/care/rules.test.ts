import test from 'ava';
import { careRules, parseCareRules, STRENGTHS } from './rules.js';

test('the shipped rules file loads with every rule of the standards table', (t) => {
  const rules = careRules();
  t.regex(rules.version, /^\d+\.\d+\.\d+$/);
  const ids = rules.rules.map((r) => r.id);
  for (let n = 1; n <= 15; n += 1) t.true(ids.includes(`R${n}`), `R${n}`);

  const orders = rules.rules.map((r) => r.order);
  t.deepEqual(
    orders,
    [...orders].sort((a, b) => a - b),
  );
  t.deepEqual(rules.rules.find((r) => r.id === 'R6')?.suppresses, ['R4', 'R5']);
  for (const rule of rules.rules) {
    t.true(rule.sources.length > 0, rule.id);
    t.true(STRENGTHS.includes(rule.strength), rule.id);
  }
});

test('rules where the sources disagree say so', (t) => {
  const rules = careRules();
  for (const id of ['R8', 'R10', 'R9', 'R4']) {
    t.truthy(rules.rules.find((r) => r.id === id)?.disagreement, id);
  }
});

/** The smallest valid document, for breaking one field at a time. */
function minimal(): Record<string, unknown> & { rules: Record<string, unknown>[] } {
  return {
    kind: 'jointspace-care-rules',
    version: '1.0.0',
    status: 'draft',
    guidelines: { 'NICE NG226 2022': { citation: 'NICE NG226' } },
    rules: [rule('R1'), rule('R2')],
  };
}

function rule(id: string): Record<string, unknown> {
  return {
    id,
    title: 'A rule',
    topic: 'a topic',
    kind: 'recommend',
    strength: 'strong',
    order: 1,
    recommendation: 'Do this.',
    patientText: 'Do this.',
    sources: [{ guideline: 'NICE NG226 2022', section: '1.4', grade: 'offer', statement: 'X.' }],
    conditions: { all: [] },
  };
}

const broken: [string, (doc: ReturnType<typeof minimal>) => void, RegExp][] = [
  ['kind', (d) => (d.kind = 'rules'), /: kind must be "jointspace-care-rules"$/],
  ['version', (d) => (d.version = '1'), /: version must be MAJOR\.MINOR\.PATCH/],
  ['status', (d) => (d.status = 'final'), /: status must be one of draft, approved$/],
  ['unknown top-level field', (d) => (d.extra = 1), /: the document\.extra must be absent/],
  [
    'guideline url',
    (d) => (d.guidelines = { 'NICE NG226 2022': { citation: 'x', url: 'http://nice' } }),
    /guidelines\["NICE NG226 2022"\]\.url must be an https URL$/,
  ],
  [
    'rule id',
    (d) => (d.rules[0] = { ...rule('1x') }),
    /: rules\[0\]\.id must be a capital letter followed by/,
  ],
  [
    'duplicate id',
    (d) => (d.rules[1] = rule('R1')),
    /: rules\[1\]\.id must be unique \(R1 appears twice\)$/,
  ],
  [
    'strength',
    (d) => (d.rules[1] = { ...rule('R2'), strength: 'medium' }),
    /: rules\[1\] \(R2\)\.strength must be one of strong, conditional/,
  ],
  [
    'kind of rule',
    (d) => (d.rules[0] = { ...rule('R1'), kind: 'suggest' }),
    /: rules\[0\] \(R1\)\.kind must be one of recommend, consider, avoid, refer, flag$/,
  ],
  [
    'order',
    (d) => (d.rules[0] = { ...rule('R1'), order: 1.5 }),
    /: rules\[0\] \(R1\)\.order must be a whole number/,
  ],
  [
    'empty patient text',
    (d) => (d.rules[0] = { ...rule('R1'), patientText: ' ' }),
    /: rules\[0\] \(R1\)\.patientText must be a non-empty string$/,
  ],
  [
    'misspelt field',
    (d) => (d.rules[0] = { ...rule('R1'), supresses: ['R2'] }),
    /: rules\[0\]\.supresses must be absent \(not a known field\)$/,
  ],
  [
    'no sources',
    (d) => (d.rules[0] = { ...rule('R1'), sources: [] }),
    /: rules\[0\] \(R1\)\.sources must be a non-empty array$/,
  ],
  [
    'unknown guideline',
    (d) =>
      (d.rules[0] = {
        ...rule('R1'),
        sources: [{ guideline: 'EULAR 2003', section: '1', grade: 'x', statement: 'x' }],
      }),
    /: rules\[0\] \(R1\)\.sources\[0\]\.guideline must be one of the guidelines listed/,
  ],
  [
    'source without statement',
    (d) =>
      (d.rules[0] = {
        ...rule('R1'),
        sources: [{ guideline: 'NICE NG226 2022', section: '1', grade: 'x' }],
      }),
    /: rules\[0\] \(R1\)\.sources\[0\]\.statement must be a non-empty string$/,
  ],
  [
    'unknown fact in a condition',
    (d) => (d.rules[1] = { ...rule('R2'), conditions: { all: [{ fact: 'weight', gt: 1 }] } }),
    /: rules\[1\] \(R2\)\.conditions\.all\[0\]\.fact must be a known fact \(got "weight"\)$/,
  ],
  [
    'caution without patient text',
    (d) =>
      (d.rules[0] = {
        ...rule('R1'),
        cautions: [{ topic: 't', conditions: { all: [] }, clinicianText: 'x' }],
      }),
    /: rules\[0\] \(R1\)\.cautions\[0\]\.patientText must be a non-empty string$/,
  ],
  [
    'suppressing an unknown rule',
    (d) => (d.rules[0] = { ...rule('R1'), suppresses: ['R9'] }),
    /: rules\[0\] \(R1\)\.suppresses\[0\] must be the id of a rule in this file \(R9 is not\)$/,
  ],
  [
    'suppressing itself',
    (d) => (d.rules[0] = { ...rule('R1'), suppresses: ['R1'] }),
    /: rules\[0\] \(R1\)\.suppresses\[0\] must be another rule/,
  ],
  [
    'a chain of suppression',
    (d) => {
      d.rules[0] = { ...rule('R1'), suppresses: ['R2'] };
      d.rules.push({ ...rule('R3'), suppresses: ['R1'] });
    },
    /: rules\[0\] \(R1\)\.suppresses\[0\] must be empty: R1 is itself suppressed/,
  ],
];

for (const [name, breakIt, message] of broken) {
  test(`a rules file with a bad ${name} is refused, naming the field`, (t) => {
    const doc = minimal();
    breakIt(doc);
    const error = t.throws(() => parseCareRules(doc, 'care-rules.json'));
    t.regex(error.message, /^care-rules\.json: /);
    t.regex(error.message, message);
  });
}

test('the minimal document is valid, so each failure above is the field it names', (t) => {
  const rules = parseCareRules(minimal());
  t.deepEqual(
    rules.rules.map((r) => r.id),
    ['R1', 'R2'],
  );
});

test('an unreadable rules file names the path', (t) => {
  const error = t.throws(() => careRules('/nonexistent/care-rules.json'));
  t.regex(error.message, /^care rules \/nonexistent\/care-rules\.json: /);
});
