/**
 * The small condition language of mappings/care-rules.json.
 *
 * A condition is one of
 *   { "all": [c, ...] }   true when every part is true ("all": [] is always true)
 *   { "any": [c, ...] }   true when at least one part is true
 *   { "not": c }
 *   { "fact": name, <op>: operand }   with exactly one op of
 *       eq, ne (any fact), gt, gte, lt, lte (number facts), in (a list), present (true/false)
 *
 * Facts may be missing, so evaluation is three-valued (Kleene): a comparison on a missing
 * fact is `unknown`; `all` is false as soon as one part is false, `any` true as soon as one
 * part is true, otherwise an unknown part makes the whole unknown; `not unknown` is unknown.
 * Only `present` looks at whether a fact exists, and it is never unknown.
 */
import {
  FACT_CATALOGUE,
  describeFact,
  type DerivedFacts,
  type FactSpec,
  type FactValue,
} from './facts.js';

export const COMPARISONS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'present'] as const;
export type Comparison = (typeof COMPARISONS)[number];

export type Condition = { all: Condition[] } | { any: Condition[] } | { not: Condition } | FactTest;

export interface FactTest {
  fact: string;
  op: Comparison;
  operand: FactValue | FactValue[];
}

export type Truth = true | false | 'unknown';

/** A fact that decided part of a condition. */
export interface FactReading {
  fact: string;
  value: FactValue;
  /** e.g. "BMI 31.2 kg/m²". */
  text: string;
}

export interface Evaluation {
  truth: Truth;
  /** The facts that decided the outcome, in the order the condition names them. */
  because: FactReading[];
  /** Facts whose absence made the outcome unknown (empty unless truth is unknown). */
  missing: string[];
  /** Every fact the condition names that is missing, whether or not it mattered. */
  absent: string[];
}

/** Thrown by `parseCondition`; the rules loader turns it into a configuration error. */
export class ConditionError extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
  ) {
    super(`${field} must be ${expected}`);
    this.name = 'ConditionError';
  }
}

/** Checks a condition as written in JSON and returns it in the form `evaluate` reads. */
export function parseCondition(json: unknown, field: string): Condition {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConditionError(field, 'an object with one of all, any, not or fact');
  }
  const node = json as Record<string, unknown>;
  const keys = Object.keys(node);

  if ('all' in node || 'any' in node) {
    const key = 'all' in node ? 'all' : 'any';
    onlyKeys(keys, [key], field);
    const parts = node[key];
    if (!Array.isArray(parts)) throw new ConditionError(`${field}.${key}`, 'an array');
    if (key === 'any' && parts.length === 0) {
      throw new ConditionError(`${field}.any`, 'a non-empty array (an empty any never holds)');
    }
    const parsed = parts.map((part, i) => parseCondition(part, `${field}.${key}[${i}]`));
    return key === 'all' ? { all: parsed } : { any: parsed };
  }
  if ('not' in node) {
    onlyKeys(keys, ['not'], field);
    return { not: parseCondition(node.not, `${field}.not`) };
  }
  if ('fact' in node) return parseFactTest(node, keys, field);
  throw new ConditionError(field, 'an object with one of all, any, not or fact');
}

function parseFactTest(node: Record<string, unknown>, keys: string[], field: string): FactTest {
  const fact = node.fact;
  const spec = typeof fact === 'string' ? FACT_CATALOGUE.get(fact) : undefined;
  if (typeof fact !== 'string' || spec === undefined) {
    throw new ConditionError(`${field}.fact`, `a known fact (got ${JSON.stringify(fact)})`);
  }
  const ops = keys.filter((k) => k !== 'fact');
  const op = ops[0];
  if (ops.length !== 1 || op === undefined || !isComparison(op)) {
    throw new ConditionError(field, `"fact" with exactly one of ${COMPARISONS.join(', ')}`);
  }
  const operand = node[op];
  const where = `${field}.${op}`;

  if (op === 'present') {
    if (typeof operand !== 'boolean') throw new ConditionError(where, 'true or false');
    return { fact, op, operand };
  }
  if (op === 'in') {
    if (!Array.isArray(operand) || operand.length === 0) {
      throw new ConditionError(where, 'a non-empty array');
    }
    operand.forEach((value, i) => {
      checkOperand(value, spec, `${where}[${i}]`);
    });
    return { fact, op, operand: operand as FactValue[] };
  }
  if (['gt', 'gte', 'lt', 'lte'].includes(op) && spec.type !== 'number') {
    throw new ConditionError(where, `used on a number fact (${fact} is a ${spec.type})`);
  }
  return { fact, op, operand: checkOperand(operand, spec, where) };
}

function checkOperand(value: unknown, spec: FactSpec, where: string): FactValue {
  if (spec.type === 'number' && typeof value === 'number' && Number.isFinite(value)) return value;
  if (spec.type === 'boolean' && typeof value === 'boolean') return value;
  if (spec.type === 'string' && typeof value === 'string') {
    if (spec.values === undefined || spec.values.includes(value)) return value;
    throw new ConditionError(where, `one of ${spec.values.join(', ')}`);
  }
  throw new ConditionError(where, `a ${spec.type}`);
}

