/**
 * The progression of each graded knee of a study: its earlier results from jointspace's
 * database (same pseudonymous patient key, an earlier Study Date) and from earlier jointspace
 * SRs in the PACS (found over QIDO-RS by Patient ID, src/pipeline/prior-results.ts), compared
 * by src/care/progression.ts. The two sources overlap when both hold a study; the comparison
 * counts each study once.
 *
 * A PACS that cannot be searched is a transient failure (thrown, the job is retried); an
 * earlier SR that cannot be read is skipped and counted.
 */
import {
  assessProgression,
  type EarlierKneeResult,
  type KneeJsw,
  type ProgressionAssessment,
} from '../care/progression.js';
import type { Logger } from '../log.js';
import type { KneeLaterality } from '../store/entities.js';
import { findPriorResults, type PriorResultsClient } from './prior-results.js';

export interface ProgressionStudy {
  studyInstanceUid: string;
  /** `YYYY-MM-DD`; without it nothing can be compared. */
  studyDate?: string;
  patientId?: string;
  issuerOfPatientId?: string;
}

export interface ProgressionKnee {
  laterality: KneeLaterality;
  klGrade: number;
  modelId: string;
  jsw?: KneeJsw;
}

export interface ProgressionSources {
  dicomweb: PriorResultsClient;
  /** Earlier results of the study's patient in the database, before `beforeDate`. */
  database: (studyInstanceUid: string, beforeDate: string) => Promise<EarlierKneeResult[]>;
  logger: Logger;
}

/** Per knee, the assessment when there was anything earlier to compare with. */
export async function kneeProgressions(
  sources: ProgressionSources,
  study: ProgressionStudy,
  knees: readonly ProgressionKnee[],
): Promise<Map<KneeLaterality, ProgressionAssessment>> {
  const assessments = new Map<KneeLaterality, ProgressionAssessment>();
  const { studyDate } = study;
  if (studyDate === undefined || knees.length === 0) return assessments;

  const fromDatabase = await sources.database(study.studyInstanceUid, studyDate);
  const fromPacs =
    study.patientId === undefined
      ? undefined
      : await findPriorResults(sources.dicomweb, {
          patientId: study.patientId,
          ...(study.issuerOfPatientId === undefined
            ? {}
            : { issuerOfPatientId: study.issuerOfPatientId }),
          beforeStudyDate: studyDate,
          excludeStudyInstanceUid: study.studyInstanceUid,
        });
  const earlier = [...fromDatabase, ...(fromPacs?.results ?? [])];
  sources.logger.info('progression.earlier-results', {
    database: fromDatabase.length,
    pacs: fromPacs?.results.length ?? 0,
    skipped: fromPacs?.skipped.length ?? 0,
  });
  if (earlier.length === 0) return assessments;

  for (const knee of knees) {
    const assessment = assessProgression(
      {
        laterality: knee.laterality,
        klGrade: knee.klGrade,
        studyDate,
        studyInstanceUid: study.studyInstanceUid,
        modelId: knee.modelId,
        ...(knee.jsw === undefined ? {} : { jsw: knee.jsw }),
      },
      earlier,
    );
    if (assessment.facts !== undefined) assessments.set(knee.laterality, assessment);
  }
  return assessments;
}
