/**
 * Progression of one knee: its current result against the patient's earlier results of the
 * same knee (from the database and from jointspace SRs found in the PACS), as the `Progression`
 * facts the care rules read (R14 accelerated progression, R15 joint-space loss beyond
 * measurement error; see facts.ts `deriveFacts`) and as a summary for display.
 *
 * Pure: no clock, no I/O, nothing logged. The same inputs give the same assessment.
 *
 * Which earlier results are used:
 * - only the same knee; the current study itself, studies on the same day or later, and
 *   studies fewer than `MIN_COMPARISON_DAYS` earlier (a repeat radiograph shows measurement
 *   variability, not disease) are ignored, each with its reason;
 * - one study seen twice (database and PACS, or two model versions) counts once: the result of
 *   the current model is preferred, then the database's;
 * - the baseline is the earliest result from 6 months to 4 years before (4 years is the window
 *   of Driban's definitions behind R14; 6 months is the shortest interval a yearly rate is
 *   given for); when there is none, the latest result older than 4 years; when every result is
 *   younger than 6 months, the earliest of them (a change, but no rate). The KL grade and the
 *   joint-space width may each have their own baseline: the JSW baseline is chosen among the
 *   results with a medial minimum JSW.
 *
 * Facts and measurement error (issue 5: changes below 0.7 mm are within measurement error):
 * - `klChange` and `klChangeYears` come from the KL baseline, whatever model graded it (the KL
 *   scale does not change with the model; the model ids are named in the wording);
 * - `medialJswLossMm` is the medial change since the JSW baseline, always given; R15 itself
 *   compares it with 0.7 mm;
 * - `jswChangeMmPerYear` is the medial change per year, given over 6 months or more (a shorter
 *   interval magnifies measurement error into a rate; the summary says so) and within ±10 mm/yr
 *   (the range facts.ts accepts; beyond it a measurement has failed). It is given even when the
 *   change is within measurement error, as the rules file expects (R14's note and its
 *   vignettes): R14 may then flag a rate that rests on an unmeasurable change (0.5 mm over one
 *   year reads as 0.5 mm/yr), and the summary and the wording say that the change is within
 *   measurement error. Withholding the rate instead would leave R14 unassessed for every
 *   stable knee. Over Driban's 4 years the two agree (0.25 mm/yr x 4 years = 1 mm).
 *
 * Known gaps: JSW is compared only when both studies have it (issue 5 is adding it), and the
 * JSW of different model versions is compared as if the method had not changed (the wording
 * names both models); KL decreases are reported as such, though they are grading variation.
 */
import { JointspaceError } from '../errors.js';
import type { Laterality, Progression } from './facts.js';

export type ResultSource = 'database' | 'pacs';

/** Minimum joint-space widths of one knee, mm; either may be missing (not measured). */
export interface KneeJsw {
  medialMinMm?: number;
  lateralMinMm?: number;
}

/** The knee being assessed now. */
export interface CurrentKneeResult {
  laterality: Laterality;
  /** Kellgren–Lawrence grade 0–4. */
  klGrade: number;
  jsw?: KneeJsw;
  /** Study Date: `YYYY-MM-DD` or DICOM DA `YYYYMMDD`. */
  studyDate: string;
  studyInstanceUid?: string;
  /** `name@version` of the model that graded it. */
  modelId?: string;
}

/** An earlier result of the patient, as the database holds it or as read from an SR. */
export interface EarlierKneeResult {
  laterality: Laterality;
  klGrade: number;
  jsw?: KneeJsw;
  /** `YYYY-MM-DD` or `YYYYMMDD`. */
  studyDate: string;
  studyInstanceUid: string;
  /** `name@version`. */
  modelId: string;
  source: ResultSource;
}

/** An earlier result chosen for comparison, with its distance from the current study. */
export interface Baseline {
  studyInstanceUid: string;
  /** `YYYY-MM-DD`. */
  studyDate: string;
  klGrade: number;
  jsw?: KneeJsw;
  modelId: string;
  source: ResultSource;
  /** Years from the baseline to the current study, 2 decimals. */
  intervalYears: number;
  /** Whether the current model graded it too; undefined when the current model is not given. */
  sameModel?: boolean;
}

