/**
 * Which care proposal a card shows for one knee: one made now from the record the EHR sent in
 * the prefetch, or the one stored when the study was graded. Pure: the day is given.
 *
 * Fresh: the knee facts (laterality, KL grade, joint-space width) come from the stored result
 * and everything else from the prefetch (`buildCareFacts`), and `recommend()` runs again, so a
 * condition or treatment recorded since the grading changes the advice. Progression (change
 * since an earlier study) depends on the images only and is not in the stored result as facts,
 * so the rules that read nothing but progression facts keep their outcome from the stored
 * proposal (what fired, and what could not be assessed), and the card says so.
 */
import type { CarePlanProposal, MissingData, Recommendation } from '../care/engine.js';
import { recommend } from '../care/engine.js';
import type { Condition } from '../care/conditions.js';
import type { KneeFacts } from '../care/facts.js';
import type { CareRules } from '../care/rules.js';
import { buildCareFacts, type IgnoredValue, type PatientRecord } from '../fhir/care-facts.js';
import type { FhirCodes } from '../fhir/codes.js';
import type { CdsKneeResult } from './results.js';

/** The facts that compare this study with an earlier one (src/care/facts.ts). */
export const PROGRESSION_FACTS: ReadonlySet<string> = new Set([
  'jswLossMmPerYear',
  'klIncreaseWithin4Years',
  'medialJswLossMm',
]);

export type KneeEvaluation =
  | {
      basis: 'fresh';
      proposal: CarePlanProposal;
      /** Values of the record left out as absurd or malformed. */
      ignored: IgnoredValue[];
      /** Rules whose outcome was kept from the stored proposal. */
      carriedRules: string[];
    }
  | {
      basis: 'stored';
      proposal: CarePlanProposal;
      /** Why the record was not evaluated again. */
      because: string;
    };

export interface EvaluationInput {
  result: CdsKneeResult;
  /** The record from the prefetch, when it was usable. */
  record?: PatientRecord;
  /** Why there is no record, when there is none. */
  noRecordBecause: string;
  rules: CareRules;
  codes: FhirCodes;
  /** YYYY-MM-DD. */
  today: string;
}

export function evaluateKnee(input: EvaluationInput): KneeEvaluation {
  const { result, record, rules } = input;
  if (record === undefined) {
    return { basis: 'stored', proposal: result.proposal, because: input.noRecordBecause };
  }

  const knee: KneeFacts = {
    laterality: result.laterality,
    klGrade: result.klGrade,
    jsw: {
      ...(result.jsw?.medialMinMm === undefined ? {} : { medialMm: result.jsw.medialMinMm }),
      ...(result.jsw?.lateralMinMm === undefined ? {} : { lateralMm: result.jsw.lateralMinMm }),
    },
  };
  let fresh: CarePlanProposal;
  let ignored: IgnoredValue[];
  try {
    const built = buildCareFacts(record, input.codes, {
      studyDate: input.today,
      asOf: input.today,
      knee,
    });
    ignored = built.ignored;
    fresh = recommend(built.facts, rules);
  } catch {
    // A resource whose shape the reader does not expect, or a stored knee value outside its
    // scale: the stored proposal is still sound advice, today's record is not usable.
    return {
      basis: 'stored',
      proposal: result.proposal,
      because: 'the record sent in the prefetch could not be read',
    };
  }

  const carried = progressionRules(rules);
  return {
    basis: 'fresh',
    proposal: carryOver(fresh, result.proposal, carried),
    ignored,
    carriedRules: [...carried],
  };
}

/** Rules that read progression facts and nothing else. */
export function progressionRules(rules: CareRules): Set<string> {
  const ids = new Set<string>();
  for (const rule of rules.rules) {
    const facts = factsOf(rule.conditions);
    if (facts.length > 0 && facts.every((fact) => PROGRESSION_FACTS.has(fact))) ids.add(rule.id);
  }
  return ids;
}

function factsOf(condition: Condition): string[] {
  if ('all' in condition) return condition.all.flatMap(factsOf);
  if ('any' in condition) return condition.any.flatMap(factsOf);
  if ('not' in condition) return factsOf(condition.not);
  return [condition.fact];
}

/** The fresh proposal with the outcome of `carried` rules taken from the stored one. */
function carryOver(
  fresh: CarePlanProposal,
  stored: CarePlanProposal,
  carried: ReadonlySet<string>,
): CarePlanProposal {
  const isCarried = (item: Recommendation) => carried.has(item.id);
  const onlyCarried = (item: MissingData) =>
    item.rules.length > 0 && item.rules.every((id) => carried.has(id));

  const recommendations = [
    ...fresh.recommendations.filter((r) => !isCarried(r)),
    ...stored.recommendations.filter(isCarried),
  ].sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  const missing = [
    ...fresh.missing.filter((m) => !onlyCarried(m)),
    ...stored.missing.filter(onlyCarried),
  ];
  return { ...fresh, recommendations, missing };
}
