/**
 * The progression of one knee as an Observation: the comparison with an earlier study that
 * src/care/progression.ts computes (KL grade change, medial minimum joint-space width change
 * and its yearly rate), with an interpretation a clinician's system can filter on.
 *
 * Shape (FHIR R4 Observation, in the manner of the imaging Observations of observations.ts):
 * - code: (KNEE-OA-PROGRESSION, `urn:jointspace:codes:fhir`), text "Knee osteoarthritis
 *   radiographic progression": no LOINC or SNOMED CT concept for a radiographic progression
 *   measure was found;
 * - no value[x]: the result is the set of components (interval, KL change, JSW change, rate),
 *   coded with the 99JOINTSPACE concepts the SR comparison uses, plus the baseline Study Date;
 * - `interpretation` (HL7 v3 ObservationInterpretation, "ObservationInterpretationChange"):
 *   `W` Worse when the knee has measurably progressed: KL grade up by 1 or more, or medial JSW
 *   down by `MEASUREMENT_ERROR_MM` or more (the "significant change" that W requires, as defined
 *   by this procedure); the text adds the R14 / R15 flags. Otherwise the interpretation is text
 *   only (an R14 flag on the yearly rate of a change within measurement error is named there): "No significant change" (N would say Normal, a statement about the knee, not about
 *   the change: a stable KL 3 knee is not normal), or, for a lower KL grade or a wider joint
 *   space, that the change is most likely grading or positioning variation (B Better would
 *   claim an improvement that osteoarthritis radiographs do not show). U and D ("significant
 *   change up / down", for quantities) go on the KL and JSW components, where the direction
 *   of a number is meant, and only for changes beyond measurement error (KL: any change).
 * - `derivedFrom`: the current KL grade Observation, and the earlier study (by Study Instance
 *   UID, as the ImagingStudy references of context.ts); `bodySite`, `device`, `partOf`,
 *   `basedOn`, `subject`, `status` preliminary as the other imaging Observations.
 *
 * Key: `PROGRESSION_KEY_SYSTEM` with the Study Instance UID, the knee and the model id, so a
 * rewrite after a new baseline was found updates the same Observation.
 */
import type {
  CodeableConcept,
  Coding,
  ImagingStudy,
  Observation,
  ObservationComponent,
  Quantity,
  Reference,
} from '@medplum/fhirtypes';
import { MEASUREMENT_ERROR_MM, isoDate, type ProgressionFlag } from '../../care/progression.js';
import { JointspaceError } from '../../errors.js';
import { PRIVATE_SCHEME, STUDY_DATE } from '../../sr/codes.js';
import { UNVERIFIED_NOTE } from '../../sr/dataset.js';
import { isValidUid } from '../../sr/uids.js';
import {
  DICOM_DCM,
  IMAGING_CATEGORY,
  JOINTSPACE_FHIR_CODE_SYSTEM,
  UCUM,
  millimetres,
  privateCoding,
} from './codes.js';
import { imagingStudyReference, type ImagingContext } from './context.js';
import type { KneeLaterality, ProgressionBaselineInput, ProgressionInput } from './inputs.js';
import { built, derivedKey, referenceTo, type BuiltResource } from './keys.js';
import { KNEE_NAMES, kneeBodySite } from './observations.js';

/** Identifier system of the progression Observation (beside those of keys.ts `KEY_SYSTEMS`). */
export const PROGRESSION_KEY_SYSTEM = 'urn:jointspace:progression-observation';

export const KNEE_OA_PROGRESSION: Readonly<Coding> = Object.freeze({
  system: JOINTSPACE_FHIR_CODE_SYSTEM,
  code: 'KNEE-OA-PROGRESSION',
  display: 'Knee osteoarthritis radiographic progression',
});

const V3_OBSERVATION_INTERPRETATION =
  'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';

function interpretationCoding(code: 'W' | 'U' | 'D', display: string): Readonly<Coding> {
  return Object.freeze({ system: V3_OBSERVATION_INTERPRETATION, code, display });
}

export const WORSE = interpretationCoding('W', 'Worse');
export const CHANGE_UP = interpretationCoding('U', 'Significant change up');
export const CHANGE_DOWN = interpretationCoding('D', 'Significant change down');

export const NO_SIGNIFICANT_CHANGE = 'No significant change';

