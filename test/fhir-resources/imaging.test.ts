import test from 'ava';
import type { Observation } from '@medplum/fhirtypes';
import { JointspaceError } from '../../src/errors.js';
import {
  buildImagingResources,
  imagingEntries,
  type BuiltResource,
  type KneeResultInput,
} from '../../src/fhir/resources.js';
import { validateFhirResource } from '../../src/fhir/validate.js';
import { LEFT_KNEE, RIGHT_KNEE, SR_UID, STUDY_UID, imagingInput } from './fixtures.js';

const SNOMED = 'http://snomed.info/sct';

function keyOf(resource: BuiltResource): string {
  return `${resource.key.system ?? ''}|${resource.key.value ?? ''}`;
}

test('every imaging resource passes R4 validation', (t) => {
  const imaging = buildImagingResources(imagingInput());
  for (const entry of imagingEntries(imaging)) {
    t.notThrows(() => validateFhirResource(entry.resource), entry.resource.resourceType);
  }
});

test('identifiers and addresses are the same on every call', (t) => {
  const first = imagingEntries(buildImagingResources(imagingInput()));
  const second = imagingEntries(buildImagingResources(imagingInput()));
  t.deepEqual(
    second.map((e) => [e.fullUrl, e.conditionalUrl, keyOf(e)]),
    first.map((e) => [e.fullUrl, e.conditionalUrl, keyOf(e)]),
  );
  t.deepEqual(second, first);
});

test('identifiers differ between knees, measurements and model versions', (t) => {
  const imaging = buildImagingResources(imagingInput());
  const [right, left] = imaging.knees;
  t.truthy(right && left);
  const keys = imagingEntries(imaging).map(keyOf);
  t.is(new Set(keys).size, keys.length);
  t.not(keyOf(right?.klObservation as BuiltResource), keyOf(left?.klObservation as BuiltResource));

  const newer = buildImagingResources(
    imagingInput({
      algorithm: { name: 'knee-kl-test', version: '1.3.0', sha256: 'cd'.repeat(32) },
    }),
  );
  const newerKeys = new Set(imagingEntries(newer).map(keyOf));
  for (const key of keys) t.false(newerKeys.has(key), `${key} reused by another model version`);
});

test('the KL grade Observation follows the SR-to-FHIR mapping', (t) => {
  const imaging = buildImagingResources(imagingInput());
  const obs = imaging.knees[0]?.klObservation.resource as Observation;

  t.is(obs.status, 'preliminary');
  t.is(obs.category?.[0]?.coding?.[0]?.code, 'imaging');
  t.deepEqual(obs.code.coding?.[0]?.code, 'KL-GRADE');
  t.is(obs.valueCodeableConcept?.coding?.[0]?.code, 'KL-3');
  t.is(obs.valueCodeableConcept?.text, 'KL grade 3 (moderate)');
  t.deepEqual(obs.bodySite?.coding?.[0], {
    system: SNOMED,
    code: '6757004',
    display: 'Structure of right knee region',
  });
  t.is(
    (imaging.knees[1]?.klObservation.resource as Observation).bodySite?.coding?.[0]?.code,
    '82169009',
  );
  t.is(obs.derivedFrom?.[0]?.identifier?.value, `urn:oid:${STUDY_UID}`);
  t.is(obs.partOf?.[0]?.identifier?.system, 'urn:dicom:uid');
  t.is(obs.basedOn?.[0]?.identifier?.value, 'TEST-ACC-1');
  t.is(obs.device?.reference, imaging.device.fullUrl);
  t.is(obs.subject?.reference, 'Patient/test-patient-1');
  t.is(obs.effectiveDateTime, '2025-06-01');
  t.is(obs.issued, '2025-06-02T10:00:00.000Z');
  t.deepEqual(
    obs.component?.map((c) => [c.code.coding?.[0]?.code, c.valueQuantity?.value]),
    [
      ['KL-P0', 0.02],
      ['KL-P1', 0.05],
      ['KL-P2', 0.15],
      ['KL-P3', 0.7],
      ['KL-P4', 0.08],
      ['KL-CONFIDENCE', 0.7],
    ],
  );
  t.regex(obs.note?.[0]?.text ?? '', /not verified/);
});

test('one Observation in mm per joint-space width given, none when there is none', (t) => {
  const imaging = buildImagingResources(imagingInput());
  const [right, left] = imaging.knees;
  t.deepEqual(
    right?.jswObservations.map((o) => [
      o.resource.code.coding?.[0]?.code,
      o.resource.valueQuantity,
    ]),
    [
      [
        'JSW-MIN-MEDIAL',
        { value: 2.1, unit: 'mm', system: 'http://unitsofmeasure.org', code: 'mm' },
      ],
      [
        'JSW-MIN-LATERAL',
        { value: 4.4, unit: 'mm', system: 'http://unitsofmeasure.org', code: 'mm' },
      ],
    ],
  );
  t.deepEqual(left?.jswObservations, []);
});

test('the DiagnosticReport groups the Observations and concludes per knee', (t) => {
  const imaging = buildImagingResources(imagingInput());
  const report = imaging.report.resource;
  const observations = imaging.knees.flatMap((k) => [k.klObservation, ...k.jswObservations]);

  t.is(report.status, 'preliminary');
  t.is(report.category?.[0]?.coding?.[0]?.code, 'RAD');
  t.is(report.code.coding?.[0]?.code, '28565-0');
  t.deepEqual(
    report.result?.map((r) => r.reference),
    observations.map((o) => o.fullUrl),
  );
  t.is(report.imagingStudy?.[0]?.identifier?.value, `urn:oid:${STUDY_UID}`);
  t.true(report.identifier?.some((i) => i.value === `urn:oid:${SR_UID}`));
  t.regex(report.conclusion ?? '', /Right knee: KL grade 3 \(moderate\), probability 0\.70/);
  t.regex(report.conclusion ?? '', /Left knee: KL grade 1 \(doubtful\)/);
  t.deepEqual(
    report.conclusionCode?.map((c) => c.coding?.[0]?.code),
    ['KL-3', 'KL-1'],
  );
});