export interface KlComparison {
  baseline: Baseline;
  /** Current grade minus the baseline's. */
  klChange: number;
}

export interface JswComparison {
  baseline: Baseline;
  /** Medial minimum JSW now minus then, mm, 2 decimals; negative is narrowing. */
  medialChangeMm: number;
  /** Lateral minimum JSW now minus then, mm, where both were measured. */
  lateralChangeMm?: number;
  /** Medial change per year, mm/yr, where the interval allows a rate. */
  medialChangeMmPerYear?: number;
  /** Why no rate is given, when it is not. */
  rateWithheld?: string;
  /** |medial change| below `MEASUREMENT_ERROR_MM`: not a measurable change. */
  withinMeasurementError: boolean;
}

/** Flags as rules R14 (the first two) and R15 (the last) raise them from the facts. */
export type ProgressionFlag = 'accelerated-jsw-loss' | 'accelerated-kl-increase' | 'jsw-loss';

export interface IgnoredResult {
  studyInstanceUid: string;
  source: ResultSource;
  reason: string;
}

export interface ProgressionAssessment {
  laterality: Laterality;
  /** For `CareFacts.knee.progression`; undefined when there is no usable earlier result. */
  facts: Progression | undefined;
  kl?: KlComparison;
  jsw?: JswComparison;
  flags: ProgressionFlag[];
  /** R14: medial JSW loss > 0.25 mm/yr, or KL up by 2 or more within 4 years. */
  accelerated: boolean;
  /** R15: medial JSW loss of 0.7 mm or more. */
  jswLossBeyondError: boolean;
  /** Earlier results of this knee that were not used, each with why. */
  ignored: IgnoredResult[];
  /** One paragraph for the clinician: dates, grades, changes, flags, models. */
  clinicianText: string;
  /** The same in plain words for the patient. */
  patientText: string;
}

/** Repeat radiographs of one knee differ by 0.3–0.45 mm (standards.md); issue 5 sets 0.7 mm. */
export const MEASUREMENT_ERROR_MM = 0.7;
/** R14, Driban 2016 lenient JSW definition: medial loss above this, mm per year. */
export const ACCELERATED_JSW_LOSS_MM_PER_YEAR = 0.25;
/** R14, Driban 2016 lenient KL definition: an increase of this many grades ... */
export const ACCELERATED_KL_INCREASE = 2;
/** ... within this many years. */
export const KL_WINDOW_YEARS = 4;
/** No yearly rate over a shorter interval (6 months): it would magnify measurement error. */
export const MIN_RATE_YEARS = 0.5;
/** Earlier results closer than this are repeats, not follow-up, and are not compared. */
export const MIN_COMPARISON_DAYS = 30;
/** facts.ts accepts rates within ±10 mm/yr; beyond that a measurement has failed. */
export const MAX_RATE_MM_PER_YEAR = 10;

const DAYS_PER_YEAR = 365.25;
const GRADES = 5;
const JSW_MAX_MM = 20;
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

interface Candidate {
  result: EarlierKneeResult;
  date: string;
  years: number;
}

/**
 * Compares the current knee result with the earlier results of the same patient (any knee:
 * the other knee's are left aside). Throws `invalid-argument` when the current result is not
 * valid; an invalid earlier result is ignored with its reason.
 */
