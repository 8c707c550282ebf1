/**
 * The FHIR R4 resources jointspace writes for a graded study, built from plain data: no
 * network, no clock (the time of writing is an input), nothing logged. The same input gives
 * the same resources, identifiers and bundle addresses.
 *
 * - `buildImagingResources`: the algorithm Device, per knee the KL grade Observation and one
 *   Observation per joint-space width measured, the DiagnosticReport and its Provenance
 *   (following the HL7 DICOM SR to FHIR mapping guide; see builders/README.md).
 * - `buildCareResources`: per knee with a matched patient, the CarePlan (status draft,
 *   intent proposal) of a `recommend()` proposal, its ServiceRequest / MedicationRequest
 *   proposals, the Device of the care rules and their Provenance.
 * - `transactionBundle` / `studyTransaction`: everything as one transaction of conditional
 *   updates, each resource validated first.
 *
 * Identity: every resource is keyed by the Study Instance UID, the knee and the model id
 * (`name@version`), as the SR's UIDs are; rewriting the same study with the same model updates
 * the same resources, a new model version writes new ones beside them.
 */
import type { Bundle, Device, DiagnosticReport, Observation, Provenance } from '@medplum/fhirtypes';
import { JointspaceError } from '../errors.js';
import { transactionBundle } from './builders/bundle.js';
import { buildCarePlan, type CareInput, type CareResources } from './builders/care-plan.js';
import { imagingContext } from './builders/context.js';
import { algorithmDevice } from './builders/device.js';
import { checkImagingInput, type ImagingInput, type KneeLaterality } from './builders/inputs.js';
import type { BuiltResource } from './builders/keys.js';
import { jswObservations, klGradeObservation } from './builders/observations.js';
import { checkProgressionInput, progressionObservation } from './builders/progression.js';
import { imagingProvenance } from './builders/provenance.js';
import { imagingReport } from './builders/report.js';

export type {
  ImagingInput,
  JswInput,
  KneeLaterality,
  KneeResultInput,
  ProgressionBaselineInput,
  ProgressionInput,
  StudyInput,
} from './builders/inputs.js';
export type { BuiltResource } from './builders/keys.js';
export type { CareInput, CareRequest, CareResources } from './builders/care-plan.js';
export { PATIENT_EXPLANATION_URL, careRequestKey } from './builders/care-plan.js';
export { KEY_SYSTEMS, referenceTo } from './builders/keys.js';
export { CARE_ACTIVITIES, careActivitySpec } from './builders/care-activities.js';
export { transactionBundle } from './builders/bundle.js';

export interface KneeObservations {
  laterality: KneeLaterality;
  klGrade: number;
  klObservation: BuiltResource<Observation>;
  jswObservations: BuiltResource<Observation>[];
  /** Where the knee was compared with an earlier study (`progression` in its input). */
  progressionObservation?: BuiltResource<Observation>;
}

export interface ImagingResources {
  studyInstanceUid: string;
  /** `name@version` of the grading model. */
  modelId: string;
  device: BuiltResource<Device>;
  knees: KneeObservations[];
  report: BuiltResource<DiagnosticReport>;
  provenance: BuiltResource<Provenance>;
}

/** The imaging resources of one graded study. Throws `invalid-argument` naming a bad field. */
export function buildImagingResources(input: ImagingInput): ImagingResources {
  checkImagingInput(input);
  input.knees.forEach((knee, i) => {
    if (knee.progression !== undefined) {
      checkProgressionInput(knee.progression, `knees[${i}].progression`);
    }
  });
  const device = algorithmDevice(input.algorithm);
  const ctx = imagingContext(input, device);

  const knees = input.knees.map((knee): KneeObservations => {
    const klObservation = klGradeObservation(ctx, knee);
    return {
      laterality: knee.laterality,
      klGrade: knee.klGrade,
      klObservation,
      jswObservations: jswObservations(ctx, knee),
      ...(knee.progression === undefined
        ? {}
        : {
            progressionObservation: progressionObservation(
              ctx,
              knee.laterality,
              knee.progression,
              klObservation,
            ),
          }),
    };
  });
  const observations = knees.flatMap(kneeObservationList);
  const report = imagingReport(ctx, input.knees, observations);

  return {
    studyInstanceUid: input.study.studyInstanceUid,
    modelId: ctx.modelId,
    device,
    knees,
    report,
    provenance: imagingProvenance(ctx, input.knees, [...observations, report]),
  };
}

/**
 * The care resources of one knee of `imaging`. The proposal must be for that knee and grade
 * (`recommend()` with the knee's laterality and KL grade in its facts).
 */
export function buildCareResources(
  input: CareInput,
  imaging: ImagingResources,
  laterality: KneeLaterality,
): CareResources {
  const knee = imaging.knees.find((k) => k.laterality === laterality);
  if (knee === undefined) {
    throw new JointspaceError(
      'invalid-argument',
      `laterality must be a knee of the imaging results (got ${JSON.stringify(laterality)})`,
    );
  }
  return buildCarePlan(input, {
    studyInstanceUid: imaging.studyInstanceUid,
    modelId: imaging.modelId,
    laterality,
    klGrade: knee.klGrade,
    report: imaging.report,
    klObservation: knee.klObservation,
  });
}

/** The Observations of one knee: KL grade, JSW, progression. */
function kneeObservationList(knee: KneeObservations): BuiltResource<Observation>[] {
  const progression = knee.progressionObservation;
  return [
    knee.klObservation,
    ...knee.jswObservations,
    ...(progression === undefined ? [] : [progression]),
  ];
}

/** The imaging resources in writing order: Device, Observations, report, Provenance. */
export function imagingEntries(imaging: ImagingResources): BuiltResource[] {
  return [
    imaging.device,
    ...imaging.knees.flatMap(kneeObservationList),
    imaging.report,
    imaging.provenance,
  ];
}

/** The care resources of one knee: rules Device, requests, CarePlan, Provenance. */
export function careEntries(care: CareResources): BuiltResource[] {
  return [care.device, ...care.requests, care.carePlan, care.provenance];
}

/**
 * One transaction for a study: its imaging resources and the care resources of each knee
 * with a plan. The care rules Device appears once however many plans share it.
 */
export function studyTransaction(
  imaging: ImagingResources,
  care: readonly CareResources[] = [],
): Bundle {
  const entries = [...imagingEntries(imaging), ...care.flatMap(careEntries)];
  const unique = entries.filter(
    (entry, i) => entries.findIndex((e) => e.fullUrl === entry.fullUrl) === i,
  );
  return transactionBundle(unique);
}
