/**
 * What the care engine knows about one patient and one knee, and the named facts its rules
 * read.
 *
 * `CareFacts` is the input: clean values only. Whoever builds it (the FHIR reader) drops absurd
 * or malformed values with a recorded reason before they get here; `checkFacts` refuses any
 * that slip through rather than reasoning on them. Every field may be missing, and missing is
 * never read as "no": a rule whose answer depends on a missing fact is reported as not
 * assessed, with the reason (see engine.ts).
 *
 * `deriveFacts` turns the input into the flat, named facts of `FACT_CATALOGUE` (latest pain,
 * pain trend, months of exercise, each comorbidity as yes/no, ...). The rules file may only
 * name facts from that catalogue.
 */
import { JointspaceError } from '../errors.js';

/** Comorbidities that change the choice of treatment (standards.md, FHIR R4 inputs). */
export const CONDITION_CODES = [
  'gi-bleed-or-ulcer',
  'cardiovascular-disease',
  'chronic-kidney-disease',
  'frailty',
  'depression',
  'diabetes',
] as const;
export type ConditionCode = (typeof CONDITION_CODES)[number];

/** Treatments whose history the rules read. */
export const TREATMENT_CODES = [
  'topical-nsaid',
  'oral-nsaid',
  'paracetamol',
  'opioid',
  'intra-articular-steroid',
  'intra-articular-hyaluronic',
  'physiotherapy-or-exercise',
  'knee-replacement',
] as const;
export type TreatmentCode = (typeof TREATMENT_CODES)[number];

/** FHIR AdministrativeGender. */
export const SEXES = ['female', 'male', 'other', 'unknown'] as const;
export type AdministrativeSex = (typeof SEXES)[number];

export type Laterality = 'R' | 'L';

/** A pain score on a 0–10 numeric rating scale (LOINC 72514-3 or 38208-5). */
export interface PainScore {
  /** YYYY-MM-DD. */
  date: string;
  score: number;
}

/** One course of a treatment; dates are YYYY-MM-DD. */
export interface TreatmentRecord {
  treatment: TreatmentCode;
  start?: string;
  end?: string;
  /** Length of the course when the dates are not known. */
  weeks?: number;
  /** Whether the patient is on it at `asOf`; when absent, a past `end` means "not current". */
  current?: boolean;
}

/** KOOS and KOOS JR, each 0–100 with 100 the best (no symptoms, no limits). */
export interface KoosScores {
  koosJr?: number;
  pain?: number;
  symptoms?: number;
  adl?: number;
  sportRec?: number;
  qol?: number;
}

/** Radiographic joint-space width of this knee, in millimetres. */
export interface JswMeasurements {
  medialMm?: number;
  lateralMm?: number;
}

/** Change since an earlier study of the same knee. */
export interface Progression {
  /** Medial JSW change per year, mm/yr; negative is narrowing. */
  jswChangeMmPerYear?: number;
  /** KL grade now minus the earlier KL grade. */
  klChange?: number;
  /** Years between the earlier study and this one. */
  klChangeYears?: number;
  /** Medial JSW lost since the earlier study, mm; positive is narrowing. */
  medialJswLossMm?: number;
}

export interface KneeFacts {
  laterality?: Laterality;
  /** Kellgren–Lawrence grade 0–4 of this knee. */
  klGrade?: number;
  jsw?: JswMeasurements;
  progression?: Progression;
}

export interface CareFacts {
  /** The day the advice is for (YYYY-MM-DD); durations and "recent" are measured to it. */
  asOf: string;
  age?: number;
  sex?: AdministrativeSex;
  /** kg/m². */
  bmi?: number;
  painScores?: PainScore[];
  koos?: KoosScores;
  /** The problem list: absent means it was not available, [] means nothing relevant on it. */
  conditions?: ConditionCode[];
  /** Treatments tried: absent means the history was not available, [] means none recorded. */
  treatments?: TreatmentRecord[];
  /** Treatments the patient or clinician asked about; absent is the same as []. */
  askedAbout?: TreatmentCode[];
  /** Problems with walking or getting about. */
  mobilityProblems?: boolean;
  knee: KneeFacts;
}

