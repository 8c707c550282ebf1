/**
 * The care-plan records of studies (table `care_plans`, migration 1765100000000): where a
 * study's care plan stands, why, and per knee the proposal that was written to FHIR.
 *
 * A study has at most one row. `pending` is set when the care job is queued, `retrying` while
 * the FHIR server cannot be reached, and one of the final states when the job ends. The
 * proposals are kept as JSON so `GET /api/studies/{uid}` and CDS Hooks show exactly what was
 * written, without asking the FHIR server.
 */
import type { DataSource } from 'typeorm';
import type { CarePlanProposal } from '../care/engine.js';
import type { EarlierKneeResult, ProgressionAssessment } from '../care/progression.js';
import type { CdsKneeResult, CdsResultSource } from '../cds/results.js';
import { JointspaceError } from '../errors.js';
import { millimetres, type JswSummary } from '../measurement/summary.js';
import type { KneeLaterality } from './entities.js';
import { derivePatientKey } from './repository.js';

export const CARE_PLAN_STATUSES = [
  'pending',
  'retrying',
  'written',
  'unmatched',
  'ambiguous',
  'failed',
] as const;
export type CarePlanStatus = (typeof CARE_PLAN_STATUSES)[number];

/** The proposal written for one knee. */
export interface KneeCarePlan {
  laterality: KneeLaterality;
  klGrade: number;
  /** The grading model, `name@version`. */
  modelId: string;
  proposal: CarePlanProposal;
  /** The comparison with the knee's earlier result, when there was one. */
  progression?: ProgressionAssessment;
  /** `CarePlan/<id>` on the FHIR server, when the server said. */
  carePlan?: string;
}

export interface CarePlanRecord {
  status: CarePlanStatus;
  reason: string | null;
  /** HMAC of the matched Patient's logical id on the configured FHIR server (`fhirPatientKey`). */
  fhirPatientKey: string | null;
  knees: KneeCarePlan[];
  /** Attempts made by the care job so far. */
  attempts: number;
  writtenAt: Date | null;
  updatedAt: Date;
}

/** A knee graded in a study, as the care job reads it (the newest result per knee). */
export interface GradedKneeRecord {
  laterality: KneeLaterality;
  klGrade: number;
  probabilities: number[];
  confidence: number;
  modelId: string;
  /** The radiograph graded. */
  sopInstanceUid: string;
  /** Minimum joint-space widths in mm, where they were measured in mm. */
  jsw: { medialMinMm?: number; lateralMinMm?: number };
  /** The comparison the grading job made with the knee's earlier result, when there was one. */
  progression?: ProgressionAssessment;
}

/** The latest care plan of a study of one patient, for CDS Hooks. */
export interface PatientCarePlan {
  studyInstanceUid: string;
  studyDate: string | null;
  knees: KneeCarePlan[];
  writtenAt: Date;
}

interface CarePlanRow {
  status: CarePlanStatus;
  reason: string | null;
  fhir_patient_key: string | null;
  knees: KneeCarePlan[];
  attempts: number;
  written_at: Date | null;
  updated_at: Date;
}

export class CarePlanStore {
  /**
   * `secret` keys the hash under which a matched FHIR Patient's logical id is kept (the patient
   * key secret, JOINTSPACE_PATIENT_KEY_SECRET): CDS Hooks looks plans up by that id, and the
   * database holds no identifier of a patient in the clear.
   */
  constructor(
    private readonly dataSource: DataSource,
    private readonly secret: string,
  ) {}

  /** The keyed hash of a FHIR Patient's logical id. */
  fhirPatientKey(fhirPatientId: string): string {
    return derivePatientKey(this.secret, 'fhir-patient', fhirPatientId);
  }

  /**
   * Marks the study's care plan as waiting for the job (a new grading result supersedes what
   * was written before, which stays until the job writes again).
   */
  async markPending(studyInstanceUid: string): Promise<void> {
    await this.upsert(studyInstanceUid, 'pending', null, { countAttempt: false });
  }

  /** The job could not reach the FHIR server and will try again; counts the attempt. */
  async markRetrying(studyInstanceUid: string, reason: string): Promise<void> {
    await this.upsert(studyInstanceUid, 'retrying', reason, { countAttempt: true });
  }

  /** The job failed for good; counts the attempt. Earlier proposals are kept. */
  async markFailed(studyInstanceUid: string, reason: string): Promise<void> {
    await this.upsert(studyInstanceUid, 'failed', reason, { countAttempt: true });
  }

