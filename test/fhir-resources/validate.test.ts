import test from 'ava';
import type { CarePlan, Observation } from '@medplum/fhirtypes';
import { JointspaceError } from '../../src/errors.js';
import { validateFhirResource } from '../../src/fhir/validate.js';

test('a valid resource passes and returns its warnings', (t) => {
  const observation: Observation = {
    resourceType: 'Observation',
    status: 'preliminary',
    code: { text: 'test' },
    subject: { reference: 'urn:uuid:0b6c1f8e-6f1e-8f2e-8a39-2d6f3b1a9c11' },
  };
  const issues = validateFhirResource(observation);
  t.true(issues.every((i) => i.severity !== 'error'));
});

test('a missing required element is refused, naming the type and the path', (t) => {
  const error = t.throws(
    () => validateFhirResource({ resourceType: 'Observation', code: { text: 'x' } } as Observation),
    { instanceOf: JointspaceError },
  );
  t.is(error.code, 'invalid-argument');
  t.is(
    error.message,
    'Observation is not valid FHIR R4: Observation.status: Missing required property',
  );
});

test('a broken invariant is refused (cpl-3: reference or detail, not both)', (t) => {
  const plan: CarePlan = {
    resourceType: 'CarePlan',
    status: 'draft',
    intent: 'proposal',
    subject: { reference: 'Patient/test-patient-1' },
    activity: [{ reference: { reference: 'ServiceRequest/1' }, detail: { status: 'not-started' } }],
  };
  const error = t.throws(() => validateFhirResource(plan), { instanceOf: JointspaceError });
  t.regex(
    error.message,
    /^CarePlan is not valid FHIR R4: CarePlan\.activity\[0\]: Constraint cpl-3 not met/,
  );
});

test('an unknown element is refused and the count of further errors given', (t) => {
  const error = t.throws(() =>
    validateFhirResource({ resourceType: 'Device', colour: 'red', size: 'large' } as never),
  );
  t.regex(error.message, /^Device is not valid FHIR R4: Device\.\w+: .* \(and 1 more\)$/);
});
