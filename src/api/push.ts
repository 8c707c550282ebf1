/**
 * `POST /api/orthanc/stable-study`: Orthanc's Lua `OnStableStudy` hook tells jointspace that a
 * study has stopped changing. The study is queued for grading; the answer does not wait for it.
 */
import type { JobQueue } from '../pipeline/job.js';
import { readJsonObject } from './body.js';
import type { RouteHandler } from './context.js';
import type { ServiceMetrics } from './metrics.js';
import { dicomUid, orthancId } from './validate.js';

export interface StableStudyNotice {
  orthancStudyId: string;
  studyInstanceUid: string;
}

/** The notice in a push body; unknown fields are ignored, so the script may send more. */
export function parseStableStudyNotice(body: Record<string, unknown>): StableStudyNotice {
  return {
    orthancStudyId: orthancId(body.orthancStudyId, 'orthancStudyId'),
    studyInstanceUid: dicomUid(body.studyInstanceUid, 'studyInstanceUid'),
  };
}

export function stableStudy(queue: JobQueue, metrics: ServiceMetrics): RouteHandler {
  return async (ctx) => {
    const notice = parseStableStudyNotice(await readJsonObject(ctx));

    const { jobId } = await queue.enqueue({ ...notice, source: 'push', force: false });
    metrics.intake('push');

    ctx.status = 202;
    ctx.body = { jobId };
  };
}
