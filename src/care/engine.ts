/**
 * The recommendation engine: the facts of one patient and knee, the rule table, and out comes
 * a care plan proposal — ordered recommendations, each explained for the clinician and for the
 * patient, the rules held back by a contraindication, and what data was missing and which
 * advice that left unassessed.
 *
 * Pure and deterministic: no I/O, no clock (`facts.asOf` is the day), the same input gives the
 * same output. The proposal is decision support for a clinician to review; it becomes a FHIR
 * CarePlan with status draft and intent proposal (standards.md, FHIR R4).
 *
 * How rules combine:
 * - a rule fires when its condition is true; false rules are silent; an unknown rule (its
 *   answer depends on a missing fact) is listed under `missing` with the reason;
 * - a rule named in another rule's `suppresses` is held back when that rule fires (R6 "avoid
 *   oral NSAIDs" over R4 "oral NSAID"), and is also held back, with the reason, when that
 *   rule is unknown: a contraindication that cannot be ruled out is not ignored.
 */
import { describeCondition, evaluate, type Evaluation, type FactReading } from './conditions.js';
import {
  checkFacts,
  deriveFacts,
  type CareFacts,
  type DerivedFacts,
  type Laterality,
} from './facts.js';
import type { CareRule, CareRules, RuleKind, RuleSource, RulesStatus, Strength } from './rules.js';

export type TriggerFact = FactReading;

export interface Recommendation {
  /** The rule id, e.g. "R3". */
  id: string;
  title: string;
  kind: RuleKind;
  strength: Strength;
  order: number;
  /** Short citation: each source with its own grade, e.g. "OARSI 2019: Level 1A; NICE NG226 2022: offer". */
  source: string;
  sources: RuleSource[];
  /** The facts and values that made the rule fire. */
  triggeredBy: TriggerFact[];
  clinicianExplanation: string;
  patientExplanation: string;
  disagreement?: string;
  /** Cautions of the rule that apply to this patient (clinician wording). */
  cautions: string[];
  /** Missing data that limited this recommendation. */
  missing: string[];
}

export interface SuppressedRule {
  id: string;
  title: string;
  /** The rules that held it back. */
  by: string[];
}

export interface MissingData {
  /** e.g. "no BMI on record: weight advice (R2) could not be assessed". */
  message: string;
  reasons: string[];
  facts: string[];
  /** The rules this left unassessed or held back. */
  rules: string[];
}

export interface CarePlanProposal {
  rulesVersion: string;
  rulesStatus: RulesStatus;
  asOf: string;
  laterality?: Laterality;
  klGrade?: number;
  /** Sorted by the rules' order, then id. */
  recommendations: Recommendation[];
  suppressed: SuppressedRule[];
  missing: MissingData[];
}

interface Unassessed {
  rule: CareRule;
  facts: string[];
  /** Suppressing rules that could not be ruled out. */
  heldBy: CareRule[];
}

/** Proposes care for one knee of one patient. Throws `invalid-argument` on unclean facts. */
export function recommend(facts: CareFacts, rules: CareRules): CarePlanProposal {
  checkFacts(facts);
  const derived = deriveFacts(facts);
  const results = new Map(rules.rules.map((r) => [r.id, evaluate(r.conditions, derived)]));
  const truthOf = (rule: CareRule) => results.get(rule.id)?.truth ?? false;

  const recommendations: Recommendation[] = [];
  const suppressed: SuppressedRule[] = [];
  const unassessed: Unassessed[] = [];
  for (const rule of rules.rules) {
    const result = results.get(rule.id);
    if (result === undefined || result.truth === false) continue;
    if (result.truth === 'unknown') {
      unassessed.push({ rule, facts: result.missing, heldBy: [] });
      continue;
    }

    const suppressors = rules.rules.filter((r) => r.suppresses.includes(rule.id));
    const firing = suppressors.filter((r) => truthOf(r) === true);
    if (firing.length > 0) {
      suppressed.push({ id: rule.id, title: rule.title, by: firing.map((r) => r.id) });
      continue;
    }
    const unsure = suppressors.filter((r) => truthOf(r) === 'unknown');
    if (unsure.length > 0) {
      const missingFacts = unsure.flatMap((r) => results.get(r.id)?.missing ?? []);
      unassessed.push({ rule, facts: [...new Set(missingFacts)], heldBy: unsure });
      continue;
    }
    recommendations.push(explain(rule, result, derived, rules));
  }

  return {
    rulesVersion: rules.version,
    rulesStatus: rules.status,
    asOf: facts.asOf,
    laterality: facts.knee.laterality,
    klGrade: facts.knee.klGrade,
    recommendations,
    suppressed,
    missing: groupMissing(unassessed, derived),
  };
}

