/**
 * The job that grades a study, and the queue interface the intake paths (Orthanc push, change
 * poll, the reprocess route) hand it to. Types only, so the API depends on no queue library.
 */

/** How a study came in: Orthanc's push, the change-feed poll, or a reprocess request. */
export type IntakeSource = 'push' | 'poll' | 'reprocess';

export interface StudyJob {
  studyInstanceUid: string;
  source: IntakeSource;
  /** Reprocess even if these inputs were already graded. */
  force: boolean;
  /** Orthanc's own id of the study, when the intake knows it. */
  orthancStudyId?: string;
}

export interface JobQueue {
  /** `jobId` is null when an identical job is already waiting: not an error. */
  enqueue(job: StudyJob): Promise<{ jobId: string | null }>;
  /** Jobs waiting to run. */
  depth(): Promise<number>;
}