function onlyKeys(keys: string[], allowed: string[], field: string): void {
  const extra = keys.filter((k) => !allowed.includes(k));
  if (extra.length > 0) {
    throw new ConditionError(field, `only ${allowed.join(', ')} (unexpected ${extra.join(', ')})`);
  }
}

function isComparison(value: string): value is Comparison {
  return (COMPARISONS as readonly string[]).includes(value);
}

/** Evaluates a condition against the facts of one patient and knee. */
export function evaluate(condition: Condition, facts: DerivedFacts): Evaluation {
  if ('all' in condition) return combine(condition.all, facts, false);
  if ('any' in condition) return combine(condition.any, facts, true);
  if ('not' in condition) {
    const inner = evaluate(condition.not, facts);
    const truth = inner.truth === 'unknown' ? 'unknown' : !inner.truth;
    return { ...inner, truth };
  }
  return test(condition, facts);
}

/**
 * `all` (decisive = false) and `any` (decisive = true): a part equal to `decisive` decides
 * the whole and only such parts explain it; with none, an unknown part makes it unknown.
 * Every part is evaluated, so `absent` lists all missing facts.
 */
function combine(parts: Condition[], facts: DerivedFacts, decisive: boolean): Evaluation {
  const results = parts.map((part) => evaluate(part, facts));
  const absent = unique(results.flatMap((r) => r.absent));
  const deciding = results.filter((r) => r.truth === decisive);
  if (deciding.length > 0) {
    return { truth: decisive, because: merge(deciding), missing: [], absent };
  }
  const unknown = results.filter((r) => r.truth === 'unknown');
  if (unknown.length > 0) {
    return {
      truth: 'unknown',
      because: [],
      missing: unique(unknown.flatMap((r) => r.missing)),
      absent,
    };
  }
  return { truth: !decisive, because: merge(results), missing: [], absent };
}

function test(condition: FactTest, facts: DerivedFacts): Evaluation {
  const { fact, op, operand } = condition;
  const value = facts.values.get(fact);
  const absent = value === undefined ? [fact] : [];
  if (op === 'present') {
    const holds = (value !== undefined) === operand;
    const because: FactReading[] =
      value === undefined ? [] : [{ fact, value, text: describeFact(fact, value) }];
    return { truth: holds, because, missing: [], absent };
  }
  if (value === undefined) return { truth: 'unknown', because: [], missing: [fact], absent };
  return {
    truth: compare(value, op, operand),
    because: [{ fact, value, text: describeFact(fact, value) }],
    missing: [],
    absent,
  };
}

function compare(value: FactValue, op: Comparison, operand: FactValue | FactValue[]): boolean {
  if (Array.isArray(operand)) return operand.includes(value);
  if (op === 'eq') return value === operand;
  if (op === 'ne') return value !== operand;
  if (typeof value !== 'number' || typeof operand !== 'number') return false;
  switch (op) {
    case 'gt':
      return value > operand;
    case 'gte':
      return value >= operand;
    case 'lt':
      return value < operand;
    case 'lte':
      return value <= operand;
    case 'in':
    case 'present':
      return false;
  }
}

/** A condition in clinician words, e.g. "all of (BMI ≥ 25 kg/m²; latest pain ≥ 4/10)". */
export function describeCondition(condition: Condition): string {
  if ('all' in condition) {
    if (condition.all.length === 0) return 'always';
    return group('all of', condition.all);
  }
  if ('any' in condition) return group('any of', condition.any);
  if ('not' in condition) return `not (${describeCondition(condition.not)})`;
  return describeTest(condition);
}

function group(words: string, parts: Condition[]): string {
  if (parts.length === 1 && parts[0] !== undefined) return describeCondition(parts[0]);
  return `${words} (${parts.map(describeCondition).join('; ')})`;
}

const SYMBOLS: Record<Comparison, string> = {
  eq: '=',
  ne: '≠',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  in: 'in',
  present: 'recorded',
};

function describeTest({ fact, op, operand }: FactTest): string {
  const spec = FACT_CATALOGUE.get(fact);
  const label = spec?.label ?? fact;
  if (op === 'present') return operand === true ? `${label} recorded` : `no ${label} recorded`;
  if (typeof operand === 'boolean') {
    return `${label}: ${op === 'ne' ? 'not ' : ''}${operand ? 'yes' : 'no'}`;
  }
  const show = (v: FactValue) => {
    if (typeof v !== 'number' || spec?.unit === undefined) return String(v);
    return spec.unit.startsWith('/') ? `${String(v)}${spec.unit}` : `${String(v)} ${spec.unit}`;
  };
  const shown = Array.isArray(operand) ? `[${operand.map(show).join(', ')}]` : show(operand);
  return `${label} ${SYMBOLS[op]} ${shown}`;
}

function merge(results: Evaluation[]): FactReading[] {
  const seen = new Set<string>();
  const out: FactReading[] = [];
  for (const reading of results.flatMap((r) => r.because)) {
    if (seen.has(reading.fact)) continue;
    seen.add(reading.fact);
    out.push(reading);
  }
  return out;
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}