export type FactValue = number | boolean | string;
export type FactType = 'number' | 'boolean' | 'string';

export interface FactSpec {
  type: FactType;
  /** Clinician wording, e.g. "BMI". */
  label: string;
  unit?: string;
  /** The only values a string fact takes. */
  values?: readonly string[];
}

/** Facts as the rules see them; a missing fact has a reason instead of a value. */
export interface DerivedFacts {
  values: ReadonlyMap<string, FactValue>;
  missing: ReadonlyMap<string, string>;
}

/** A pain score older than this, counted back from `asOf`, is not used. */
export const PAIN_LOOKBACK_MONTHS = 12;
/** The pain trend compares the latest score with the earliest of this many months before it. */
export const PAIN_TREND_MONTHS = 12;
/**
 * A change of at least 2 points on the 0–10 scale counts as a real change in pain: the
 * usual minimal clinically important difference for a numeric rating scale.
 */
export const PAIN_TREND_POINTS = 2;
/** From this score up, pain is moderate or severe (0–10 scale, 4–6 moderate, 7–10 severe). */
export const MODERATE_PAIN = 4;

const DAYS_PER_MONTH = 30.4375;

const CONDITION_LABELS: Record<ConditionCode, string> = {
  'gi-bleed-or-ulcer': 'gastrointestinal bleeding or ulcer',
  'cardiovascular-disease': 'cardiovascular disease',
  'chronic-kidney-disease': 'chronic kidney disease',
  frailty: 'frailty',
  depression: 'depression',
  diabetes: 'diabetes',
};

const TREATMENT_LABELS: Record<TreatmentCode, string> = {
  'topical-nsaid': 'topical NSAID',
  'oral-nsaid': 'oral NSAID',
  paracetamol: 'paracetamol',
  opioid: 'opioid',
  'intra-articular-steroid': 'intra-articular corticosteroid',
  'intra-articular-hyaluronic': 'intra-articular hyaluronic acid',
  'physiotherapy-or-exercise': 'physiotherapy or exercise programme',
  'knee-replacement': 'knee replacement',
};

/** Every fact a rule may name, with its type and the words used to show it. */
export const FACT_CATALOGUE: ReadonlyMap<string, FactSpec> = new Map<string, FactSpec>([
  ['age', { type: 'number', label: 'age', unit: 'years' }],
  ['sex', { type: 'string', label: 'sex', values: SEXES }],
  ['bmi', { type: 'number', label: 'BMI', unit: 'kg/m²' }],
  ['latestPain', { type: 'number', label: 'latest pain', unit: '/10' }],
  ['latestPainDate', { type: 'string', label: 'date of latest pain score' }],
  [
    'painTrend',
    { type: 'string', label: 'pain trend', values: ['worsening', 'stable', 'improving'] },
  ],
  ['moderatePainMonths', { type: 'number', label: 'moderate-to-severe pain for', unit: 'months' }],
  ['koosJr', { type: 'number', label: 'KOOS JR', unit: '/100' }],
  ['koosPain', { type: 'number', label: 'KOOS pain', unit: '/100' }],
  ['koosAdl', { type: 'number', label: 'KOOS daily living', unit: '/100' }],
  ...CONDITION_CODES.map((code): [string, FactSpec] => [
    `condition.${code}`,
    { type: 'boolean', label: CONDITION_LABELS[code] },
  ]),
  ...TREATMENT_CODES.flatMap((code): [string, FactSpec][] => [
    [`treatment.${code}.tried`, { type: 'boolean', label: `${TREATMENT_LABELS[code]} tried` }],
    [`treatment.${code}.current`, { type: 'boolean', label: `on ${TREATMENT_LABELS[code]} now` }],
    [`askedAbout.${code}`, { type: 'boolean', label: `asked about ${TREATMENT_LABELS[code]}` }],
  ]),
  [
    'exerciseMonths',
    { type: 'number', label: 'longest exercise or physiotherapy course', unit: 'months' },
  ],
  ['mobilityProblems', { type: 'boolean', label: 'mobility problems' }],
  ['laterality', { type: 'string', label: 'knee', values: ['R', 'L'] }],
  ['klGrade', { type: 'number', label: 'KL grade' }],
  ['jswMedialMm', { type: 'number', label: 'medial joint-space width', unit: 'mm' }],
  ['jswLateralMm', { type: 'number', label: 'lateral joint-space width', unit: 'mm' }],
  ['jswLossMmPerYear', { type: 'number', label: 'joint-space loss', unit: 'mm/yr' }],
  ['klIncreaseWithin4Years', { type: 'number', label: 'KL grade increase within 4 years' }],
  ['medialJswLossMm', { type: 'number', label: 'medial joint-space loss', unit: 'mm' }],
]);

