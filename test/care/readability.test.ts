/**
 * Every patient explanation the engine can produce is plain: Flesch–Kincaid grade 8 or below
 * (the reading level of a 12–14 year old), short sentences, and none of the clinicians' words.
 *
 * "Can produce" is covered two ways: every explanation of every vignette, and every patient
 * text of the rules file on its own and with each of its cautions (an explanation is always
 * the rule's text followed by the texts of the cautions that apply).
 */
import test from 'ava';
import { recommend } from '../../src/care/engine.js';
import { readability } from '../../src/care/readability.js';
import { careRules } from '../../src/care/rules.js';
import { VIGNETTES } from './vignettes.js';

const MAX_GRADE = 8;
const MAX_SENTENCE_WORDS = 20;

/** Clinical words, abbreviations and Latin a patient explanation must not use. */
const JARGON = [
  /\bNSAIDs?\b/i,
  /\bKL\b/,
  /Kellgren/i,
  /\bCOX-?2\b/i,
  /\bPPIs?\b/,
  /intra-articular/i,
  /\bosteoarthritis\b/i,
  /\bOA\b/,
  /\bBMI\b/,
  /\bJSW\b/,
  /\bKOOS\b/,
  /\bmm\b/,
  /\bcorticosteroid/i,
  /\bhyaluron/i,
  /\btopical\b/i,
  /\boral\b/i,
  /\bgastro/i,
  /\bcardio/i,
  /\brenal\b/i,
  /\be\.g\.|\bi\.e\.|\betc\b|\bvia\b|\bvs\.?\b|\bper\b/i,
];

const rules = careRules();

/** Every distinct patient explanation, with where it came from. */
function explanations(): Map<string, string> {
  const texts = new Map<string, string>();
  for (const rule of rules.rules) {
    texts.set(rule.patientText, `${rule.id} text`);
    for (const caution of rule.cautions) {
      texts.set(`${rule.patientText} ${caution.patientText}`, `${rule.id} with ${caution.topic}`);
    }
  }
  for (const vignette of VIGNETTES) {
    for (const r of recommend(vignette.facts, rules).recommendations) {
      if (!texts.has(r.patientExplanation))
        texts.set(r.patientExplanation, `${r.id}, ${vignette.name}`);
    }
  }
  return texts;
}

test(`every patient explanation reads at grade ${MAX_GRADE} or below`, (t) => {
  const grades = [...explanations()].map(([text, where]) => ({
    where,
    grade: readability(text).grade,
  }));
  const mean = grades.reduce((sum, g) => sum + g.grade, 0) / grades.length;
  const hardest = grades.reduce((a, b) => (b.grade > a.grade ? b : a));
  t.log(
    `Flesch–Kincaid grade of ${grades.length} patient explanations: ` +
      `mean ${mean.toFixed(2)}, max ${hardest.grade.toFixed(2)} (${hardest.where})`,
  );
  for (const { where, grade } of grades) {
    t.true(grade <= MAX_GRADE, `${where}: grade ${grade.toFixed(2)}`);
  }
});

test('patient explanations use short sentences', (t) => {
  for (const [text, where] of explanations()) {
    for (const sentence of text.split(/[.!?]+(?=\s|$)/)) {
      const words = sentence.match(/[A-Za-z0-9']+/g) ?? [];
      t.true(words.length <= MAX_SENTENCE_WORDS, `${where}: "${sentence.trim()}"`);
    }
  }
});

test('patient explanations carry no clinical jargon', (t) => {
  for (const [text, where] of explanations()) {
    for (const word of JARGON) t.notRegex(text, word, where);
  }
});
