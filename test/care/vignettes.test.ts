import test from 'ava';
import { recommend, type CarePlanProposal } from '../../src/care/engine.js';
import { careRules } from '../../src/care/rules.js';
import { AS_OF, VIGNETTES } from './vignettes.js';

const rules = careRules();

test('there are at least 30 vignettes, each with a unique name', (t) => {
  const names = new Set(VIGNETTES.map((v) => v.name));
  t.is(names.size, VIGNETTES.length);
  t.true(VIGNETTES.length >= 30);
  t.log(`${VIGNETTES.length} vignettes`);
});

for (const vignette of VIGNETTES) {
  test(`vignette: ${vignette.name}`, (t) => {
    const proposal = recommend(vignette.facts, rules);
    const ids = proposal.recommendations.map((r) => r.id);

    for (const id of vignette.present)
      t.true(ids.includes(id), `${id} expected in ${ids.join(' ')}`);
    for (const id of vignette.absent) t.false(ids.includes(id), `${id} must be absent`);
    for (const id of vignette.suppressed ?? []) {
      t.true(
        proposal.suppressed.some((s) => s.id === id),
        `${id} expected to be held back`,
      );
    }
    const unassessed = proposal.missing.flatMap((m) => m.rules);
    for (const id of vignette.assessed ?? [])
      t.false(unassessed.includes(id), `${id} not assessed`);
    for (const pattern of vignette.missing ?? []) {
      t.true(
        proposal.missing.some((m) => pattern.test(m.message)),
        `no missing message matches ${String(pattern)}: ${JSON.stringify(messages(proposal))}`,
      );
    }
    for (const [id, pattern] of Object.entries(vignette.clinician ?? {})) {
      t.regex(find(proposal, id)?.clinicianExplanation ?? '', pattern, `clinician text of ${id}`);
    }
    for (const [id, pattern] of Object.entries(vignette.limited ?? {})) {
      const notes = find(proposal, id)?.missing ?? [];
      t.true(
        notes.some((note) => pattern.test(note)),
        `${id}: ${JSON.stringify(notes)}`,
      );
    }
    for (const [id, pattern] of Object.entries(vignette.patient ?? {})) {
      t.regex(find(proposal, id)?.patientExplanation ?? '', pattern, `patient text of ${id}`);
    }
  });
}

test('a suppressed rule never appears as a recommendation', (t) => {
  for (const vignette of VIGNETTES) {
    const proposal = recommend(vignette.facts, rules);
    const ids = new Set(proposal.recommendations.map((r) => r.id));
    for (const held of proposal.suppressed) t.false(ids.has(held.id), vignette.name);
  }
});

test('recommendations come in rule order and the same facts give the same proposal', (t) => {
  for (const vignette of VIGNETTES) {
    const first = recommend(vignette.facts, rules);
    t.deepEqual(recommend(structuredClone(vignette.facts), rules), first, vignette.name);
    const orders = first.recommendations.map((r) => r.order);
    t.deepEqual(
      orders,
      [...orders].sort((a, b) => a - b),
      vignette.name,
    );
  }
});

test('every recommendation is complete: source, triggers, both explanations', (t) => {
  for (const vignette of VIGNETTES) {
    for (const r of recommend(vignette.facts, rules).recommendations) {
      const where = `${vignette.name} ${r.id}`;
      t.not(r.title, '', where);
      t.regex(r.source, /^[^:;]+ \d{4}: [^;]+(; [^:;]+ \d{4}: [^;]+)*$/, where);
      t.regex(r.clinicianExplanation, new RegExp(`^${r.id} `), where);
      t.regex(r.clinicianExplanation, /Sources: /, where);
      t.regex(r.clinicianExplanation, /Care rules \d+\.\d+\.\d+ \(draft\)\.$/, where);
      t.not(r.patientExplanation, '', where);
      if (r.id !== 'R1') t.true(r.triggeredBy.length > 0, `${where} has no triggering facts`);
      if (r.disagreement !== undefined) t.regex(r.clinicianExplanation, /Sources disagree: /);
    }
  }
});

test('the proposal names the rules version, the day and the knee', (t) => {
  const proposal = recommend(VIGNETTES[0]?.facts ?? { asOf: AS_OF, knee: {} }, rules);
  t.is(proposal.rulesVersion, rules.version);
  t.is(proposal.rulesStatus, 'draft');
  t.is(proposal.asOf, AS_OF);
  t.is(proposal.laterality, 'R');
  t.is(proposal.klGrade, 1);
});

test('facts that were not filtered are refused, naming the field', (t) => {
  const base = { asOf: AS_OF, knee: { klGrade: 2 } };
  const bmi = t.throws(() => recommend({ ...base, bmi: 400 }, rules));
  t.regex(bmi.message, /bmi must be a number from 10 to 100 \(got 400\)/);
  const painScore = t.throws(() =>
    recommend({ ...base, painScores: [{ date: '2025-05-01', score: 42 }] }, rules),
  );
  t.regex(painScore.message, /painScores\[0\]\.score must be a number from 0 to 10/);
  const grade = t.throws(() => recommend({ asOf: AS_OF, knee: { klGrade: 2.5 } }, rules));
  t.regex(grade.message, /knee\.klGrade must be a whole number/);
});

function find(proposal: CarePlanProposal, id: string) {
  return proposal.recommendations.find((r) => r.id === id);
}

function messages(proposal: CarePlanProposal): string[] {
  return proposal.missing.map((m) => m.message);
}
