/**
 * The care job: after a study is graded and its SR is in the PACS, write the results to the
 * FHIR server and, for a patient matched there, a care plan per knee.
 *
 * It runs as its own job (queue `care-plan`, see queue.ts), after the grading job has
 * finished, so the FHIR server being down never holds back or fails the imaging part: the
 * grading job succeeds, the care job retries with backoff until the server is back, and then
 * writes once. Everything it writes is a conditional update keyed by study, knee and model
 * (src/fhir/builders/keys.ts), so a retry or a reprocess updates instead of duplicating.
 *
 * Steps:
 * 1. The graded knees from the database; the study's patient attributes from the PACS
 *    (QIDO-RS), because jointspace's database keeps no Patient ID.
 * 2. Match the Patient by identifier (src/fhir/patient-match.ts). Unmatched or ambiguous: the
 *    imaging results are written without a subject, the reason is recorded, no care plan.
 * 3. Per knee, the progression since the patient's earlier result, as the grading job found it
 *    for the SR (knee-progression.ts) and stored it with the result.
 * 4. Read the patient's record once (src/fhir/patient-context.ts) and run the rules per knee
 *    (src/care/engine.ts) with the progression among the facts (rules R14, R15).
 * 5. One transaction: Device, Observations (KL grade, progression), DiagnosticReport,
 *    Provenance, and per knee the draft CarePlan with its proposal requests.
 * 6. Revoke (ServiceRequest) or cancel (MedicationRequest) jointspace's earlier draft requests
 *    of these knees that the new plan no longer proposes (the patient's record changed).
 * 7. Record the outcome, the proposals, the progression and the FHIR ids written.
 */
