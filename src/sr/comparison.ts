/**
 * The comparison of one knee with an earlier study, as content items of the TID 1500 SR: what
 * the measurement group of a knee with a baseline carries about its progression (issue 4,
 * "Progression"; computed by src/care/progression.ts).
 *
 * One CONTAINER (PROG-COMPARISON, 99JOINTSPACE, "Comparison with earlier study") per baseline,
 * usually one; two when the joint-space width was compared with another study than the KL
 * grade (the earlier KL study had no JSW). Each holds:
 *
 *   CONTAINS UIDREF (110180, DCM, "Study Instance UID")      the earlier study
 *   CONTAINS DATE   (111060, DCM, "Study Date")              its date
 *   CONTAINS NUM    (PROG-INTERVAL) years, unit (a, UCUM)
 *   CONTAINS NUM    (PROG-KL-CHANGE) grades, unit ({grade}, UCUM)         KL baseline
 *   CONTAINS NUM    (PROG-JSW-CHANGE) mm, unit (mm, UCUM)                 JSW baseline, medial
 *   CONTAINS NUM    (PROG-JSW-RATE) mm/a, unit (mm/a, UCUM)               when a rate is given
 *   CONTAINS TEXT   (PROG-FLAG) one per flag resting on these numbers, or "No progression flag"
 *
 * Pure: data in, naturalized dcmjs content items out, in the shape measurement-report.ts
 * builds. TID 1500 has no row for a comparison: the container is jointspace's extension inside
 * the knee's Measurement Group (TID 1501), coded in its private scheme, which a Comprehensive
 * SR allows (PS3.3 A.35.3, CONTAINER CONTAINS any value type). Flags are TEXT because viewers
 * do not show coded values (src/sr/README.md, "In OHIF").
 */
import type { ProgressionFlag } from '../care/progression.js';
import {
  ACCELERATED_JSW_LOSS_MM_PER_YEAR,
  ACCELERATED_KL_INCREASE,
  KL_WINDOW_YEARS,
  MEASUREMENT_ERROR_MM,
  isoDate,
} from '../care/progression.js';
import {
  GRADE_UNIT,
  MILLIMETRE_PER_YEAR_UNIT,
  MILLIMETRE_UNIT,
  PRIVATE_SCHEME,
  STUDY_DATE,
  STUDY_INSTANCE_UID,
  YEAR_UNIT,
  type CodedConcept,
} from './codes.js';
import { codeItem, decimalString, invalid, requireUid, type Dataset } from './dataset.js';

/** The earlier study a comparison rests on. */
export interface ComparisonBaseline {
  studyInstanceUid: string;
  /** `YYYY-MM-DD` or DICOM DA `YYYYMMDD`. */
  studyDate: string;
  /** Years from the baseline to the current study. */
  intervalYears: number;
}

/** One knee's comparison; a `ProgressionAssessment` of src/care/progression.ts fits. */
export interface KneeComparison {
  kl?: { baseline: ComparisonBaseline; klChange: number };
  jsw?: { baseline: ComparisonBaseline; medialChangeMm: number; medialChangeMmPerYear?: number };
  flags: readonly ProgressionFlag[];
}

/** The flags as a reader of the SR sees them. */
export const FLAG_TEXT: Readonly<Record<ProgressionFlag, string>> = Object.freeze({
  'accelerated-jsw-loss': `Accelerated progression: medial joint space loss over ${ACCELERATED_JSW_LOSS_MM_PER_YEAR} mm per year`,
  'accelerated-kl-increase': `Accelerated progression: KL grade up by ${ACCELERATED_KL_INCREASE} or more within ${KL_WINDOW_YEARS} years`,
  'jsw-loss': `Medial joint space loss of ${MEASUREMENT_ERROR_MM} mm or more, beyond measurement error`,
});

export const NO_FLAG_TEXT = 'No progression flag';

const KL_FLAGS: readonly ProgressionFlag[] = ['accelerated-kl-increase'];
const JSW_FLAGS: readonly ProgressionFlag[] = ['accelerated-jsw-loss', 'jsw-loss'];

/**
 * The comparison containers to append to the knee's Measurement Group content sequence;
 * empty when there is nothing to compare. Throws `invalid-argument` naming a bad field.
 */
export function comparisonContentItems(comparison: KneeComparison): Dataset[] {
  checkComparison(comparison);
  const { kl, jsw } = comparison;
  const flagsFor = (which: readonly ProgressionFlag[]) =>
    comparison.flags.filter((flag) => which.includes(flag));

  if (kl === undefined && jsw === undefined) return [];
  if (kl !== undefined && jsw !== undefined && sameStudy(kl.baseline, jsw.baseline)) {
    return [container(kl.baseline, [...klItems(kl), ...jswItems(jsw)], comparison.flags, true)];
  }
  const containers: Dataset[] = [];
  if (kl !== undefined) {
    containers.push(container(kl.baseline, klItems(kl), flagsFor(KL_FLAGS), true));
  }
  if (jsw !== undefined) {
    containers.push(container(jsw.baseline, jswItems(jsw), flagsFor(JSW_FLAGS), kl === undefined));
  }
  return containers;
}