function explain(
  rule: CareRule,
  result: Evaluation,
  derived: DerivedFacts,
  rules: CareRules,
): Recommendation {
  const cautions = rule.cautions.map((caution) => ({
    caution,
    result: evaluate(caution.conditions, derived),
  }));
  const applying = cautions.filter((c) => c.result.truth === true).map((c) => c.caution);
  const missing = cautions
    .filter((c) => c.result.truth === 'unknown')
    .map(
      (c) => `${reasons(c.result.missing, derived).join('; ')}: could not check ${c.caution.topic}`,
    );

  return {
    id: rule.id,
    title: rule.title,
    kind: rule.kind,
    strength: rule.strength,
    order: rule.order,
    source: rule.sources.map((s) => `${s.guideline}: ${s.grade}`).join('; '),
    sources: rule.sources,
    triggeredBy: result.because,
    clinicianExplanation: clinicianText(
      rule,
      result,
      applying.map((c) => c.clinicianText),
      rules,
    ),
    patientExplanation: [rule.patientText, ...applying.map((c) => c.patientText)].join(' '),
    disagreement: rule.disagreement,
    cautions: applying.map((c) => c.clinicianText),
    missing,
  };
}

const STRENGTH_WORDS: Record<Strength, string> = {
  strong: 'strong recommendation',
  conditional: 'conditional recommendation',
  'conditional-against': 'conditional recommendation against',
  'strong-against': 'strong recommendation against',
  'not-graded': 'not graded by a guideline',
};

/** Facts, rule, sources, strength, disagreement: what a clinician needs to check the advice. */
function clinicianText(
  rule: CareRule,
  result: Evaluation,
  cautions: string[],
  rules: CareRules,
): string {
  const facts = result.because.map((r) => r.text).join(', ');
  const condition = describeCondition(rule.conditions);
  const held = rule.suppresses.map((id) => {
    const target = rules.rules.find((r) => r.id === id);
    return target === undefined ? id : `${id} (${target.title})`;
  });
  const parts = [
    `${rule.id} ${rule.title} (${STRENGTH_WORDS[rule.strength]}).`,
    rule.recommendation,
    facts === '' ? 'Applies to every patient assessed.' : `Triggered by: ${facts}.`,
    condition === 'always' ? '' : `Rule: ${condition}.`,
    `Sources: ${rule.sources.map((s) => `${s.guideline}, ${s.section} (${s.grade}): ${s.statement}`).join(' ')}`,
    rule.disagreement === undefined ? '' : `Sources disagree: ${rule.disagreement}`,
    ...cautions.map((text) => `Caution: ${text}`),
    held.length === 0 ? '' : `Holds back: ${held.join(', ')}.`,
    rule.notes === undefined ? '' : `Note: ${rule.notes}`,
    `Care rules ${rules.version} (${rules.status}).`,
  ];
  return parts.filter((p) => p !== '').join(' ');
}

/** One entry per distinct set of reasons, in rule order. */
function groupMissing(unassessed: Unassessed[], derived: DerivedFacts): MissingData[] {
  const groups = new Map<string, { reasons: string[]; items: Unassessed[] }>();
  for (const item of unassessed) {
    const why = reasons(item.facts, derived);
    const key = `${why.join('\n')}\n${item.heldBy.map((r) => r.id).join(',')}`;
    const group = groups.get(key) ?? { reasons: why, items: [] };
    group.items.push(item);
    groups.set(key, group);
  }

  return [...groups.values()].map(({ reasons: why, items }) => {
    const topics = items.map((i) => `${i.rule.topic} (${i.rule.id})`).join(', ');
    const heldBy = items[0]?.heldBy ?? [];
    const outcome =
      heldBy.length === 0
        ? 'could not be assessed'
        : `held back, because ${heldBy.map((r) => `${r.topic} (${r.id})`).join(', ')} could not be ruled out`;
    return {
      message: `${why.join('; ')}: ${topics} ${outcome}`,
      reasons: why,
      facts: [...new Set(items.flatMap((i) => i.facts))],
      rules: items.map((i) => i.rule.id),
    };
  });
}

function reasons(facts: string[], derived: DerivedFacts): string[] {
  return [...new Set(facts.map((f) => derived.missing.get(f) ?? `no ${f} on record`))];
}
