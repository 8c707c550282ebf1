/**
 * Which instances of a study are worth fetching: the rules of mappings/eligibility.json
 * applied to the attributes QIDO-RS returns, before any pixel data crosses the network.
 *
 * A missing attribute never refuses (headers are often incomplete; the content knee check
 * decides on the pixels). jointspace's own output is recognised first and ignored without a
 * refusal, so the objects it writes back never come round as work.
 */
import { JointspaceError } from '../errors.js';
import { loadMapping } from '../mappings.js';
import { fromRoot } from '../paths.js';
import { MANUFACTURER } from '../sr/dataset.js';

/** What QIDO-RS says about one instance; every field may be missing. */
export interface InstanceAttributes {
  sopClassUid?: string;
  modality?: string;
  bodyPartExamined?: string;
  viewPosition?: string;
  manufacturer?: string;
  seriesInstanceUid?: string;
}

export type Eligibility =
  | { eligible: true }
  | { eligible: false; own: true }
  | { eligible: false; own: false; reason: string };

export interface EligibilityRules {
  version: string;
  acceptedSopClasses: Map<string, string>;
  refusedSopClasses: Map<string, string>;
  modalities: Set<string>;
  acceptedBodyParts: Set<string>;
  refusedBodyParts: Set<string>;
  acceptedViews: Set<string>;
  refusedViews: Map<string, string>;
}

export const ELIGIBILITY_RULES_PATH = fromRoot('mappings', 'eligibility.json');

/**
 * Decides one instance. `ownSeries` holds the series UIDs jointspace writes for this study
 * (derived, so known without asking the database).
 */
export function assessInstance(
  rules: EligibilityRules,
  instance: InstanceAttributes,
  ownSeries: ReadonlySet<string> = new Set(),
): Eligibility {
  const manufacturer = instance.manufacturer?.trim();
  if (
    (instance.seriesInstanceUid !== undefined && ownSeries.has(instance.seriesInstanceUid)) ||
    manufacturer === MANUFACTURER
  ) {
    return { eligible: false, own: true };
  }

  const modality = normalise(instance.modality);
  if (modality !== '' && !rules.modalities.has(modality)) {
    return refuse(
      `modality ${modality} is not a plain radiograph (accepted: ${[...rules.modalities].join(', ')})`,
    );
  }

  const sopClass = instance.sopClassUid?.trim();
  if (sopClass !== undefined && sopClass !== '' && !rules.acceptedSopClasses.has(sopClass)) {
    const reason = rules.refusedSopClasses.get(sopClass);
    return refuse(reason ?? `SOP class ${sopClass} is not a radiograph this node grades`);
  }

  const bodyPart = bodyPartKey(instance.bodyPartExamined);
  if (bodyPart !== '' && rules.refusedBodyParts.has(bodyPart)) {
    return refuse(`body part examined is ${bodyPart}, not the knee`);
  }

  const view = normalise(instance.viewPosition);
  const viewReason = rules.refusedViews.get(view);
  if (viewReason !== undefined) return refuse(`view position ${view}: ${viewReason}`);

  return { eligible: true };
}

function refuse(reason: string): Eligibility {
  return { eligible: false, own: false, reason };
}

function normalise(value: string | undefined): string {
  return (value ?? '').trim().toUpperCase();
}

/** "Lower limb", "LOWER_LIMB" and "LOWERLIMB" are one body part. */
function bodyPartKey(value: string | undefined): string {
  return normalise(value).replace(/[\s_]+/g, '');
}

/** The rules of mappings/eligibility.json (or `path`), read and validated once per process. */
export function eligibilityRules(path = ELIGIBILITY_RULES_PATH): EligibilityRules {
  return loadMapping(path, 'eligibility rules', (json) => parseRules(json, path));
}

/** Validates every field, so a hand-edited file fails with a message naming the field. */
export function parseRules(json: unknown, source = 'eligibility rules'): EligibilityRules {
  const fail = (field: string, expected: string): never => {
    throw new JointspaceError('invalid-configuration', `${source}: ${field} must be ${expected}`);
  };
  const object = (value: unknown, field: string): Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : fail(field, 'an object');
  const list = (value: unknown, field: string): unknown[] =>
    Array.isArray(value) ? value : fail(field, 'an array');
  const text = (value: unknown, field: string): string =>
    typeof value === 'string' && value.trim() !== '' ? value : fail(field, 'a non-empty string');

  const root = object(json, 'the document');
  if (root.kind !== 'jointspace-eligibility-rules') {
    fail('kind', '"jointspace-eligibility-rules"');
  }
  const version = text(root.version, 'version');
  const sopClasses = object(root.sopClasses, 'sopClasses');
  const modalities = object(root.modalities, 'modalities');
  const bodyParts = object(root.bodyParts, 'bodyParts');
  const views = object(root.viewPositions, 'viewPositions');

  const acceptedSopClasses = new Map<string, string>();
  list(sopClasses.accept, 'sopClasses.accept').forEach((entry, index) => {
    const item = object(entry, `sopClasses.accept[${index}]`);
    acceptedSopClasses.set(
      text(item.uid, `sopClasses.accept[${index}].uid`),
      text(item.name, `sopClasses.accept[${index}].name`),
    );
  });
  const refusedSopClasses = new Map<string, string>();
  list(sopClasses.refuseReasons, 'sopClasses.refuseReasons').forEach((entry, index) => {
    const item = object(entry, `sopClasses.refuseReasons[${index}]`);
    refusedSopClasses.set(
      text(item.uid, `sopClasses.refuseReasons[${index}].uid`),
      text(item.reason, `sopClasses.refuseReasons[${index}].reason`),
    );
  });
  const codes = (value: unknown, field: string, key: (s: string) => string) =>
    new Set(list(value, field).map((entry, index) => key(text(entry, `${field}[${index}]`))));

  const refusedViews = new Map<string, string>();
  list(views.refuse, 'viewPositions.refuse').forEach((entry, index) => {
    const item = object(entry, `viewPositions.refuse[${index}]`);
    refusedViews.set(
      normalise(text(item.value, `viewPositions.refuse[${index}].value`)),
      text(item.reason, `viewPositions.refuse[${index}].reason`),
    );
  });

  const rules: EligibilityRules = {
    version,
    acceptedSopClasses,
    refusedSopClasses,
    modalities: codes(modalities.accept, 'modalities.accept', normalise),
    acceptedBodyParts: codes(bodyParts.accept, 'bodyParts.accept', bodyPartKey),
    refusedBodyParts: codes(bodyParts.refuse, 'bodyParts.refuse', bodyPartKey),
    acceptedViews: codes(views.accept, 'viewPositions.accept', normalise),
    refusedViews,
  };
  for (const part of rules.acceptedBodyParts) {
    if (rules.refusedBodyParts.has(part)) fail('bodyParts', `disjoint lists (${part} is in both)`);
  }
  for (const view of rules.acceptedViews) {
    if (rules.refusedViews.has(view)) fail('viewPositions', `disjoint lists (${view} is in both)`);
  }
  return rules;
}
