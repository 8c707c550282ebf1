/**
 * What the CDS Hooks service needs from jointspace's results: the latest graded knees of a
 * patient, looked up by the patient's logical id on the configured FHIR server. The database
 * implements `CdsResultSource`; tests use an in-memory one.
 */
import type { CarePlanProposal } from '../care/engine.js';

export interface CdsKneeResult {
  studyInstanceUid: string;
  /** The study date, YYYY-MM-DD (YYYYMMDD is accepted too). */
  studyDate?: string;
  laterality: 'R' | 'L';
  klGrade: number;
  /** The model that graded the knee, `name@version`. */
  modelId: string;
  jsw?: { medialMinMm?: number; lateralMinMm?: number };
  /** The care proposal made when the study was graded. */
  proposal: CarePlanProposal;
  recordedAt: Date;
}

export interface CdsResultSource {
  /**
   * The latest result of each knee of the patient whose logical id on the configured FHIR
   * server is `fhirPatientId` (as CDS Hooks `context.patientId`); [] when there is none.
   */
  latestKneeResults(fhirPatientId: string): Promise<CdsKneeResult[]>;
}