/** The facts of one patient and knee, each with its value or the reason it is missing. */
export function deriveFacts(facts: CareFacts): DerivedFacts {
  const values = new Map<string, FactValue>();
  const missing = new Map<string, string>();
  const put = (name: string, value: FactValue | undefined, reason: string) => {
    if (value === undefined) missing.set(name, reason);
    else values.set(name, value);
  };

  put('age', facts.age, 'no age on record');
  put('sex', facts.sex, 'no sex on record');
  put('bmi', facts.bmi, 'no BMI on record');
  derivePain(facts, put);
  put('koosJr', facts.koos?.koosJr, 'no KOOS JR score on record');
  put('koosPain', facts.koos?.pain, 'no KOOS pain score on record');
  put('koosAdl', facts.koos?.adl, 'no KOOS daily living score on record');
  deriveConditions(facts, put);
  deriveTreatments(facts, put);
  put('mobilityProblems', facts.mobilityProblems, 'mobility not recorded');
  deriveKnee(facts.knee, put);
  return { values, missing };
}

type Put = (name: string, value: FactValue | undefined, reason: string) => void;

function derivePain(facts: CareFacts, put: Put): void {
  const asOf = day(facts.asOf);
  const recent = [...(facts.painScores ?? [])]
    .filter((p) => asOf - day(p.date) <= PAIN_LOOKBACK_MONTHS * DAYS_PER_MONTH)
    .sort((a, b) => day(a.date) - day(b.date));
  const latest = recent.at(-1);
  if (latest === undefined) {
    const reason =
      (facts.painScores ?? []).length === 0
        ? 'no pain score on record'
        : `no pain score in the ${PAIN_LOOKBACK_MONTHS} months before ${facts.asOf}`;
    for (const name of ['latestPain', 'latestPainDate', 'painTrend', 'moderatePainMonths']) {
      put(name, undefined, reason);
    }
    return;
  }

  put('latestPain', latest.score, '');
  put('latestPainDate', latest.date, '');
  put(
    'painTrend',
    painTrend(recent, latest),
    'fewer than two pain scores in a year, so no pain trend',
  );
  put(
    'moderatePainMonths',
    moderatePainMonths(recent),
    'only one pain score, so how long the pain has lasted is unknown',
  );
}

/** Latest score against the earliest within PAIN_TREND_MONTHS before it. */
function painTrend(scores: PainScore[], latest: PainScore): string | undefined {
  const from = day(latest.date) - PAIN_TREND_MONTHS * DAYS_PER_MONTH;
  const window = scores.filter((p) => day(p.date) >= from);
  const first = window[0];
  if (window.length < 2 || first === undefined) return undefined;
  const change = latest.score - first.score;
  if (change >= PAIN_TREND_POINTS) return 'worsening';
  if (change <= -PAIN_TREND_POINTS) return 'improving';
  return 'stable';
}

/**
 * How long the latest unbroken run of scores ≥ MODERATE_PAIN has lasted. When the run reaches
 * back to the first score on record the figure is a lower bound; a run of one score with
 * nothing before it cannot say how long the pain has lasted, so it is missing.
 */
function moderatePainMonths(scores: PainScore[]): number | undefined {
  const last = scores.length - 1;
  const latest = scores[last];
  if (latest === undefined || latest.score < MODERATE_PAIN) return 0;
  let start = last;
  while (start > 0 && (scores[start - 1]?.score ?? 0) >= MODERATE_PAIN) start -= 1;
  if (start === last) return start === 0 ? undefined : 0;
  return months(scores[start]?.date ?? latest.date, latest.date);
}

