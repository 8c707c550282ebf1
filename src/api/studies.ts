/**
 * The study routes of the API: a study's grading report, and a request to grade it again.
 */
import { JointspaceError } from '../errors.js';
import type { JobQueue } from '../pipeline/job.js';
import type { Store, StudyReport } from '../store/repository.js';
import type { RouteHandler } from './context.js';
import type { ServiceMetrics } from './metrics.js';
import { dicomUid } from './validate.js';

/** The body of `GET /api/studies/{uid}`. */
export interface StudyResponse {
  studyInstanceUid: string;
  status: StudyReport['status'];
  knees: {
    laterality: 'R' | 'L';
    klGrade: number;
    probabilities: number[];
    confidence: number;
    /** The model that graded the knee, `name@version`. */
    model: string;
  }[];
  refusals: { sopInstanceUid: string | null; reason: string }[];
  /** Why the latest attempt failed, when it did. */
  errors: { code: string; reason: string }[];
}

export function studyResponse(studyInstanceUid: string, report: StudyReport): StudyResponse {
  return {
    studyInstanceUid,
    status: report.status,
    knees: report.knees.map((knee) => ({
      laterality: knee.laterality,
      klGrade: knee.klGrade,
      probabilities: knee.probabilities,
      confidence: knee.confidence,
      model: knee.modelId,
    })),
    refusals: report.refusals.map((refusal) => ({
      sopInstanceUid: refusal.sopInstanceUid,
      reason: refusal.reason,
    })),
    errors: report.errors.map((error) => ({ code: error.code, reason: error.reason })),
  };
}

export function getStudy(store: Pick<Store, 'getStudyReport'>): RouteHandler {
  return async (ctx) => {
    const uid = dicomUid(ctx.params.uid, 'uid');

    const report = await store.getStudyReport(uid);
    if (report === undefined) {
      throw new JointspaceError('not-found', 'no study with this Study Instance UID', {
        status: 404,
      });
    }

    ctx.body = studyResponse(uid, report);
  };
}

/** Queues the study again even if its inputs were graded; a job already waiting is kept. */
export function reprocessStudy(queue: JobQueue, metrics: ServiceMetrics): RouteHandler {
  return async (ctx) => {
    const uid = dicomUid(ctx.params.uid, 'uid');

    const { jobId } = await queue.enqueue({
      studyInstanceUid: uid,
      source: 'reprocess',
      force: true,
    });
    metrics.intake('reprocess');

    ctx.status = 202;
    ctx.body = { jobId };
  };
}