export function assessProgression(
  current: CurrentKneeResult,
  earlier: readonly EarlierKneeResult[],
): ProgressionAssessment {
  const now = checkCurrent(current);
  const ignored: IgnoredResult[] = [];
  const sameKnee = earlier.filter((r) => r.laterality === current.laterality);
  const usable = deduplicate(usableResults(sameKnee, current, now, ignored), current, ignored);

  const klBaseline = chooseBaseline(usable);
  const jswBaseline = chooseBaseline(usable.filter((c) => c.result.jsw?.medialMinMm !== undefined));
  const kl = klBaseline === undefined ? undefined : compareKl(current, klBaseline);
  const jsw = jswBaseline === undefined ? undefined : compareJsw(current, jswBaseline);
  const facts = progressionFacts(kl, jsw);
  const flags = flagsOf(facts);

  const assessment = {
    laterality: current.laterality,
    facts,
    ...(kl === undefined ? {} : { kl }),
    ...(jsw === undefined ? {} : { jsw }),
    flags,
    accelerated:
      flags.includes('accelerated-jsw-loss') || flags.includes('accelerated-kl-increase'),
    jswLossBeyondError: flags.includes('jsw-loss'),
    ignored,
  };
  return {
    ...assessment,
    clinicianText: clinicianText(current, assessment),
    patientText: patientText(current, assessment),
  };
}

function invalid(message: string): JointspaceError {
  return new JointspaceError('invalid-argument', message, { status: 400 });
}

/** `YYYY-MM-DD` of a `YYYY-MM-DD` or `YYYYMMDD` calendar date, else undefined. */
export function isoDate(value: string): string | undefined {
  const match = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(value);
  if (match === null) return undefined;
  const iso = `${match[1] ?? ''}-${match[2] ?? ''}-${match[3] ?? ''}`;
  const parsed = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(iso) ? iso : undefined;
}

function dayNumber(iso: string): number {
  return Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale + 0;
}

/** What is wrong with a knee result, or undefined. */
function problemOf(result: CurrentKneeResult | EarlierKneeResult): string | undefined {
  const laterality: string = result.laterality;
  if (laterality !== 'R' && laterality !== 'L') return 'laterality must be "R" or "L"';
  if (!Number.isInteger(result.klGrade) || result.klGrade < 0 || result.klGrade >= GRADES) {
    return `klGrade must be an integer 0..4 (got ${String(result.klGrade)})`;
  }
  if (isoDate(result.studyDate) === undefined) {
    return 'studyDate must be a date YYYY-MM-DD or YYYYMMDD';
  }
  for (const [name, value] of Object.entries(result.jsw ?? {})) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > JSW_MAX_MM) {
      return `jsw.${name} must be a number of mm in 0..${JSW_MAX_MM} (got ${String(value)})`;
    }
  }
  return undefined;
}

function checkCurrent(current: CurrentKneeResult): string {
  const problem = problemOf(current);
  if (problem !== undefined) throw invalid(`progression: current.${problem}`);
  return isoDate(current.studyDate) ?? '';
}

function usableResults(
  results: readonly EarlierKneeResult[],
  current: CurrentKneeResult,
  now: string,
  ignored: IgnoredResult[],
): Candidate[] {
  const ignore = (result: EarlierKneeResult, reason: string) => {
    ignored.push({ studyInstanceUid: result.studyInstanceUid, source: result.source, reason });
  };
  return results.flatMap((result): Candidate[] => {
    const problem = problemOf(result);
    if (problem !== undefined) {
      ignore(result, `not a valid result: ${problem}`);
      return [];
    }
    if (result.studyInstanceUid === current.studyInstanceUid) {
      ignore(result, 'it is the current study');
      return [];
    }
    const date = isoDate(result.studyDate) ?? '';
    const days = dayNumber(now) - dayNumber(date);
    if (days < 0) {
      ignore(result, `taken after this study (${date})`);
      return [];
    }
    if (days === 0) {
      ignore(result, 'taken on the same day as this study');
      return [];
    }
    if (days < MIN_COMPARISON_DAYS) {
      ignore(
        result,
        `taken ${days} days before this study: closer than ${MIN_COMPARISON_DAYS} days, a repeat shows measurement variability, not progression`,
      );
      return [];
    }
    return [{ result, date, years: round(days / DAYS_PER_YEAR) }];
  });
}

/**
 * One candidate per Study Instance UID: the current model's result first, then the
 * database's, then the one listed first.
 */