function deriveConditions(facts: CareFacts, put: Put): void {
  for (const code of CONDITION_CODES) {
    put(
      `condition.${code}`,
      facts.conditions === undefined ? undefined : facts.conditions.includes(code),
      'no list of conditions on record',
    );
  }
}

function deriveTreatments(facts: CareFacts, put: Put): void {
  const asked = new Set(facts.askedAbout ?? []);
  for (const code of TREATMENT_CODES) put(`askedAbout.${code}`, asked.has(code), '');

  const records = facts.treatments;
  if (records === undefined) {
    for (const code of TREATMENT_CODES) {
      put(`treatment.${code}.tried`, undefined, 'no treatment history on record');
      put(`treatment.${code}.current`, undefined, 'no treatment history on record');
    }
    put('exerciseMonths', undefined, 'no treatment history on record');
    return;
  }

  for (const code of TREATMENT_CODES) {
    const courses = records.filter((r) => r.treatment === code);
    put(`treatment.${code}.tried`, courses.length > 0, '');
    put(
      `treatment.${code}.current`,
      isCurrent(courses, facts.asOf),
      `the record of ${TREATMENT_LABELS[code]} does not say whether it is current`,
    );
  }
  put(
    'exerciseMonths',
    exerciseMonths(records, facts.asOf),
    'exercise or physiotherapy is recorded without dates or duration',
  );
}

function isCurrent(courses: TreatmentRecord[], asOf: string): boolean | undefined {
  const states = courses.map((r) => r.current ?? (r.end === undefined ? undefined : r.end > asOf));
  if (states.includes(true)) return true;
  if (states.includes(undefined)) return undefined;
  return false;
}

/**
 * The longest single course of physiotherapy or exercise, in months. Courses are not added
 * up: overlapping records (a physiotherapy course inside a gym programme) would be counted
 * twice, so the longest course is the figure that cannot overstate the care given.
 */
function exerciseMonths(records: TreatmentRecord[], asOf: string): number | undefined {
  const courses = records.filter((r) => r.treatment === 'physiotherapy-or-exercise');
  if (courses.length === 0) return 0;
  const lengths = courses.map((r) => {
    if (r.weeks !== undefined) return (r.weeks * 7) / DAYS_PER_MONTH;
    if (r.start === undefined) return undefined;
    if (r.end !== undefined) return months(r.start, r.end);
    return r.current === false ? undefined : months(r.start, asOf);
  });
  const known = lengths.filter((n) => n !== undefined);
  return known.length === 0 ? undefined : round(Math.max(...known), 1);
}

function deriveKnee(knee: KneeFacts, put: Put): void {
  const progression = knee.progression;
  put('laterality', knee.laterality, 'no laterality for this knee');
  put('klGrade', knee.klGrade, 'no KL grade for this knee');
  put('jswMedialMm', knee.jsw?.medialMm, 'no medial joint-space width measured');
  put('jswLateralMm', knee.jsw?.lateralMm, 'no lateral joint-space width measured');
  put(
    'jswLossMmPerYear',
    progression?.jswChangeMmPerYear === undefined ? undefined : -progression.jswChangeMmPerYear,
    'no earlier joint-space width to compare',
  );

  const years = progression?.klChangeYears;
  const klChange = progression?.klChange;
  put(
    'klIncreaseWithin4Years',
    years !== undefined && years <= 4 ? klChange : undefined,
    years !== undefined && years > 4 && klChange !== undefined
      ? 'the earlier KL grade is more than 4 years old'
      : 'no earlier KL grade from the last 4 years to compare',
  );
  put(
    'medialJswLossMm',
    progression?.medialJswLossMm,
    'no earlier medial joint-space width to compare',
  );
}

/**
 * Refuses facts that are not clean (values outside their scale, malformed dates, unknown
 * codes). The FHIR reader filters such values with a recorded reason; one arriving here is a
 * programming error, and advice built on it could harm.
 */