  /** No single Patient matched: no care plan, the reason says why. */
  async saveUnmatched(
    studyInstanceUid: string,
    status: 'unmatched' | 'ambiguous',
    reason: string,
  ): Promise<void> {
    await this.write(studyInstanceUid, {
      status,
      reason,
      fhirPatientKey: null,
      knees: [],
    });
  }

  /** The care plans of the study's knees were written for this Patient. */
  async saveWritten(
    studyInstanceUid: string,
    fhirPatientId: string,
    knees: readonly KneeCarePlan[],
  ): Promise<void> {
    await this.write(studyInstanceUid, {
      status: 'written',
      reason: null,
      fhirPatientKey: this.fhirPatientKey(fhirPatientId),
      knees,
    });
  }

  async get(studyInstanceUid: string): Promise<CarePlanRecord | undefined> {
    const rows: CarePlanRow[] = await this.dataSource.query(
      `SELECT c.status, c.reason, c.fhir_patient_key, c.knees, c.attempts, c.written_at,
              c.updated_at
         FROM care_plans c JOIN studies s ON s.id = c.study_id
        WHERE s.study_instance_uid = $1`,
      [studyInstanceUid],
    );
    const row = rows[0];
    return row === undefined ? undefined : toRecord(row);
  }

  /** The newest result of each knee of the study, with the image it came from. */
  async gradedKnees(studyInstanceUid: string): Promise<GradedKneeRecord[]> {
    const rows: {
      laterality: KneeLaterality;
      kl_grade: number;
      probabilities: number[];
      confidence: number;
      model_id: string;
      sop_instance_uid: string;
      jsw: JswSummary | { refused: string } | null;
      progression: ProgressionAssessment | null;
    }[] = await this.dataSource.query(
      `SELECT DISTINCT ON (r.laterality)
              r.laterality, r.kl_grade, r.probabilities, r.confidence, r.model_id,
              i.sop_instance_uid, r.jsw, r.progression
         FROM results r
         JOIN images i ON i.id = r.image_id
         JOIN studies s ON s.id = i.study_id
        WHERE s.study_instance_uid = $1 AND i.status = 'graded'
        ORDER BY r.laterality, r.created_at DESC, r.id`,
      [studyInstanceUid],
    );
    return rows.map((row) => ({
      laterality: row.laterality,
      klGrade: row.kl_grade,
      probabilities: row.probabilities,
      confidence: row.confidence,
      modelId: row.model_id,
      sopInstanceUid: row.sop_instance_uid,
      jsw: millimetres(row.jsw),
      ...(row.progression === null ? {} : { progression: row.progression }),
    }));
  }

  /**
   * The graded knees of the same patient (by pseudonymous key) in studies dated before
   * `beforeDate`, the newest result per study and knee; none when the study has no key.
   */
  async earlierResults(studyInstanceUid: string, beforeDate: string): Promise<EarlierKneeResult[]> {
    const rows: {
      laterality: KneeLaterality;
      kl_grade: number;
      model_id: string;
      study_instance_uid: string;
      study_date: string;
      jsw: JswSummary | { refused: string } | null;
    }[] = await this.dataSource.query(
      `SELECT DISTINCT ON (s.id, r.laterality)
              r.laterality, r.kl_grade, r.model_id, s.study_instance_uid, r.jsw,
              to_char(s.study_date, 'YYYY-MM-DD') AS study_date
         FROM results r
         JOIN images i ON i.id = r.image_id
         JOIN studies s ON s.id = i.study_id
        WHERE s.patient_key = (SELECT patient_key FROM studies WHERE study_instance_uid = $1)
          AND s.study_instance_uid <> $1
          AND s.study_date < $2::date
          AND i.status = 'graded'
        ORDER BY s.id, r.laterality, r.created_at DESC, r.id`,
      [studyInstanceUid, beforeDate],
    );
    return rows.map((row) => ({
      laterality: row.laterality,
      klGrade: row.kl_grade,
      studyDate: row.study_date,
      studyInstanceUid: row.study_instance_uid,
      modelId: row.model_id,
      source: 'database' as const,
      ...jswOf(row.jsw),
    }));
  }