function deduplicate(
  candidates: Candidate[],
  current: CurrentKneeResult,
  ignored: IgnoredResult[],
): Candidate[] {
  const rank = (c: Candidate) =>
    (c.result.modelId === current.modelId ? 0 : 2) + (c.result.source === 'database' ? 0 : 1);
  const kept = new Map<string, Candidate>();
  for (const candidate of candidates) {
    const uid = candidate.result.studyInstanceUid;
    const other = kept.get(uid);
    if (other === undefined || rank(candidate) < rank(other)) kept.set(uid, candidate);
  }
  for (const candidate of candidates) {
    const chosen = kept.get(candidate.result.studyInstanceUid);
    if (chosen === undefined || chosen === candidate) continue;
    ignored.push({
      studyInstanceUid: candidate.result.studyInstanceUid,
      source: candidate.result.source,
      reason: `the same study is used from the ${chosen.result.source} (model ${chosen.result.modelId}; this one: ${candidate.result.modelId})`,
    });
  }
  return [...kept.values()];
}

/** The baseline rule of the header: 6 months to 4 years, else older, else the earliest. */
function chooseBaseline(candidates: Candidate[]): Candidate | undefined {
  const byAge = [...candidates].sort((a, b) => b.years - a.years || a.date.localeCompare(b.date));
  const inWindow = byAge.filter((c) => c.years >= MIN_RATE_YEARS && c.years <= KL_WINDOW_YEARS);
  const older = byAge.filter((c) => c.years > KL_WINDOW_YEARS);
  return inWindow[0] ?? older.at(-1) ?? byAge[0];
}

function baselineOf(candidate: Candidate, current: CurrentKneeResult): Baseline {
  const { result } = candidate;
  return {
    studyInstanceUid: result.studyInstanceUid,
    studyDate: candidate.date,
    klGrade: result.klGrade,
    ...(result.jsw === undefined ? {} : { jsw: { ...result.jsw } }),
    modelId: result.modelId,
    source: result.source,
    intervalYears: candidate.years,
    ...(current.modelId === undefined ? {} : { sameModel: current.modelId === result.modelId }),
  };
}

function compareKl(current: CurrentKneeResult, candidate: Candidate): KlComparison {
  return {
    baseline: baselineOf(candidate, current),
    klChange: current.klGrade - candidate.result.klGrade,
  };
}

function compareJsw(current: CurrentKneeResult, candidate: Candidate): JswComparison | undefined {
  const now = current.jsw?.medialMinMm;
  const then = candidate.result.jsw?.medialMinMm;
  if (now === undefined || then === undefined) return undefined;

  const medialChangeMm = round(now - then);
  const withinMeasurementError = Math.abs(medialChangeMm) < MEASUREMENT_ERROR_MM;
  const lateralNow = current.jsw?.lateralMinMm;
  const lateralThen = candidate.result.jsw?.lateralMinMm;
  const years = candidate.years;
  const rate = round(medialChangeMm / years);

  let rateWithheld: string | undefined;
  if (years < MIN_RATE_YEARS) {
    rateWithheld = `the interval (${monthsText(years)}) is shorter than 6 months, too short for a yearly rate`;
  } else if (Math.abs(rate) > MAX_RATE_MM_PER_YEAR) {
    rateWithheld = `${rate} mm/yr is not a plausible rate: one of the measurements is probably wrong`;
  }
  return {
    baseline: baselineOf(candidate, current),
    medialChangeMm,
    ...(lateralNow === undefined || lateralThen === undefined
      ? {}
      : { lateralChangeMm: round(lateralNow - lateralThen) }),
    ...(rateWithheld === undefined ? { medialChangeMmPerYear: rate } : { rateWithheld }),
    withinMeasurementError,
  };
}

