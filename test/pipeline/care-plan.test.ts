/**
 * From a knee radiograph in Orthanc to a draft CarePlan on a FHIR server: real Orthanc with
 * the push script, real PostgreSQL, Medplum's FHIR router on loopback (the only coupling is
 * JOINTSPACE_FHIR_URL), `jointspace serve` as its own process. Also: a study whose patient
 * FHIR does not know, a FHIR server that is away while a study is graded, a rewrite that
 * revokes a draft the new plan no longer holds, and CDS Hooks reading what was written.
 */
import test from 'ava';
import pg from 'pg';
import type { Bundle, CarePlan, Observation, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { careRules } from '../../src/care/rules.js';
import { DicomWebClient } from '../../src/dicomweb/client.js';
import { firstString, tags } from '../../src/dicomweb/json.js';
import { derivedKey } from '../../src/fhir/builders/keys.js';
import { KEY_SYSTEMS, careRequestKey } from '../../src/fhir/resources.js';
import { fullPatient, patient } from '../fhir/records.js';
import { useFhirServer, type FhirServer } from '../helpers/fhir-server.js';
import { usePushedService } from '../helpers/pushed-service.js';
import { kneeStudy, valPictures } from './studies.js';
import { upload, waitForStudy, writtenObjects } from './support.js';

// Declared first: its top-level await must come before any other test or hook.
const {
  orthanc,
  database,
  service: running,
} = await usePushedService(test, {
  beforeStart: async () => {
    const fhirServer = await fhir();
    await seedPatients(fhirServer);
    return {
      JOINTSPACE_FHIR_URL: fhirServer.url,
      JOINTSPACE_CARE_RETRY_DELAY_S: '1',
      JOINTSPACE_CDS_AUTH: 'none',
    };
  },
});
const fhir = useFhirServer(test);

/** The seeded patient with CKD (no oral NSAID) and a full record; identifier JS-FHIR-FULL. */
const PATIENT = 'full';
const PATIENT_IDENTIFIER = 'JS-FHIR-FULL';

interface CareBody {
  status: string;
  knees: { laterality: string; klGrade: number; model: string }[];
  carePlan: {
    status: string;
    reason: string | null;
    attempts: number;
    writtenAt: string | null;
  } | null;
  progression: {
    laterality: string;
    baselineStudyDate: string;
    intervalYears: number;
    klChange?: number;
    flags: string[];
    clinicianText: string;
  }[];
  recommendations: {
    id: string;
    laterality: string;
    title: string;
    strength: string;
    source: string;
    clinicianExplanation: string;
    patientExplanation: string;
  }[];
}

/** The patients the tests grade studies of, with their records. */
async function seedPatients(fhirServer: FhirServer): Promise<void> {
  const record = fullPatient(PATIENT);
  await fhirServer.seed(record.filter((r) => r.resourceType === 'Medication'));
  await fhirServer.seed(record.filter((r) => r.resourceType !== 'Medication'));
  // A patient with two studies three years apart, for progression.
  await fhirServer.seed([
    patient('prog', {
      identifiers: [{ system: 'urn:oid:2.25.4242.1', value: 'JS-PROG' }],
      birthDate: '1955-02-01',
      gender: 'male',
    }),
  ]);
  // Two Patients with one identifier value: a study of that number is ambiguous.
  await fhirServer.seed([
    patient('twin-a', { identifiers: [{ system: 'urn:oid:2.25.4242.1', value: 'JS-TWIN' }] }),
    patient('twin-b', { identifiers: [{ system: 'urn:oid:2.25.4242.2', value: 'JS-TWIN' }] }),
  ]);
}

async function study(uid: string): Promise<CareBody> {
  const response = await running().api(`/api/studies/${uid}`);
  if (response.status !== 200) throw new Error(`GET study: HTTP ${response.status}`);
  return (await response.json()) as CareBody;
}

/** Polls the study until its care plan is in one of `statuses`. */
async function waitForCare(uid: string, statuses: string[], timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'none';
  while (Date.now() < deadline) {
    try {
      const body = await study(uid);
      if (body.carePlan !== null && statuses.includes(body.carePlan.status)) return body;
      last = body.carePlan?.status ?? 'null';
    } catch (error) {
      // A busy machine may drop a connection now and then; the next poll asks again.
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`care plan not ${statuses.join('/')} within ${timeoutMs} ms (last ${last})`);
}

async function search<T extends Resource>(server: FhirServer, query: string): Promise<T[]> {
  const response = await fetch(`${server.url}${query}`, {
    headers: { accept: 'application/fhir+json' },
  });
  const bundle = (await response.json()) as Bundle<T>;
  return (bundle.entry ?? []).flatMap((entry) =>
    entry.resource === undefined ? [] : [entry.resource],
  );
}

async function query<T>(sql: string, values: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: (await database()).url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The CarePlans on the FHIR server for one knee of a study (by jointspace's key). */
async function carePlansOf(uid: string, laterality: 'R' | 'L', model: string): Promise<CarePlan[]> {
  const key = derivedKey(KEY_SYSTEMS.carePlan, uid, laterality, model);
  return search<CarePlan>(
    await fhir(),
    `CarePlan?identifier=${encodeURIComponent(`${key.system ?? ''}|${key.value ?? ''}`)}`,
  );
}

test.serial(
  'a graded knee of a matched patient gets a draft CarePlan and recommendations',
  async (t) => {
    const server = await orthanc();
    const [picture] = await valPictures(3, 1);
    const knee = await kneeStudy([{ picture, laterality: 'R' }], PATIENT_IDENTIFIER);
    await upload(server, knee);

    const graded = await waitForStudy(running(), knee.studyInstanceUid);
    t.is(graded.status, 'graded');
    const body = await waitForCare(knee.studyInstanceUid, ['written', 'failed']);
    t.is(body.carePlan?.status, 'written', body.carePlan?.reason ?? '');
    t.true(body.recommendations.length >= 1);
    const careJobs = await query<{ outcome: string; error_message: string | null }>(
      `SELECT outcome, error_message FROM job_records
      WHERE study_instance_uid = $1 AND kind = 'care-plan' ORDER BY started_at`,
      [knee.studyInstanceUid],
    );
    // The FHIR server was up all along: one attempt, no retry.
    t.deepEqual(careJobs, [{ outcome: 'succeeded', error_message: null }]);
    for (const rec of body.recommendations) {
      t.regex(rec.id, /^R\d+$/);
      t.is(rec.laterality, 'R');
      for (const text of [rec.title, rec.strength, rec.source, rec.clinicianExplanation]) {
        t.true(text.length > 0);
      }
      t.true(rec.patientExplanation.length > 0);
    }
    // Chronic kidney disease is on the record: no oral NSAID is proposed.
    t.false(
      body.recommendations.some(
        (rec) => /oral NSAID/i.test(rec.title) && !/avoid/i.test(rec.title),
      ),
    );
    t.true(body.recommendations.some((rec) => /exercise/i.test(rec.title)));

    const plans = await carePlansOf(knee.studyInstanceUid, 'R', body.knees[0]?.model ?? '');
    t.is(plans.length, 1);
    const plan = plans[0];
    t.is(plan?.status, 'draft');
    t.is(plan?.intent, 'proposal');
    t.is(plan?.subject.reference, `Patient/${PATIENT}`);
    t.true((plan?.activity ?? []).length >= body.recommendations.length - 1);

    // The imaging part of the same study went to the PACS as before.
    const written = await writtenObjects(server, knee.studyInstanceUid);
    t.is(written.reports.length, 1);
    const audit = await query<{ object_kind: string }>(
      `SELECT a.object_kind FROM audit_entries a JOIN studies s ON s.id = a.study_id
      WHERE s.study_instance_uid = $1`,
      [knee.studyInstanceUid],
    );
    const kinds = new Set(audit.map((row) => row.object_kind));
    for (const kind of [
      'sr',
      'overlay',
      'fhir-CarePlan',
      'fhir-DiagnosticReport',
      'fhir-Observation',
    ]) {
      t.true(kinds.has(kind), kind);
    }

    // CDS Hooks answers from what was written.
    const cds = await fetch(new URL('cds-services/jointspace-knee-oa', running().url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: randomUUID(),
        context: { patientId: PATIENT, userId: 'Practitioner/example' },
      }),
    });
    t.is(cds.status, 200);
    const cards = ((await cds.json()) as { cards: { summary: string; indicator: string }[] }).cards;
    t.true(cards.length >= body.recommendations.length);
    t.true(cards.some((card) => /right knee/i.test(card.summary)));
  },
);

test.serial(
  'reprocessing updates the same FHIR resources and revokes a draft no longer proposed',
  async (t) => {
    const server = await orthanc();
    const [picture] = await valPictures(2, 1);
    const knee = await kneeStudy([{ picture, laterality: 'L' }], PATIENT_IDENTIFIER);
    await upload(server, knee);
    await waitForStudy(running(), knee.studyInstanceUid);
    const first = await waitForCare(knee.studyInstanceUid, ['written', 'failed']);
    t.is(first.carePlan?.status, 'written');

    // A draft jointspace would have written for a rule the plan does not hold now, as if the
    // patient's record had changed since the earlier run.
    const model = first.knees[0]?.model ?? '';
    const proposed = new Set(first.recommendations.map((rec) => rec.id));
    const stale = careRules().rules.find((rule) => !proposed.has(rule.id));
    if (stale === undefined) throw new Error('every rule was proposed');
    const key = careRequestKey(knee.studyInstanceUid, 'L', model, stale.id);
    const fhirServer = await fhir();
    await fhirServer.seed([
      {
        resourceType: 'ServiceRequest',
        identifier: [key],
        status: 'draft',
        intent: 'proposal',
        subject: { reference: `Patient/${PATIENT}` },
        code: { text: stale.title },
      },
    ]);

    const response = await running().api(`/api/studies/${knee.studyInstanceUid}/reprocess`, {
      method: 'POST',
    });
    t.is(response.status, 202);
    await running().waitForLog(
      (line) => line.event === 'care.written' && line.revoked === 1,
      120_000,
    );
    const second = await waitForCare(knee.studyInstanceUid, ['written', 'failed']);
    t.is(second.carePlan?.status, 'written');
    t.true(
      Date.parse(second.carePlan?.writtenAt ?? '') > Date.parse(first.carePlan?.writtenAt ?? ''),
    );

    t.is((await carePlansOf(knee.studyInstanceUid, 'L', model)).length, 1);
    const revoked = await search<{ resourceType: 'ServiceRequest'; status: string } & Resource>(
      fhirServer,
      `ServiceRequest?identifier=${encodeURIComponent(`${key.system ?? ''}|${key.value ?? ''}`)}`,
    );
    t.deepEqual(
      revoked.map((r) => r.status),
      ['revoked'],
    );
  },
);

test.serial(
  'a patient FHIR does not know, or knows twice, gets no care plan, with the reason',
  async (t) => {
    const server = await orthanc();
    const [picture] = await valPictures(1, 1);
    const unknown = await kneeStudy([{ picture, laterality: 'R' }], 'JS-NOBODY-HERE');
    const twin = await kneeStudy([{ picture, laterality: 'R' }], 'JS-TWIN');
    await upload(server, unknown);
    await upload(server, twin);

    for (const [uid, status] of [
      [unknown.studyInstanceUid, 'unmatched'],
      [twin.studyInstanceUid, 'ambiguous'],
    ] as const) {
      t.is((await waitForStudy(running(), uid)).status, 'graded');
      const body = await waitForCare(uid, ['unmatched', 'ambiguous', 'written', 'failed']);
      t.is(body.carePlan?.status, status);
      t.truthy(body.carePlan?.reason);
      t.deepEqual(body.recommendations, []);
      t.is((await writtenObjects(server, uid)).reports.length, 1);
    }
    // The patient identifier is not in the logs.
    t.false(running().output().includes('JS-NOBODY-HERE'));
  },
);

test.serial(
  'with the FHIR server away, grading completes and the care plan is written once it is back',
  async (t) => {
    const server = await orthanc();
    const fhirServer = await fhir();
    const [picture] = await valPictures(4, 1);
    const knee = await kneeStudy([{ picture, laterality: 'R' }], PATIENT_IDENTIFIER);

    await fhirServer.stop();
    try {
      await upload(server, knee);
      const graded = await waitForStudy(running(), knee.studyInstanceUid);
      t.is(graded.status, 'graded');
      t.is((await writtenObjects(server, knee.studyInstanceUid)).reports.length, 1);
      const waiting = await waitForCare(knee.studyInstanceUid, ['retrying', 'failed']);
      t.is(waiting.carePlan?.status, 'retrying');
      t.regex(waiting.carePlan?.reason ?? '', /FHIR/);
      await new Promise((resolve) => setTimeout(resolve, 5000));
    } finally {
      await fhirServer.restart();
    }

    const body = await waitForCare(knee.studyInstanceUid, ['written', 'failed'], 180_000);
    t.is(body.carePlan?.status, 'written');
    t.is((await carePlansOf(knee.studyInstanceUid, 'R', body.knees[0]?.model ?? '')).length, 1);
    const jobs = await query<{ outcome: string }>(
      `SELECT outcome FROM job_records WHERE study_instance_uid = $1 AND kind = 'care-plan'
      ORDER BY started_at`,
      [knee.studyInstanceUid],
    );
    t.true(jobs.filter((job) => job.outcome === 'retrying').length >= 1);
    t.is(jobs.filter((job) => job.outcome === 'succeeded').length, 1);
    t.is(jobs.at(-1)?.outcome, 'succeeded');
  },
);

test.serial(
  'a knee graded three years after an earlier study gets its progression, in the API and in FHIR',
  async (t) => {
    const server = await orthanc();
    const [before] = await valPictures(0, 1);
    const [after] = await valPictures(4, 1);
    const earlier = await kneeStudy([{ picture: before, laterality: 'L' }], 'JS-PROG', '20200302');
    const later = await kneeStudy([{ picture: after, laterality: 'L' }], 'JS-PROG', '20230301');

    await upload(server, earlier);
    await waitForStudy(running(), earlier.studyInstanceUid);
    const first = await waitForCare(earlier.studyInstanceUid, ['written', 'failed']);
    t.deepEqual(first.progression, []);

    await upload(server, later);
    const graded = await waitForStudy(running(), later.studyInstanceUid);
    const body = await waitForCare(later.studyInstanceUid, ['written', 'failed']);
    t.is(body.carePlan?.status, 'written');
    const change = body.progression.find((p) => p.laterality === 'L');
    if (change === undefined) throw new Error('no progression for the left knee');
    t.is(change.baselineStudyDate, '2020-03-02');
    t.true(Math.abs(change.intervalYears - 3) < 0.02);
    const before_ = first.knees[0]?.klGrade ?? -1;
    const now = graded.knees[0]?.klGrade ?? -1;
    t.is(change.klChange, now - before_);
    t.true(change.clinicianText.length > 0);
    // KL +2 or more within 4 years is accelerated progression (R14).
    const accelerated = now - before_ >= 2;
    t.is(change.flags.includes('accelerated-kl-increase'), accelerated);
    t.is(
      body.recommendations.some((rec) => rec.id === 'R14'),
      accelerated,
    );

    // The SR of the later study holds the comparison group; the earlier one has none.
    for (const [study, expected] of [
      [earlier, false],
      [later, true],
    ] as const) {
      const [sr] = (await writtenObjects(server, study.studyInstanceUid)).reports;
      const client = new DicomWebClient({ url: server.dicomWebUrl });
      const series = await client.searchForInstances({
        studyInstanceUid: study.studyInstanceUid,
        match: { SOPInstanceUID: sr ?? '' },
        includeFields: [tags.SeriesInstanceUID],
      });
      const bytes = await client.retrieveInstance({
        studyInstanceUid: study.studyInstanceUid,
        seriesInstanceUid: firstString(series[0] ?? {}, tags.SeriesInstanceUID) ?? '',
        sopInstanceUid: sr ?? '',
      });
      t.is(Buffer.from(bytes).includes('PROG-COMPARISON'), expected);
    }

    const observations = await search<Observation>(
      await fhir(),
      'Observation?subject=Patient/prog',
    );
    t.true(observations.some((o) => /progression/i.test(o.code.text ?? '')));
  },
);