const FLAG_WORDS: Readonly<Record<ProgressionFlag, string>> = {
  'accelerated-jsw-loss': 'accelerated progression (medial joint-space loss over 0.25 mm/yr, R14)',
  'accelerated-kl-increase':
    'accelerated progression (KL grade up by 2 or more within 4 years, R14)',
  'jsw-loss': `medial joint-space loss of ${MEASUREMENT_ERROR_MM} mm or more (R15)`,
};

const KL_CHANGE_MAX = 4;
const JSW_CHANGE_MAX_MM = 20;

function invalid(message: string): JointspaceError {
  return new JointspaceError('invalid-argument', message);
}

function checkBaseline(baseline: ProgressionBaselineInput, field: string): void {
  if (!isValidUid(baseline.studyInstanceUid)) {
    throw invalid(`${field}.studyInstanceUid must be a valid DICOM UID (PS3.5 9.1)`);
  }
  if (isoDate(baseline.studyDate) === undefined) {
    throw invalid(`${field}.studyDate must be a date YYYYMMDD or YYYY-MM-DD`);
  }
  if (!Number.isFinite(baseline.intervalYears) || baseline.intervalYears <= 0) {
    throw invalid(`${field}.intervalYears must be a positive number of years`);
  }
}

function checkFinite(value: number | undefined, field: string, max: number): void {
  if (value !== undefined && !(Number.isFinite(value) && Math.abs(value) <= max)) {
    throw invalid(`${field} must be a number from -${max} to ${max} (got ${String(value)})`);
  }
}

/** Refuses a progression input that would make an untruthful Observation. */
export function checkProgressionInput(progression: ProgressionInput, field: string): void {
  const { kl, jsw } = progression;
  if (kl !== undefined) {
    checkBaseline(kl.baseline, `${field}.kl.baseline`);
    if (!Number.isInteger(kl.klChange) || Math.abs(kl.klChange) > KL_CHANGE_MAX) {
      throw invalid(`${field}.kl.klChange must be an integer from -4 to 4`);
    }
  }
  if (jsw !== undefined) {
    checkBaseline(jsw.baseline, `${field}.jsw.baseline`);
    checkFinite(jsw.medialChangeMm, `${field}.jsw.medialChangeMm`, JSW_CHANGE_MAX_MM);
    checkFinite(jsw.medialChangeMmPerYear, `${field}.jsw.medialChangeMmPerYear`, 10);
  }
  if (kl === undefined && jsw === undefined) {
    throw invalid(`${field} must compare the KL grade or the joint-space width`);
  }
  for (const flag of progression.flags) {
    if (!(flag in FLAG_WORDS)) throw invalid(`${field}.flags must list known progression flags`);
  }
}

function quantity(value: number, unit: string, code: string): Quantity {
  return { value, unit, system: UCUM, code };
}

function studyDateConcept(what: string): CodeableConcept {
  return {
    coding: [{ system: DICOM_DCM, code: STUDY_DATE.value, display: STUDY_DATE.meaning }],
    text: `Study Date of the earlier study (${what})`,
  };
}

function concept(coding: Coding, text?: string): CodeableConcept {
  return { coding: [coding], text: text ?? coding.display ?? '' };
}

function baselineComponents(baseline: ProgressionBaselineInput, what: string) {
  const { interval } = PRIVATE_SCHEME.progression;
  return [
    {
      code: studyDateConcept(what),
      valueDateTime: isoDate(baseline.studyDate) ?? '',
    },
    {
      code: concept(privateCoding(interval), `${interval.meaning} (${what})`),
      valueQuantity: quantity(baseline.intervalYears, 'year', 'a'),
    },
  ];
}

function components(progression: ProgressionInput): ObservationComponent[] {
  const { klChange, jswChange, jswRate } = PRIVATE_SCHEME.progression;
  const { kl, jsw } = progression;
  const result: ObservationComponent[] = [];
  const sameBaseline =
    kl !== undefined && jsw?.baseline.studyInstanceUid === kl.baseline.studyInstanceUid;

  if (kl !== undefined) {
    const what = sameBaseline ? 'KL grade and joint-space width' : 'KL grade';
    result.push(...baselineComponents(kl.baseline, what), {
      code: concept(privateCoding(klChange)),
      valueQuantity: quantity(kl.klChange, 'grade', '{grade}'),
      ...directionOf(kl.klChange, 1),
    });
  }
  if (jsw !== undefined) {
    if (!sameBaseline) result.push(...baselineComponents(jsw.baseline, 'joint-space width'));
    result.push({
      code: concept(privateCoding(jswChange)),
      valueQuantity: millimetres(jsw.medialChangeMm),
      ...directionOf(jsw.medialChangeMm, MEASUREMENT_ERROR_MM),
    });
    if (jsw.medialChangeMmPerYear !== undefined) {
      result.push({
        code: concept(privateCoding(jswRate)),
        valueQuantity: quantity(jsw.medialChangeMmPerYear, 'mm/yr', 'mm/a'),
      });
    }
  }
  return result;
}