import type {
  Bundle,
  MedicationRequest,
  Patient,
  Reference,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { recommend } from '../care/engine.js';
import { isoDate, type ProgressionAssessment } from '../care/progression.js';
import type { CareRules } from '../care/rules.js';
import type { DicomWebClient } from '../dicomweb/client.js';
import { firstString, tags } from '../dicomweb/json.js';
import { JointspaceError } from '../errors.js';
import { sendInChunks, writtenReference } from '../fhir/chunked-transaction.js';
import type { FhirClient } from '../fhir/client.js';
import type { FhirCodes } from '../fhir/codes.js';
import type { PatientIdentifierMap } from '../fhir/identifiers.js';
import { readPatientContext } from '../fhir/patient-context.js';
import { matchPatient } from '../fhir/patient-match.js';
import {
  KEY_SYSTEMS,
  buildCareResources,
  buildImagingResources,
  careRequestKey,
  studyTransaction,
  type CareResources,
  type ImagingResources,
  type KneeResultInput,
} from '../fhir/resources.js';
import type { Logger } from '../log.js';
import { modelId, type AlgorithmIdentity } from '../sr/dataset.js';
import { measurementReportUids } from '../sr/uids.js';
import type { CarePlanStore, GradedKneeRecord, KneeCarePlan } from '../store/care-plans.js';
import type { AuditObjectKind, KneeLaterality } from '../store/entities.js';
import type { Store } from '../store/repository.js';

export interface CarePlannerOptions {
  fhir: Pick<FhirClient, 'search' | 'read' | 'transaction' | 'update'>;
  dicomweb: Pick<DicomWebClient, 'searchForInstances'>;
  store: Pick<Store, 'recordWrites'>;
  carePlans: CarePlanStore;
  rules: CareRules;
  /** The model that grades in this process; results of another model are not written. */
  algorithm: AlgorithmIdentity;
  /** Base URL of the FHIR server, for the audit trail (credentials are stripped there). */
  destination: string;
  logger: Logger;
  codes?: FhirCodes;
  identifiers?: PatientIdentifierMap;
  clock?: () => Date;
}

export type CareRunStatus = 'written' | 'unmatched' | 'ambiguous' | 'nothing-graded';

export interface CareRun {
  status: CareRunStatus;
  /** Why no care plan was written, for `unmatched`, `ambiguous` and `nothing-graded`. */
  reason?: string;
  /** Recommendations proposed, over all knees. */
  recommendations: number;
  /** Draft requests of earlier runs revoked. */
  revoked: number;
}

/** Patient and study attributes the care job reads from the PACS. */
const STUDY_FIELDS = [
  tags.SOPInstanceUID,
  '00100020', // PatientID
  '00100021', // IssuerOfPatientID
  '00080020', // StudyDate
  '00080050', // AccessionNumber
] as const;

export class CarePlanner {
  private readonly clock: () => Date;

  constructor(private readonly options: CarePlannerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async run(studyInstanceUid: string): Promise<CareRun> {
    const { carePlans, logger } = this.options;
    const model = modelId(this.options.algorithm);
    const graded = await carePlans.gradedKnees(studyInstanceUid);
    if (graded.length === 0) {
      return { status: 'nothing-graded', reason: 'no knee of this study is graded', ...none() };
    }
    const other = graded.find((knee) => knee.modelId !== model);
    if (other !== undefined) {
      throw new JointspaceError(
        'invalid-argument',
        `the study was graded by ${other.modelId}, not by the model of this process (${model}); reprocess it to grade it again`,
      );
    }

    const study = await this.studyAttributes(studyInstanceUid);
    const recorded = this.clock();
    const today = recorded.toISOString().slice(0, 10);
    const studyDate = study.studyDate ?? today;
    // Made once, by the grading job, for the SR (process-study.ts); stored with the result.
    const progressions = new Map(
      graded.flatMap((knee) =>
        knee.progression === undefined ? [] : [[knee.laterality, knee.progression] as const],
      ),
    );
    const match = await matchPatient(
      this.options.fhir,
      { patientId: study.patientId, issuerOfPatientId: study.issuerOfPatientId },
      {
        logger,
        ...(this.options.identifiers === undefined
          ? {}
          : { identifiers: this.options.identifiers }),
      },
    );
    const patient: Reference<Patient> | undefined =
      match.status === 'matched' ? { reference: `Patient/${match.patient.id}` } : undefined;

    const imaging = buildImagingResources({
      study: {
        studyInstanceUid,
        studyDate,
        ...(study.accessionNumber === undefined ? {} : { accessionNumber: study.accessionNumber }),
      },
      ...(patient === undefined ? {} : { patient }),
      knees: graded.map((knee) =>
        kneeInput(studyInstanceUid, model, knee, progressions.get(knee.laterality)),
      ),
      algorithm: this.options.algorithm,
      recorded,
    });

    if (match.status !== 'matched' || patient === undefined) {
      const written = await this.write(studyInstanceUid, imaging, []);
      const reason = match.status === 'matched' ? 'no patient reference' : match.reason;
      const status = match.status === 'ambiguous' ? 'ambiguous' : 'unmatched';
      await carePlans.saveUnmatched(studyInstanceUid, status, reason);
      logger.info('care.no-plan', { status, resources: written.length });
      return { status, reason, ...none() };
    }

    const context = await readPatientContext(this.options.fhir, match.patient, {
      studyDate,
      asOf: today < studyDate ? studyDate : today,
      logger,
      ...(this.options.codes === undefined ? {} : { codes: this.options.codes }),
    });
    const plans = graded.map((knee) => {
      const progression = progressions.get(knee.laterality);
      const proposal = recommend(
        {
          ...context.facts,
          knee: {
            laterality: knee.laterality,
            klGrade: knee.klGrade,
            ...(knee.jsw.medialMinMm === undefined && knee.jsw.lateralMinMm === undefined
              ? {}
              : {
                  jsw: {
                    ...(knee.jsw.medialMinMm === undefined
                      ? {}
                      : { medialMm: knee.jsw.medialMinMm }),
                    ...(knee.jsw.lateralMinMm === undefined
                      ? {}
                      : { lateralMm: knee.jsw.lateralMinMm }),
                  },
                }),
            ...(progression?.facts === undefined ? {} : { progression: progression.facts }),
          },
        },
        this.options.rules,
      );
      return {
        knee,
        progression,
        proposal,
        resources: buildCareResources({ proposal, patient, recorded }, imaging, knee.laterality),
      };
    });

    const written = await this.write(
      studyInstanceUid,
      imaging,
      plans.map((plan) => plan.resources),
    );
    const revoked = await this.revokeStale(
      match.patient.id,
      studyInstanceUid,
      model,
      plans.map((plan) => ({ laterality: plan.knee.laterality, resources: plan.resources })),
    );
    const knees: KneeCarePlan[] = plans.map((plan) => {
      const carePlan = written.find(
        (entry) =>
          entry.kind === 'fhir-CarePlan' &&
          entry.fullUrl === plan.resources.carePlan.fullUrl &&
          entry.id !== undefined,
      );
      return {
        laterality: plan.knee.laterality,
        klGrade: plan.knee.klGrade,
        modelId: plan.knee.modelId,
        proposal: plan.proposal,
        ...(plan.progression === undefined ? {} : { progression: plan.progression }),
        ...(carePlan?.id === undefined ? {} : { carePlan: carePlan.id }),
      };
    });
    await carePlans.saveWritten(studyInstanceUid, match.patient.id, knees);
    const recommendations = plans.reduce(
      (sum, plan) => sum + plan.proposal.recommendations.length,
      0,
    );
    logger.info('care.written', {
      knees: knees.length,
      recommendations,
      revoked,
      resources: written.length,
      ignoredValues: context.ignored.length,
    });
    return { status: 'written', recommendations, revoked };
  }

  /** Patient ID, issuer, study date and accession number of the study, from the PACS. */
  private async studyAttributes(studyInstanceUid: string) {
    const found = await this.options.dicomweb.searchForInstances({
      studyInstanceUid,
      includeFields: STUDY_FIELDS,
      limit: 1,
    });
    const first = found[0];
    if (first === undefined) {
      throw new JointspaceError(
        'not-found',
        'the PACS has no instances of this study (deleted since it was graded?)',
      );
    }
    const text = (tag: string) => {
      const value = firstString(first, tag)?.trim();
      return value === undefined || value === '' ? undefined : value;
    };
    return {
      patientId: text('00100020'),
      issuerOfPatientId: text('00100021'),
      studyDate: isoDate(text('00080020') ?? ''),
      accessionNumber: text('00080050'),
    };
  }

  /** Sends the transaction; returns what the server says it wrote, entry by entry. */
  private async write(
    studyInstanceUid: string,
    imaging: ImagingResources,
    care: CareResources[],
  ): Promise<WrittenEntry[]> {
    const bundle = studyTransaction(imaging, care);
    // In chunks: some servers (Medplum) refuse larger transactions of conditional updates.
    const response = await sendInChunks(this.options.fhir, bundle);
    const written = writtenEntries(bundle, response);
    await this.options.store.recordWrites(
      studyInstanceUid,
      this.options.destination,
      written.flatMap((entry) =>
        entry.id === undefined ? [] : [{ kind: entry.kind, id: entry.id }],
      ),
    );
    return written;
  }

  /**
   * Sets to `revoked` the draft requests jointspace proposed earlier for these knees of this
   * study and model that the plans just written no longer hold.
   */
  private async revokeStale(
    patientId: string,
    studyInstanceUid: string,
    model: string,
    care: { laterality: KneeLaterality; resources: CareResources }[],
  ): Promise<number> {
    const { fhir, rules } = this.options;
    const current = new Set(
      care.flatMap((plan) => plan.resources.requests.map((request) => request.key.value ?? '')),
    );
    // Every key a plan of these knees could have used: one per rule.
    const possible = new Set<string>();
    for (const { laterality } of care) {
      for (const rule of rules.rules) {
        const key = careRequestKey(studyInstanceUid, laterality, model, rule.id).value;
        if (key !== undefined) possible.add(key);
      }
    }
    const query = { subject: `Patient/${patientId}`, status: 'draft' };
    const candidates = [
      ...(await fhir.search<ServiceRequest>('ServiceRequest', query)),
      ...(await fhir.search<MedicationRequest>('MedicationRequest', query)),
    ];
    let revoked = 0;
    for (const request of candidates) {
      const key = request.identifier?.find(
        (identifier) => identifier.system === KEY_SYSTEMS.careRequest,
      )?.value;
      if (key === undefined || !possible.has(key) || current.has(key)) continue;
      // ServiceRequest says `revoked`; MedicationRequest has no such code and says `cancelled`.
      await fhir.update(
        request.resourceType === 'ServiceRequest'
          ? { ...request, status: 'revoked' }
          : { ...request, status: 'cancelled' },
      );
      revoked++;
    }
    return revoked;
  }
}

interface WrittenEntry {
  kind: AuditObjectKind;
  fullUrl: string;
  /** `Type/id` as the server answered, when it did. */
  id?: string;
}

/** Pairs each request entry with its response (same order, FHIR R4 transaction-response). */
function writtenEntries(request: Bundle, response: Bundle): WrittenEntry[] {
  const answers = response.entry ?? [];
  return (request.entry ?? []).map((entry, index) => {
    const type = entry.resource?.resourceType ?? 'Resource';
    const id = writtenReference(answers[index]);
    return {
      kind: `fhir-${type}`,
      fullUrl: entry.fullUrl ?? '',
      ...(id === undefined ? {} : { id }),
    };
  });
}

function kneeInput(
  studyInstanceUid: string,
  model: string,
  knee: GradedKneeRecord,
  progression: ProgressionAssessment | undefined,
): KneeResultInput {
  return {
    ...(progression === undefined ? {} : { progression }),
    laterality: knee.laterality,
    klGrade: knee.klGrade,
    probabilities: knee.probabilities,
    confidence: knee.confidence,
    srSopInstanceUid: measurementReportUids(studyInstanceUid, model).sopInstanceUid,
    sourceSopInstanceUids: [knee.sopInstanceUid],
    ...(Object.keys(knee.jsw).length === 0 ? {} : { jsw: knee.jsw }),
  };
}

function none() {
  return { recommendations: 0, revoked: 0 };
}
