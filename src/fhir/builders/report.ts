/**
 * The DiagnosticReport of the imaging result: one per study and model, grouping the
 * Observations of both knees.
 *
 * FHIR R4 DiagnosticReport: `imagingStudy` the study, `result` the Observations,
 * `conclusion` a plain-text summary per knee, `conclusionCode` the KL grades. Its identifiers
 * are its key and the SOP Instance UID of the TID 1500 SR, which holds the same results in
 * DICOM (DICOM SR to FHIR IG, "DICOM SR Measurement Report Instance Mapping"): a reader can
 * find the report from the SR and back. R4 gives DiagnosticReport no `device` performer; the
 * algorithm is named by each Observation's `device` and by the Provenance.
 */
import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { UNVERIFIED_NOTE } from '../../sr/dataset.js';
import { klGradeText } from '../../sr/codes.js';
import { RADIOLOGY_CATEGORY, XR_KNEE_VIEWS, klGradeValue } from './codes.js';
import { dicomUidIdentifier, type ImagingContext } from './context.js';
import type { KneeResultInput } from './inputs.js';
import { KEY_SYSTEMS, built, derivedKey, referenceTo, type BuiltResource } from './keys.js';
import { KNEE_NAMES } from './observations.js';

function describeKnee(knee: KneeResultInput): string {
  const name = KNEE_NAMES[knee.laterality];
  const parts = [
    `${klGradeText(knee.klGrade)}, probability ${knee.confidence.toFixed(2)}`,
    knee.jsw?.medialMinMm === undefined
      ? ''
      : `medial minimum joint-space width ${knee.jsw.medialMinMm.toFixed(1)} mm`,
    knee.jsw?.lateralMinMm === undefined
      ? ''
      : `lateral minimum joint-space width ${knee.jsw.lateralMinMm.toFixed(1)} mm`,
  ];
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}: ${parts.filter((p) => p !== '').join('; ')}.`;
}

/** The report's conclusion: one sentence per knee, marked as unverified AI output. */
export function conclusionText(knees: readonly KneeResultInput[], modelId: string): string {
  return [
    `${UNVERIFIED_NOTE}.`,
    ...knees.map(describeKnee),
    `Graded by the AI model ${modelId}; decision support only, to be confirmed by a clinician.`,
  ].join(' ');
}

export function imagingReport(
  ctx: ImagingContext,
  knees: readonly KneeResultInput[],
  observations: readonly BuiltResource<Observation>[],
): BuiltResource<DiagnosticReport> {
  const key = derivedKey(KEY_SYSTEMS.imagingReport, ctx.study.studyInstanceUid, ctx.modelId);
  const srUids = [...new Set(knees.map((k) => k.srSopInstanceUid))];
  const resource: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    identifier: [key, ...srUids.map(dicomUidIdentifier)],
    ...(ctx.basedOn === undefined ? {} : { basedOn: ctx.basedOn }),
    status: 'preliminary',
    category: [{ coding: [{ ...RADIOLOGY_CATEGORY }] }],
    code: {
      coding: [{ ...XR_KNEE_VIEWS }],
      text: 'Knee radiograph: AI Kellgren-Lawrence grading',
    },
    ...(ctx.subject === undefined ? {} : { subject: ctx.subject }),
    effectiveDateTime: ctx.effective,
    issued: ctx.issued,
    imagingStudy: [ctx.imagingStudy],
    result: observations.map((o) => referenceTo(o)),
    conclusion: conclusionText(knees, ctx.modelId),
    conclusionCode: knees.map((k) => ({
      ...klGradeValue(k.klGrade),
      text: `${klGradeText(k.klGrade)}, ${KNEE_NAMES[k.laterality]}`,
    })),
  };
  return built(resource, key);
}
