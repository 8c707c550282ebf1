/**
 * Provenance of what jointspace wrote (FHIR R4 Provenance): which software authored it,
 * when, and from what.
 *
 * - `agent`: the Device, type `author` ("a party that originates the resource and therefore
 *   has responsibility for the information"); the model computes the grade itself, so it is
 *   more than an `assembler` of existing information.
 * - `entity`: what was used, role `source`: the ImagingStudy and its graded radiographs for
 *   the imaging results; the DiagnosticReport and the KL grade for a care plan.
 * - `activity`: CREATE (v3-DataOperation); a rewrite after reprocessing creates the content
 *   anew from new results, and the resource's version history shows the update.
 *
 * Devices are not targets: nothing about a Device record was derived from the study.
 */
import type { Device, Provenance, ProvenanceEntity, Reference } from '@medplum/fhirtypes';
import { AUTHOR, CREATE } from './codes.js';
import { dicomUidIdentifier, type ImagingContext } from './context.js';
import type { KneeResultInput } from './inputs.js';
import { KEY_SYSTEMS, builtByTag, deriveUuid, referenceTo, type BuiltResource } from './keys.js';

export interface ProvenanceInput {
  /** What makes this Provenance unique, e.g. (study, "imaging", model id). */
  keyParts: string[];
  targets: readonly BuiltResource[];
  agent: BuiltResource<Device>;
  entities: ProvenanceEntity[];
  /** FHIR instant. */
  recorded: string;
}

export function provenance(input: ProvenanceInput): BuiltResource<Provenance> {
  const tag = {
    system: KEY_SYSTEMS.provenance,
    code: deriveUuid(KEY_SYSTEMS.provenance, ...input.keyParts),
  };
  const resource: Provenance = {
    resourceType: 'Provenance',
    meta: { tag: [tag] },
    target: input.targets.map((t): Reference => referenceTo(t)),
    recorded: input.recorded,
    activity: { coding: [{ ...CREATE }] },
    agent: [{ type: { coding: [{ ...AUTHOR }] }, who: referenceTo(input.agent) }],
    entity: input.entities,
  };
  return builtByTag(resource, tag);
}

/** Provenance of the imaging results: the model authored them from the study's radiographs. */
export function imagingProvenance(
  ctx: ImagingContext,
  knees: readonly KneeResultInput[],
  targets: readonly BuiltResource[],
): BuiltResource<Provenance> {
  const images = [...new Set(knees.flatMap((k) => k.sourceSopInstanceUids))];
  return provenance({
    keyParts: [ctx.study.studyInstanceUid, 'imaging', ctx.modelId],
    targets,
    agent: ctx.device,
    entities: [
      { role: 'source', what: ctx.imagingStudy },
      ...images.map((uid): ProvenanceEntity => ({
        role: 'source',
        what: { identifier: dicomUidIdentifier(uid), display: 'Graded radiograph (SOP Instance)' },
      })),
    ],
    recorded: ctx.issued,
  });
}
