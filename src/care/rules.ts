/**
 * The guideline rule table (mappings/care-rules.json): loaded, checked field by field, and
 * handed to the engine in priority order.
 *
 * The file is the reviewable summary of rules R1–R15 of standards.md (OARSI 2019, ACR/AF 2019,
 * NICE NG226 2022) plus any rule added since; the format and the review procedure are in
 * src/care/README.md. A hand-edited file that is wrong fails with a message naming the field
 * and what was expected, never with a half-loaded table.
 */
import { JointspaceError } from '../errors.js';
import { loadMapping } from '../mappings.js';
import { fromRoot } from '../paths.js';
import { ConditionError, parseCondition, type Condition } from './conditions.js';

export const CARE_RULES_KIND = 'jointspace-care-rules';
export const CARE_RULES_PATH = fromRoot('mappings', 'care-rules.json');

export const RULE_KINDS = ['recommend', 'consider', 'avoid', 'refer', 'flag'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/**
 * The project's summary of how firmly the cited sources stand (see README: strong only when
 * at least two sources are strong or "core" in that direction). `not-graded` is for research
 * findings that no guideline grades (the progression flags).
 */
export const STRENGTHS = [
  'strong',
  'conditional',
  'conditional-against',
  'strong-against',
  'not-graded',
] as const;
export type Strength = (typeof STRENGTHS)[number];

/** `draft` until a named clinician has reviewed this version of the file. */
export const RULES_STATUSES = ['draft', 'approved'] as const;
export type RulesStatus = (typeof RULES_STATUSES)[number];

export interface Guideline {
  /** The key sources use, e.g. "OARSI 2019". */
  name: string;
  citation: string;
  url?: string;
}

export interface RuleSource {
  guideline: string;
  /** Where in the source, as precisely as it can honestly be given. */
  section: string;
  /** The source's own grading in its own terms ("Level 1A", "strong", "offer"). */
  grade: string;
  /** That source's position, in our words. */
  statement: string;
}

/** Extra advice attached to a rule when its own condition also holds. */
export interface Caution {
  topic: string;
  conditions: Condition;
  clinicianText: string;
  patientText: string;
}

export interface CareRule {
  id: string;
  title: string;
  /** What the rule is about, for "could not be assessed" messages, e.g. "weight advice". */
  topic: string;
  kind: RuleKind;
  strength: Strength;
  /** Lower comes first. */
  order: number;
  /** Clinician wording. */
  recommendation: string;
  /** Plain words for the patient. */
  patientText: string;
  sources: RuleSource[];
  /** How the sources differ, where they do. */
  disagreement?: string;
  /** Reviewer notes: thresholds the project chose, what the rule cannot judge. */
  notes?: string;
  conditions: Condition;
  /** Rules this one holds back when it fires (a contraindication over a recommendation). */
  suppresses: string[];
  cautions: Caution[];
}

export interface CareRules {
  version: string;
  status: RulesStatus;
  guidelines: ReadonlyMap<string, Guideline>;
  /** Sorted by order, then id. */
  rules: CareRule[];
}

/** The rules of mappings/care-rules.json (or `path`), read and validated once per process. */
export function careRules(path = CARE_RULES_PATH): CareRules {
  return loadMapping(path, 'care rules', (json) => parseCareRules(json, path));
}

const FILE_FIELDS = ['kind', 'version', 'status', 'about', 'guidelines', 'rules'];
const RULE_FIELDS = [
  'id',
  'title',
  'topic',
  'kind',
  'strength',
  'order',
  'recommendation',
  'patientText',
  'sources',
  'disagreement',
  'notes',
  'conditions',
  'suppresses',
  'cautions',
];

/** Validates every field, so a hand-edited file fails with a message naming the field. */
export function parseCareRules(json: unknown, source = 'care rules'): CareRules {
  const fail = (field: string, expected: string): never => {
    throw new JointspaceError('invalid-configuration', `${source}: ${field} must be ${expected}`);
  };
  const object = (value: unknown, field: string, allowed?: string[]): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return fail(field, 'an object');
    }
    const extra = Object.keys(value).filter((k) => allowed !== undefined && !allowed.includes(k));
    if (extra.length > 0) fail(`${field}.${extra[0] ?? ''}`, 'absent (not a known field)');
    return value as Record<string, unknown>;
  };
  const list = (value: unknown, field: string): unknown[] =>
    Array.isArray(value) ? value : fail(field, 'an array');
  const text = (value: unknown, field: string): string =>
    typeof value === 'string' && value.trim() !== '' ? value : fail(field, 'a non-empty string');
  const optionalText = (value: unknown, field: string): string | undefined =>
    value === undefined ? undefined : text(value, field);
  const oneOf = <T extends string>(value: unknown, choices: readonly T[], field: string): T =>
    typeof value === 'string' && (choices as readonly string[]).includes(value)
      ? (value as T)
      : fail(field, `one of ${choices.join(', ')}`);
  const condition = (value: unknown, field: string): Condition => {
    try {
      return parseCondition(value, field);
    } catch (error) {
      if (error instanceof ConditionError) return fail(error.field, error.expected);
      throw error;
    }
  };

  const root = object(json, 'the document', FILE_FIELDS);
  if (root.kind !== CARE_RULES_KIND) fail('kind', `"${CARE_RULES_KIND}"`);
  const version = text(root.version, 'version');
  if (!/^\d+\.\d+\.\d+$/.test(version)) fail('version', 'MAJOR.MINOR.PATCH, e.g. "1.0.0"');
  const status = oneOf(root.status, RULES_STATUSES, 'status');

  const guidelines = new Map<string, Guideline>();
  for (const [name, value] of Object.entries(object(root.guidelines, 'guidelines'))) {
    const field = `guidelines["${name}"]`;
    const entry = object(value, field, ['citation', 'url']);
    const url = optionalText(entry.url, `${field}.url`);
    if (url !== undefined && !/^https:\/\//.test(url)) fail(`${field}.url`, 'an https URL');
    guidelines.set(name, { name, citation: text(entry.citation, `${field}.citation`), url });
  }

  const rules = list(root.rules, 'rules').map((value, index): CareRule => {
    const field = `rules[${index}]`;
    const rule = object(value, field, RULE_FIELDS);
    const id = text(rule.id, `${field}.id`);
    if (!/^[A-Z][A-Za-z0-9-]*$/.test(id)) {
      fail(`${field}.id`, 'a capital letter followed by letters, digits or -');
    }
    const at = `rules[${index}] (${id})`;

    const order = rule.order;
    if (typeof order !== 'number' || !Number.isInteger(order) || order < 0) {
      fail(`${at}.order`, 'a whole number ≥ 0');
    }
    const sources = list(rule.sources, `${at}.sources`).map((entry, i): RuleSource => {
      const where = `${at}.sources[${i}]`;
      const item = object(entry, where, ['guideline', 'section', 'grade', 'statement']);
      const guideline = text(item.guideline, `${where}.guideline`);
      if (!guidelines.has(guideline)) {
        fail(
          `${where}.guideline`,
          `one of the guidelines listed (${[...guidelines.keys()].join(', ')})`,
        );
      }
      return {
        guideline,
        section: text(item.section, `${where}.section`),
        grade: text(item.grade, `${where}.grade`),
        statement: text(item.statement, `${where}.statement`),
      };
    });
    if (sources.length === 0) fail(`${at}.sources`, 'a non-empty array');

    const cautions = list(rule.cautions ?? [], `${at}.cautions`).map((entry, i): Caution => {
      const where = `${at}.cautions[${i}]`;
      const item = object(entry, where, ['topic', 'conditions', 'clinicianText', 'patientText']);
      return {
        topic: text(item.topic, `${where}.topic`),
        conditions: condition(item.conditions, `${where}.conditions`),
        clinicianText: text(item.clinicianText, `${where}.clinicianText`),
        patientText: text(item.patientText, `${where}.patientText`),
      };
    });

    return {
      id,
      title: text(rule.title, `${at}.title`),
      topic: text(rule.topic, `${at}.topic`),
      kind: oneOf(rule.kind, RULE_KINDS, `${at}.kind`),
      strength: oneOf(rule.strength, STRENGTHS, `${at}.strength`),
      order: order as number,
      recommendation: text(rule.recommendation, `${at}.recommendation`),
      patientText: text(rule.patientText, `${at}.patientText`),
      sources,
      disagreement: optionalText(rule.disagreement, `${at}.disagreement`),
      notes: optionalText(rule.notes, `${at}.notes`),
      conditions: condition(rule.conditions, `${at}.conditions`),
      suppresses: list(rule.suppresses ?? [], `${at}.suppresses`).map((s, i) =>
        text(s, `${at}.suppresses[${i}]`),
      ),
      cautions,
    };
  });

  checkIdentities(rules, fail);
  rules.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  return { version, status, guidelines, rules };
}

/** Unique ids; suppression only of known rules, never of itself, and one level deep. */
function checkIdentities(rules: CareRule[], fail: (field: string, expected: string) => never) {
  const ids = new Set<string>();
  rules.forEach((rule, index) => {
    if (ids.has(rule.id)) fail(`rules[${index}].id`, `unique (${rule.id} appears twice)`);
    ids.add(rule.id);
  });
  const suppressed = new Set(rules.flatMap((r) => r.suppresses));
  rules.forEach((rule, index) => {
    rule.suppresses.forEach((target, i) => {
      const field = `rules[${index}] (${rule.id}).suppresses[${i}]`;
      if (!ids.has(target)) fail(field, `the id of a rule in this file (${target} is not)`);
      if (target === rule.id) fail(field, 'another rule (a rule cannot suppress itself)');
      if (suppressed.has(rule.id)) {
        fail(field, `empty: ${rule.id} is itself suppressed, and suppression is one level deep`);
      }
    });
  });
}