/** U or D for a change of at least `significant` (in either direction); nothing below. */
function directionOf(change: number, significant: number) {
  if (Math.abs(change) < significant) return {};
  return { interpretation: [concept(change > 0 ? CHANGE_UP : CHANGE_DOWN)] };
}

/** The interpretation of the whole: see the header for the choice of codes. */
export function progressionInterpretation(progression: ProgressionInput): CodeableConcept {
  const { kl, jsw } = progression;
  const klUp = kl !== undefined && kl.klChange >= 1;
  const jswLoss = jsw !== undefined && -jsw.medialChangeMm >= MEASUREMENT_ERROR_MM;
  const flags = progression.flags.map((flag) => FLAG_WORDS[flag]);
  const flagged = flags.length === 0 ? '' : `; flagged: ${flags.join('; ')}`;
  if (klUp || jswLoss) {
    const reasons = [
      ...(klUp ? [`KL grade up by ${kl.klChange}`] : []),
      ...(jswLoss ? [`medial joint space ${Math.abs(jsw.medialChangeMm)} mm narrower`] : []),
    ];
    return { coding: [{ ...WORSE }], text: `Worse: ${reasons.join(', ')}${flagged}` };
  }
  if (flags.length > 0) {
    // R14 on a yearly rate whose change is within measurement error (progression.ts header).
    return {
      text: `${NO_SIGNIFICANT_CHANGE} beyond measurement error${flagged}, on a yearly rate of a change within measurement error`,
    };
  }
  const klDown = kl !== undefined && kl.klChange < 0;
  const jswGain = jsw !== undefined && jsw.medialChangeMm >= MEASUREMENT_ERROR_MM;
  if (klDown || jswGain) {
    return {
      text: `${NO_SIGNIFICANT_CHANGE} towards worse; the ${klDown ? 'lower KL grade' : 'wider joint space'} is most likely grading or positioning variation`,
    };
  }
  return { text: NO_SIGNIFICANT_CHANGE };
}

function baselineReferences(progression: ProgressionInput): Reference<ImagingStudy>[] {
  const uids = [progression.kl?.baseline, progression.jsw?.baseline]
    .flatMap((b) => (b === undefined ? [] : [b.studyInstanceUid]))
    .filter((uid, i, all) => all.indexOf(uid) === i);
  return uids.map((uid) => imagingStudyReference({ studyInstanceUid: uid, studyDate: '' }));
}

/**
 * The progression Observation of one knee, derived from its KL grade Observation. The input
 * is checked by `checkProgressionInput` before this is called (resources.ts).
 */
export function progressionObservation(
  ctx: ImagingContext,
  laterality: KneeLaterality,
  progression: ProgressionInput,
  klObservation: BuiltResource<Observation>,
): BuiltResource<Observation> {
  const key = derivedKey(
    PROGRESSION_KEY_SYSTEM,
    ctx.study.studyInstanceUid,
    laterality,
    ctx.modelId,
  );
  const text = progression.clinicianText;
  const resource: Observation = {
    resourceType: 'Observation',
    identifier: [key],
    ...(ctx.basedOn === undefined ? {} : { basedOn: ctx.basedOn }),
    partOf: [ctx.imagingStudy],
    status: 'preliminary',
    category: [{ coding: [{ ...IMAGING_CATEGORY }] }],
    code: concept({ ...KNEE_OA_PROGRESSION }),
    ...(ctx.subject === undefined ? {} : { subject: ctx.subject }),
    effectiveDateTime: ctx.effective,
    issued: ctx.issued,
    interpretation: [progressionInterpretation(progression)],
    note: [
      ...(text === undefined || text.trim() === '' ? [] : [{ text }]),
      {
        text: `${UNVERIFIED_NOTE}: comparison of the ${KNEE_NAMES[laterality]} with an earlier radiograph from results of the AI model ${ctx.modelId} (earlier results may come from other model versions); a clinician must confirm it before it is relied on.`,
      },
    ],
    bodySite: kneeBodySite(laterality),
    device: referenceTo(ctx.device),
    derivedFrom: [referenceTo(klObservation), ...baselineReferences(progression)],
    component: components(progression),
  };
  return built(resource, key);
}