export function checkFacts(facts: CareFacts): void {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new JointspaceError(
      'invalid-argument',
      `care facts: ${field} must be ${expected} (got ${JSON.stringify(got)})`,
      { status: 400 },
    );
  };
  const date = (value: string | undefined, field: string) => {
    if (value !== undefined && !isDate(value)) fail(field, 'a date YYYY-MM-DD', value);
  };
  const range = (value: number | undefined, field: string, min: number, max: number) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= min && value <= max)) {
      fail(field, `a number from ${min} to ${max}`, value);
    }
  };
  const integer = (value: number | undefined, field: string, min: number, max: number) => {
    range(value, field, min, max);
    if (value !== undefined && !Number.isInteger(value)) fail(field, 'a whole number', value);
  };

  if (!isDate(facts.asOf)) fail('asOf', 'a date YYYY-MM-DD', facts.asOf);
  range(facts.age, 'age', 0, 130);
  if (facts.sex !== undefined && !SEXES.includes(facts.sex)) {
    fail('sex', SEXES.join(', '), facts.sex);
  }
  range(facts.bmi, 'bmi', 10, 100);
  (facts.painScores ?? []).forEach((p, i) => {
    date(p.date, `painScores[${i}].date`);
    if (p.date > facts.asOf) fail(`painScores[${i}].date`, `on or before ${facts.asOf}`, p.date);
    range(p.score, `painScores[${i}].score`, 0, 10);
  });
  for (const [key, value] of Object.entries(facts.koos ?? {})) {
    range(value as number | undefined, `koos.${key}`, 0, 100);
  }
  (facts.conditions ?? []).forEach((code, i) => {
    if (!CONDITION_CODES.includes(code)) fail(`conditions[${i}]`, 'a known condition', code);
  });
  (facts.treatments ?? []).forEach((r, i) => {
    if (!TREATMENT_CODES.includes(r.treatment)) {
      fail(`treatments[${i}].treatment`, 'a known treatment', r.treatment);
    }
    date(r.start, `treatments[${i}].start`);
    date(r.end, `treatments[${i}].end`);
    if (r.start !== undefined && r.end !== undefined && r.end < r.start) {
      fail(`treatments[${i}].end`, `on or after start ${r.start}`, r.end);
    }
    range(r.weeks, `treatments[${i}].weeks`, 0, 52 * 80);
  });
  (facts.askedAbout ?? []).forEach((code, i) => {
    if (!TREATMENT_CODES.includes(code)) fail(`askedAbout[${i}]`, 'a known treatment', code);
  });

  const knee = facts.knee;
  if (knee.laterality !== undefined && !['R', 'L'].includes(knee.laterality)) {
    fail('knee.laterality', '"R" or "L"', knee.laterality);
  }
  integer(knee.klGrade, 'knee.klGrade', 0, 4);
  range(knee.jsw?.medialMm, 'knee.jsw.medialMm', 0, 20);
  range(knee.jsw?.lateralMm, 'knee.jsw.lateralMm', 0, 20);
  range(knee.progression?.jswChangeMmPerYear, 'knee.progression.jswChangeMmPerYear', -10, 10);
  integer(knee.progression?.klChange, 'knee.progression.klChange', -4, 4);
  range(knee.progression?.klChangeYears, 'knee.progression.klChangeYears', 0.01, 100);
  range(knee.progression?.medialJswLossMm, 'knee.progression.medialJswLossMm', -20, 20);
}

/** How a fact reads to a clinician: "BMI 31.2 kg/m²", "cardiovascular disease: yes". */
export function describeFact(name: string, value: FactValue): string {
  const spec = FACT_CATALOGUE.get(name);
  const label = spec?.label ?? name;
  if (typeof value === 'boolean') return `${label}: ${value ? 'yes' : 'no'}`;
  const unit = spec?.unit;
  if (unit === undefined) return `${label} ${String(value)}`;
  return unit.startsWith('/')
    ? `${label} ${String(value)}${unit}`
    : `${label} ${String(value)} ${unit}`;
}

function isDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(value);
}

/** Days since the epoch of a YYYY-MM-DD date (UTC, so no daylight-saving steps). */
function day(value: string): number {
  return Date.parse(`${value}T00:00:00Z`) / 86_400_000;
}

function months(from: string, to: string): number {
  return round((day(to) - day(from)) / DAYS_PER_MONTH, 1);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