/** The facts of facts.ts `Progression`. */
function progressionFacts(
  kl: KlComparison | undefined,
  jsw: JswComparison | undefined,
): Progression | undefined {
  if (kl === undefined && jsw === undefined) return undefined;
  const rate = jsw?.medialChangeMmPerYear;
  return {
    ...(kl === undefined
      ? {}
      : { klChange: kl.klChange, klChangeYears: kl.baseline.intervalYears }),
    ...(jsw === undefined ? {} : { medialJswLossMm: round(-jsw.medialChangeMm) }),
    ...(rate === undefined ? {} : { jswChangeMmPerYear: rate }),
  };
}

/** The flags R14 and R15 raise on these facts, by the same thresholds as the rules file. */
function flagsOf(facts: Progression | undefined): ProgressionFlag[] {
  const flags: ProgressionFlag[] = [];
  const rate = facts?.jswChangeMmPerYear;
  if (rate !== undefined && -rate > ACCELERATED_JSW_LOSS_MM_PER_YEAR) {
    flags.push('accelerated-jsw-loss');
  }
  const years = facts?.klChangeYears;
  const klChange = facts?.klChange;
  if (
    years !== undefined &&
    klChange !== undefined &&
    years <= KL_WINDOW_YEARS &&
    klChange >= ACCELERATED_KL_INCREASE
  ) {
    flags.push('accelerated-kl-increase');
  }
  const loss = facts?.medialJswLossMm;
  if (loss !== undefined && loss >= MEASUREMENT_ERROR_MM) flags.push('jsw-loss');
  return flags;
}

type Assessed = Omit<ProgressionAssessment, 'clinicianText' | 'patientText'>;

const KNEE: Record<Laterality, string> = { R: 'right knee', L: 'left knee' };

const FLAG_WORDS: Record<ProgressionFlag, string> = {
  'accelerated-jsw-loss': `accelerated progression (R14: medial joint-space loss over ${ACCELERATED_JSW_LOSS_MM_PER_YEAR} mm/yr)`,
  'accelerated-kl-increase': `accelerated progression (R14: KL grade up by ${ACCELERATED_KL_INCREASE} or more within ${KL_WINDOW_YEARS} years)`,
  'jsw-loss': `joint-space loss beyond measurement error (R15: ${MEASUREMENT_ERROR_MM} mm or more)`,
};

function signed(value: number, digits = 2): string {
  const text = value.toFixed(digits);
  return value > 0 ? `+${text}` : text;
}

function yearsText(years: number): string {
  return years < 1 ? monthsText(years) : `${years.toFixed(1)} years`;
}

function monthsText(years: number): string {
  const months = Math.max(1, Math.round(years * 12));
  return `${months} month${months === 1 ? '' : 's'}`;
}

/** "March 2022". */
function monthYear(iso: string): string {
  const month = MONTHS[Number(iso.slice(5, 7)) - 1] ?? '';
  return `${month} ${iso.slice(0, 4)}`;
}

function clinicianText(current: CurrentKneeResult, a: Assessed): string {
  const knee = KNEE[current.laterality];
  const parts: string[] = [];
  if (a.kl === undefined) {
    parts.push(`${capital(knee)}: no earlier jointspace result of this knee to compare with.`);
  } else {
    const b = a.kl.baseline;
    parts.push(
      `${capital(knee)} compared with the radiograph of ${b.studyDate} (${yearsText(b.intervalYears)} earlier): KL grade ${b.klGrade} → ${current.klGrade} (${a.kl.klChange === 0 ? 'unchanged' : signed(a.kl.klChange, 0)}).`,
    );
    if (a.kl.klChange < 0) {
      parts.push('A lower KL grade is most likely grading variation, not improvement.');
    }
    parts.push(jswSentence(current, a));
    parts.push(modelSentence(current, a));
  }
  parts.push(
    a.flags.length === 0
      ? a.kl === undefined
        ? ''
        : 'No progression flag.'
      : `Flags: ${a.flags.map((f) => FLAG_WORDS[f]).join('; ')}.`,
  );
  if (a.ignored.length > 0) {
    parts.push(
      `Not used: ${a.ignored.length} earlier result${a.ignored.length === 1 ? '' : 's'} (${a.ignored.map((i) => i.reason).join('; ')}).`,
    );
  }
  return parts.filter((p) => p !== '').join(' ');
}