function sameStudy(a: ComparisonBaseline, b: ComparisonBaseline): boolean {
  return a.studyInstanceUid === b.studyInstanceUid;
}

function checkBaseline(baseline: ComparisonBaseline, field: string): void {
  requireUid(baseline.studyInstanceUid, `${field}.studyInstanceUid`);
  if (isoDate(baseline.studyDate) === undefined) {
    throw invalid(`${field}.studyDate must be a date YYYYMMDD or YYYY-MM-DD`);
  }
  if (!Number.isFinite(baseline.intervalYears) || baseline.intervalYears <= 0) {
    throw invalid(`${field}.intervalYears must be a positive number of years`);
  }
}

function checkNumber(value: number | undefined, field: string): void {
  if (value !== undefined && !Number.isFinite(value)) throw invalid(`${field} must be a number`);
}

function checkComparison(comparison: KneeComparison): void {
  const { kl, jsw } = comparison;
  if (kl !== undefined) {
    checkBaseline(kl.baseline, 'kl.baseline');
    if (!Number.isInteger(kl.klChange) || Math.abs(kl.klChange) > 4) {
      throw invalid('kl.klChange must be an integer from -4 to 4');
    }
  }
  if (jsw !== undefined) {
    checkBaseline(jsw.baseline, 'jsw.baseline');
    checkNumber(jsw.medialChangeMm, 'jsw.medialChangeMm');
    checkNumber(jsw.medialChangeMmPerYear, 'jsw.medialChangeMmPerYear');
  }
  for (const flag of comparison.flags) {
    if (!(flag in FLAG_TEXT)) throw invalid(`flags must be known progression flags`);
  }
}

function klItems(kl: NonNullable<KneeComparison['kl']>): Dataset[] {
  return [num(PRIVATE_SCHEME.progression.klChange, kl.klChange, GRADE_UNIT)];
}

function jswItems(jsw: NonNullable<KneeComparison['jsw']>): Dataset[] {
  const { jswChange, jswRate } = PRIVATE_SCHEME.progression;
  const items = [num(jswChange, jsw.medialChangeMm, MILLIMETRE_UNIT)];
  if (jsw.medialChangeMmPerYear !== undefined) {
    items.push(num(jswRate, jsw.medialChangeMmPerYear, MILLIMETRE_PER_YEAR_UNIT));
  }
  return items;
}

/** One comparison CONTAINER; `sayNone` adds "No progression flag" when `flags` is empty. */
function container(
  baseline: ComparisonBaseline,
  measurements: Dataset[],
  flags: readonly ProgressionFlag[],
  sayNone: boolean,
): Dataset {
  const { comparison, interval, flag } = PRIVATE_SCHEME.progression;
  const flagTexts = flags.map((f) => text(flag, FLAG_TEXT[f]));
  if (flagTexts.length === 0 && sayNone) flagTexts.push(text(flag, NO_FLAG_TEXT));
  return {
    ...contentItem('CONTAINER', comparison),
    ContinuityOfContent: 'SEPARATE',
    ContentSequence: [
      { ...contentItem('UIDREF', STUDY_INSTANCE_UID), UID: baseline.studyInstanceUid },
      {
        ...contentItem('DATE', STUDY_DATE),
        Date: (isoDate(baseline.studyDate) ?? '').replace(/-/g, ''),
      },
      num(interval, baseline.intervalYears, YEAR_UNIT),
      ...measurements,
      ...flagTexts,
    ],
  };
}

/** Attributes every content item has (PS3.3 C.17.3.2); all comparison items are CONTAINS. */
function contentItem(valueType: string, name: CodedConcept): Dataset {
  return {
    RelationshipType: 'CONTAINS',
    ValueType: valueType,
    ConceptNameCodeSequence: [codeItem(name)],
  };
}

function text(name: CodedConcept, value: string): Dataset {
  return { ...contentItem('TEXT', name), TextValue: value };
}

/** A NUM (PS3.3 Table C.18.1-1, Numeric Measurement Macro). */
function num(name: CodedConcept, value: number, unit: CodedConcept): Dataset {
  return {
    ...contentItem('NUM', name),
    MeasuredValueSequence: [
      { NumericValue: decimalString(value), MeasurementUnitsCodeSequence: [codeItem(unit)] },
    ],
  };
}