  /**
   * The written care plans of a FHIR Patient, newest study first (by study date, then by when
   * they were written); at most `limit`.
   */
  async forPatient(fhirPatientId: string, limit = 20): Promise<PatientCarePlan[]> {
    const rows: {
      study_instance_uid: string;
      study_date: string | null;
      knees: KneeCarePlan[];
      written_at: Date;
    }[] = await this.dataSource.query(
      `SELECT s.study_instance_uid, to_char(s.study_date, 'YYYY-MM-DD') AS study_date,
              c.knees, c.written_at
         FROM care_plans c JOIN studies s ON s.id = c.study_id
        WHERE c.fhir_patient_key = $1 AND c.written_at IS NOT NULL
        ORDER BY s.study_date DESC NULLS LAST, c.written_at DESC
        LIMIT $2`,
      [this.fhirPatientKey(fhirPatientId), limit],
    );
    return rows.map((row) => ({
      studyInstanceUid: row.study_instance_uid,
      studyDate: row.study_date,
      knees: row.knees,
      writtenAt: row.written_at,
    }));
  }

  private async upsert(
    studyInstanceUid: string,
    status: CarePlanStatus,
    reason: string | null,
    options: { countAttempt: boolean },
  ): Promise<void> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO care_plans (study_id, status, reason, attempts)
       SELECT s.id, $2, $3, $4 FROM studies s WHERE s.study_instance_uid = $1
       ON CONFLICT (study_id) DO UPDATE
          SET status = EXCLUDED.status, reason = EXCLUDED.reason, updated_at = now(),
              attempts = CASE WHEN $2 = 'pending' THEN 0
                              ELSE care_plans.attempts + EXCLUDED.attempts END
       RETURNING id`,
      [studyInstanceUid, status, reason, options.countAttempt ? 1 : 0],
    );
    if (rows.length === 0) throw unknownStudy();
  }

  private async write(
    studyInstanceUid: string,
    record: Pick<CarePlanRecord, 'status' | 'reason' | 'fhirPatientKey'> & {
      knees: readonly KneeCarePlan[];
    },
  ): Promise<void> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO care_plans (study_id, status, reason, fhir_patient_key, knees, attempts,
                               written_at)
       SELECT s.id, $2, $3, $4, $5::jsonb, 1, now() FROM studies s
        WHERE s.study_instance_uid = $1
       ON CONFLICT (study_id) DO UPDATE
          SET status = EXCLUDED.status, reason = EXCLUDED.reason,
              fhir_patient_key = EXCLUDED.fhir_patient_key, knees = EXCLUDED.knees,
              attempts = care_plans.attempts + 1, written_at = now(), updated_at = now()
       RETURNING id`,
      [
        studyInstanceUid,
        record.status,
        record.reason,
        record.fhirPatientKey,
        JSON.stringify(record.knees),
      ],
    );
    if (rows.length === 0) throw unknownStudy();
  }
}

/**
 * CDS Hooks' view of the records (src/cds/results.ts): the newest written result of each knee
 * of a FHIR Patient, with the proposal made for it.
 */
export class CarePlanResults implements CdsResultSource {
  constructor(private readonly carePlans: Pick<CarePlanStore, 'forPatient'>) {}

  async latestKneeResults(fhirPatientId: string): Promise<CdsKneeResult[]> {
    const found = new Map<KneeLaterality, CdsKneeResult>();
    for (const plan of await this.carePlans.forPatient(fhirPatientId)) {
      for (const knee of plan.knees) {
        if (found.has(knee.laterality)) continue;
        found.set(knee.laterality, {
          studyInstanceUid: plan.studyInstanceUid,
          ...(plan.studyDate === null ? {} : { studyDate: plan.studyDate }),
          laterality: knee.laterality,
          klGrade: knee.klGrade,
          modelId: knee.modelId,
          proposal: knee.proposal,
          recordedAt: plan.writtenAt,
        });
      }
    }
    return [...found.values()];
  }
}

function jswOf(jsw: JswSummary | { refused: string } | null) {
  const mm = millimetres(jsw);
  return Object.keys(mm).length === 0 ? {} : { jsw: mm };
}

function toRecord(row: CarePlanRow): CarePlanRecord {
  return {
    status: row.status,
    reason: row.reason,
    fhirPatientKey: row.fhir_patient_key,
    knees: row.knees,
    attempts: row.attempts,
    writtenAt: row.written_at,
    updatedAt: row.updated_at,
  };
}

function unknownStudy(): JointspaceError {
  return new JointspaceError('not-found', 'no study with this Study Instance UID', {
    status: 404,
  });
}