test('the Provenance names the model as author and the study and images as sources', (t) => {
  const imaging = buildImagingResources(imagingInput());
  const prov = imaging.provenance.resource;
  t.is(prov.agent[0]?.type?.coding?.[0]?.code, 'author');
  t.is(prov.agent[0]?.who.reference, imaging.device.fullUrl);
  t.deepEqual(
    prov.target.map((r) => r.reference),
    [...imaging.knees.flatMap((k) => [k.klObservation, ...k.jswObservations]), imaging.report].map(
      (r) => r.fullUrl,
    ),
  );
  t.is(prov.entity?.[0]?.what.identifier?.value, `urn:oid:${STUDY_UID}`);
  t.is(prov.entity?.length, 2);
  t.is(prov.recorded, '2025-06-02T10:00:00.000Z');
});

test('the Device carries the model version, its SHA-256 and the SR Device UID', (t) => {
  const { resource } = buildImagingResources(imagingInput()).device;
  t.deepEqual(resource.identifier?.[0], {
    system: 'urn:jointspace:model-sha256',
    value: 'ab'.repeat(32),
  });
  t.regex(resource.identifier?.[1]?.value ?? '', /^urn:oid:2\.25\.\d+$/);
  t.deepEqual(resource.version, [{ value: '1.2.0' }]);
  t.is(resource.type?.coding?.[0]?.code, '706689003');
  t.regex(resource.type?.text ?? '', /AI software .*decision support/);
});

test('without a matched patient the imaging resources have no subject and still validate', (t) => {
  const imaging = buildImagingResources(imagingInput({ patient: undefined }));
  t.is(imaging.report.resource.subject, undefined);
  for (const entry of imagingEntries(imaging)) {
    t.notThrows(() => validateFhirResource(entry.resource));
  }
});

const knee = (extra: Partial<KneeResultInput>): KneeResultInput => ({ ...RIGHT_KNEE, ...extra });

const REFUSED: [string, Parameters<typeof imagingInput>[0], RegExp][] = [
  [
    'KL 7',
    { knees: [knee({ klGrade: 7 })] },
    /^knees\[0\]\.klGrade must be an integer 0\.\.4 \(got 7\)$/,
  ],
  [
    'probabilities summing to 1.2',
    { knees: [knee({ probabilities: [0.2, 0.2, 0.2, 0.3, 0.3] })] },
    /^knees\[0\]\.probabilities must sum to 1 \(got 1\.2000\)$/,
  ],
  [
    'four probabilities',
    { knees: [knee({ probabilities: [0.25, 0.25, 0.25, 0.25] })] },
    /^knees\[0\]\.probabilities must hold 5 numbers/,
  ],
  [
    'a negative probability',
    { knees: [LEFT_KNEE, knee({ probabilities: [-0.1, 0.2, 0.2, 0.4, 0.3] })] },
    /^knees\[1\]\.probabilities\[0\] must be a number in 0\.\.1/,
  ],
  ['confidence 1.5', { knees: [knee({ confidence: 1.5 })] }, /^knees\[0\]\.confidence/],
  ['two right knees', { knees: [RIGHT_KNEE, RIGHT_KNEE] }, /^knees\[1\]\.laterality must differ/],
  ['no knee', { knees: [] }, /^knees must hold one or two knees/],
  [
    'a bad SR UID',
    { knees: [knee({ srSopInstanceUid: '1.02.3' })] },
    /^knees\[0\]\.srSopInstanceUid/,
  ],
  ['no source image', { knees: [knee({ sourceSopInstanceUids: [] })] }, /sourceSopInstanceUids/],
  [
    'JSW of 35 mm',
    { knees: [knee({ jsw: { medialMinMm: 35 } })] },
    /^knees\[0\]\.jsw\.medialMinMm/,
  ],
  [
    'a study date of 31 February',
    { study: { studyInstanceUid: STUDY_UID, studyDate: '20250231' } },
    /^study\.studyDate/,
  ],
  [
    'a bad Study Instance UID',
    { study: { studyInstanceUid: 'x', studyDate: '20250601' } },
    /^study\.studyInstanceUid/,
  ],
  [
    'a short SHA-256',
    { algorithm: { name: 'knee-kl-test', version: '1.2.0', sha256: 'abc' } },
    /^algorithm\.sha256/,
  ],
  ['an invalid Date', { recorded: new Date(Number.NaN) }, /^recorded must be a valid Date/],
  [
    'a patient reference of another type',
    { patient: { reference: 'Group/1' } },
    /^patient\.reference/,
  ],
];

for (const [name, extra, message] of REFUSED) {
  test(`refused: ${name}`, (t) => {
    const error = t.throws(() => buildImagingResources(imagingInput(extra)), {
      instanceOf: JointspaceError,
    });
    t.is(error.code, 'invalid-argument');
    t.regex(error.message, message);
  });
}

test('refusals never quote UIDs or accession numbers', (t) => {
  const error = t.throws(() =>
    buildImagingResources(
      imagingInput({
        study: { studyInstanceUid: '1.2.03', studyDate: '20250601', accessionNumber: '' },
      }),
    ),
  );
  t.notRegex(error.message, /1\.2\.03/);
});
