/**
 * Observations of one knee: the Kellgren–Lawrence grade, and each minimum joint-space width
 * measured.
 *
 * Shape, after the DICOM SR to FHIR IG (R5-based; mapped here to R4):
 * - KL grade: profile "Observation - DICOM SR Imaging Qualitative Evaluation Mapping"
 *   (a coded finding: valueCodeableConcept), "Imaging Qualitative Evaluation Mapping";
 * - JSW: profile "Observation - DICOM SR Imaging Measurement Mapping" (valueQuantity with a
 *   UCUM unit), "Imaging Measurement Mapping";
 * - both: `partOf` the ImagingStudy and `basedOn` the accession (see context.ts), `device`
 *   the algorithm ("TID4019 (Algorithm Identification) is equivalent to device"), `issued`
 *   the Observation Date Time, `bodySite` the finding site. R4 has no `bodyStructure` and no
 *   ImagingSelection, so the finding site with its laterality is a pre-coordinated SNOMED CT
 *   body site, and `derivedFrom` (R4 allows ImagingStudy there) points at the study the
 *   images belong to.
 * - status `preliminary`: the SR carries Verification Flag UNVERIFIED, and the IG maps the
 *   Document IE's PreliminaryFlag to preliminary/final ("Document IE Mapping").
 */
import type { Coding, Observation, ObservationComponent } from '@medplum/fhirtypes';
import { UNVERIFIED_NOTE } from '../../sr/dataset.js';
import {
  IMAGING_CATEGORY,
  JSW_LATERAL_MIN,
  JSW_MEDIAL_MIN,
  LEFT_KNEE_REGION,
  RIGHT_KNEE_REGION,
  klConfidenceConcept,
  klGradeConcept,
  klGradeValue,
  klProbabilityConcept,
  millimetres,
  probabilityQuantity,
} from './codes.js';
import type { ImagingContext } from './context.js';
import type { JswInput, KneeLaterality, KneeResultInput } from './inputs.js';
import { KEY_SYSTEMS, built, derivedKey, referenceTo, type BuiltResource } from './keys.js';

export const KNEE_NAMES: Readonly<Record<KneeLaterality, string>> = Object.freeze({
  R: 'right knee',
  L: 'left knee',
});

export function kneeBodySite(laterality: KneeLaterality) {
  const site = laterality === 'R' ? RIGHT_KNEE_REGION : LEFT_KNEE_REGION;
  const name = KNEE_NAMES[laterality];
  return { coding: [{ ...site }], text: name.charAt(0).toUpperCase() + name.slice(1) };
}

/** Fields every imaging Observation of the study has. */
function common(ctx: ImagingContext, laterality: KneeLaterality) {
  return {
    ...(ctx.basedOn === undefined ? {} : { basedOn: ctx.basedOn }),
    partOf: [ctx.imagingStudy],
    status: 'preliminary' as const,
    category: [{ coding: [{ ...IMAGING_CATEGORY }] }],
    ...(ctx.subject === undefined ? {} : { subject: ctx.subject }),
    effectiveDateTime: ctx.effective,
    issued: ctx.issued,
    bodySite: kneeBodySite(laterality),
    device: referenceTo(ctx.device),
    derivedFrom: [ctx.imagingStudy],
  };
}

function unverifiedNote(what: string, ctx: ImagingContext) {
  return [
    {
      text: `${UNVERIFIED_NOTE}: ${what} proposed by the AI model ${ctx.modelId} from the radiograph; a clinician must confirm it before it is relied on.`,
    },
  ];
}

function probabilityComponents(knee: KneeResultInput): ObservationComponent[] {
  const perGrade = knee.probabilities.map((p, grade) => ({
    code: klProbabilityConcept(grade),
    valueQuantity: probabilityQuantity(p),
  }));
  return [
    ...perGrade,
    { code: klConfidenceConcept(), valueQuantity: probabilityQuantity(knee.confidence) },
  ];
}

/** The KL grade of one knee, with the five grade probabilities and the confidence. */
export function klGradeObservation(
  ctx: ImagingContext,
  knee: KneeResultInput,
): BuiltResource<Observation> {
  const key = derivedKey(
    KEY_SYSTEMS.klGrade,
    ctx.study.studyInstanceUid,
    knee.laterality,
    ctx.modelId,
  );
  const resource: Observation = {
    resourceType: 'Observation',
    identifier: [key],
    ...common(ctx, knee.laterality),
    code: klGradeConcept(),
    valueCodeableConcept: klGradeValue(knee.klGrade),
    note: unverifiedNote(`Kellgren-Lawrence grade of the ${KNEE_NAMES[knee.laterality]}`, ctx),
    component: probabilityComponents(knee),
  };
  return built(resource, key);
}

const JSW_MEASUREMENTS: readonly { field: keyof JswInput; code: Readonly<Coding>; part: string }[] =
  [
    { field: 'medialMinMm', code: JSW_MEDIAL_MIN, part: 'medial' },
    { field: 'lateralMinMm', code: JSW_LATERAL_MIN, part: 'lateral' },
  ];

/** One Observation per minimum joint-space width given (medial, lateral), in mm. */
export function jswObservations(
  ctx: ImagingContext,
  knee: KneeResultInput,
): BuiltResource<Observation>[] {
  return JSW_MEASUREMENTS.flatMap(({ field, code, part }) => {
    const value = knee.jsw?.[field];
    if (value === undefined) return [];
    const key = derivedKey(
      KEY_SYSTEMS.jsw,
      ctx.study.studyInstanceUid,
      knee.laterality,
      part,
      ctx.modelId,
    );
    const resource: Observation = {
      resourceType: 'Observation',
      identifier: [key],
      ...common(ctx, knee.laterality),
      code: { coding: [{ ...code }], text: code.display },
      valueQuantity: millimetres(value),
      note: unverifiedNote(
        `${part} minimum joint-space width of the ${KNEE_NAMES[knee.laterality]}`,
        ctx,
      ),
    };
    return [built(resource, key)];
  });
}