function jswSentence(current: CurrentKneeResult, a: Assessed): string {
  const jsw = a.jsw;
  if (jsw === undefined) {
    return 'Joint-space width not compared: not measured on both radiographs.';
  }
  const b = jsw.baseline;
  const since =
    b.studyInstanceUid === a.kl?.baseline.studyInstanceUid ? '' : ` since ${b.studyDate}`;
  const then = b.jsw?.medialMinMm ?? 0;
  const now = current.jsw?.medialMinMm ?? 0;
  const rate =
    jsw.medialChangeMmPerYear === undefined
      ? ` No yearly rate: ${jsw.rateWithheld ?? 'not available'}.`
      : ` (${signed(jsw.medialChangeMmPerYear)} mm/yr)`;
  const error = jsw.withinMeasurementError
    ? ` Within the ${MEASUREMENT_ERROR_MM} mm measurement error: not a measurable change${jsw.medialChangeMmPerYear === undefined ? '' : ', and the rate rests on it'}.`
    : ` Beyond the ${MEASUREMENT_ERROR_MM} mm measurement error.`;
  const lateral =
    jsw.lateralChangeMm === undefined ? '' : ` Lateral: ${signed(jsw.lateralChangeMm)} mm.`;
  const sentence = `Medial minimum joint-space width${since} ${then.toFixed(2)} → ${now.toFixed(2)} mm: ${signed(jsw.medialChangeMm)} mm`;
  return rate.startsWith(' (')
    ? `${sentence}${rate}.${error}${lateral}`
    : `${sentence}.${rate}${error}${lateral}`;
}

function modelSentence(current: CurrentKneeResult, a: Assessed): string {
  const models = new Set([a.kl?.baseline.modelId, a.jsw?.baseline.modelId]);
  models.delete(undefined);
  const earlier = [...models].join(', ');
  if (current.modelId === undefined) return `Earlier result by ${earlier}.`;
  if (models.size === 1 && models.has(current.modelId)) return `Both graded by ${earlier}.`;
  return `Earlier result by ${earlier}, this one by ${current.modelId}: KL grades are comparable across model versions.`;
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function patientText(current: CurrentKneeResult, a: Assessed): string {
  const knee = KNEE[current.laterality];
  if (a.kl === undefined) {
    return `We have no earlier X-ray of your ${knee} to compare with. This X-ray will be the one we compare with next time.`;
  }
  const parts = [
    `We compared this X-ray of your ${knee} with the one from ${monthYear(a.kl.baseline.studyDate)}.`,
  ];
  if (a.kl.klChange > 0) parts.push('The signs of wear in the joint have increased.');
  else if (a.kl.klChange === 0) parts.push('The signs of wear in the joint look the same.');
  else {
    parts.push(
      'The signs of wear look a little less. This is most likely a difference in reading the X-rays, not a real change.',
    );
  }
  const jsw = a.jsw;
  if (jsw !== undefined) {
    if (jsw.withinMeasurementError) {
      parts.push(
        'The gap in the joint is about the same size. Small changes like this are too small to measure.',
      );
    } else if (jsw.medialChangeMm < 0) {
      parts.push(`The gap in the joint is ${Math.abs(jsw.medialChangeMm).toFixed(1)} mm smaller.`);
    } else {
      parts.push(
        `The gap in the joint is ${jsw.medialChangeMm.toFixed(1)} mm wider. This can happen when the X-ray is taken a bit differently.`,
      );
    }
  }
  const measurablyFaster =
    a.flags.includes('accelerated-kl-increase') ||
    (a.flags.includes('accelerated-jsw-loss') && jsw?.withinMeasurementError === false);
  if (measurablyFaster)
    parts.push('This is faster than usual. Your doctor will look at it with you.');
  else if (a.flags.length > 0) parts.push('Your doctor will look at this with you.');
  return parts.join(' ');
}
