/**
 * The study routes of the API: a study's grading report (with its care plan's state and
 * recommendations when a FHIR server is configured), and a request to grade it again.
 */
import { JointspaceError } from '../errors.js';
import type { JobQueue } from '../pipeline/job.js';
import type { JswSummary } from '../measurement/summary.js';
import type { CarePlanRecord, CarePlanStatus, CarePlanStore } from '../store/care-plans.js';
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
    /** Joint-space width, when it was measured (or why it could not be). */
    jsw?: JswResponse;
  }[];
  refusals: { sopInstanceUid: string | null; reason: string }[];
  /** Why the latest attempt failed, when it did. */
  errors: { code: string; reason: string }[];
  /** Where the FHIR side stands; null when no FHIR server is configured or nothing was graded. */
  carePlan: {
    status: CarePlanStatus;
    reason: string | null;
    attempts: number;
    writtenAt: string | null;
  } | null;
  /** The recommendations of the care plans written, knee by knee, in the rules' order. */
  recommendations: RecommendationItem[];
  /** Per knee with an earlier result of the same patient: the change since then. */
  progression: ProgressionItem[];
}

export interface ProgressionItem {
  laterality: 'R' | 'L';
  /** Study Date of the earlier result compared with, `YYYY-MM-DD`. */
  baselineStudyDate: string;
  intervalYears: number;
  klChange?: number;
  /** Medial minimum joint-space width now minus then, mm (negative is narrowing). */
  medialJswChangeMm?: number;
  flags: string[];
  clinicianText: string;
  patientText: string;
}

/**
 * Minimum joint-space widths of a knee: `…Mm` when the image's pixel spacing gave millimetres,
 * `…Px` when it did not; a compartment without a number has a reason instead.
 */
export interface JswResponse {
  unit: 'mm' | 'px' | null;
  medialMinMm?: number;
  lateralMinMm?: number;
  medialMinPx?: number;
  lateralMinPx?: number;
  medialReason?: string;
  lateralReason?: string;
  /** Why nothing was measured on the image. */
  reason?: string;
  quality?: number;
}

function jswResponse(jsw: JswSummary | { refused: string }): JswResponse {
  if ('refused' in jsw) return { unit: null, reason: jsw.refused };
  const suffix = jsw.unit === 'mm' ? 'Mm' : 'Px';
  const side = (name: 'medial' | 'lateral') => {
    const c = jsw[name];
    return c.min === undefined
      ? { [`${name}Reason`]: c.reason ?? 'not measured' }
      : { [`${name}Min${suffix}`]: c.min };
  };
  return { unit: jsw.unit, ...side('medial'), ...side('lateral'), quality: jsw.quality };
}

export interface RecommendationItem {
  /** The rule id, e.g. `R3`. */
  id: string;
  laterality: 'R' | 'L';
  title: string;
  kind: string;
  strength: string;
  source: string;
  clinicianExplanation: string;
  patientExplanation: string;
  /** Where the sources disagree, what they say. */
  disagreement?: string;
  /** Missing data that limited this recommendation. */
  missing: string[];
}

export function studyResponse(
  studyInstanceUid: string,
  report: StudyReport,
  care?: CarePlanRecord,
): StudyResponse {
  return {
    studyInstanceUid,
    status: report.status,
    knees: report.knees.map((knee) => ({
      laterality: knee.laterality,
      klGrade: knee.klGrade,
      probabilities: knee.probabilities,
      confidence: knee.confidence,
      model: knee.modelId,
      ...(knee.jsw === null ? {} : { jsw: jswResponse(knee.jsw) }),
    })),
    refusals: report.refusals.map((refusal) => ({
      sopInstanceUid: refusal.sopInstanceUid,
      reason: refusal.reason,
    })),
    errors: report.errors.map((error) => ({ code: error.code, reason: error.reason })),
    carePlan:
      care === undefined
        ? null
        : {
            status: care.status,
            reason: care.reason,
            attempts: care.attempts,
            writtenAt: care.writtenAt?.toISOString() ?? null,
          },
    progression: (care?.knees ?? []).flatMap((knee): ProgressionItem[] => {
      const change = knee.progression;
      const baseline = change?.kl?.baseline ?? change?.jsw?.baseline;
      if (change === undefined || baseline === undefined) return [];
      return [
        {
          laterality: knee.laterality,
          baselineStudyDate: baseline.studyDate,
          intervalYears: baseline.intervalYears,
          ...(change.kl === undefined ? {} : { klChange: change.kl.klChange }),
          ...(change.jsw === undefined ? {} : { medialJswChangeMm: change.jsw.medialChangeMm }),
          flags: [...change.flags],
          clinicianText: change.clinicianText,
          patientText: change.patientText,
        },
      ];
    }),
    recommendations: (care?.knees ?? []).flatMap((knee) =>
      knee.proposal.recommendations.map((rec): RecommendationItem => ({
        id: rec.id,
        laterality: knee.laterality,
        title: rec.title,
        kind: rec.kind,
        strength: rec.strength,
        source: rec.source,
        clinicianExplanation: rec.clinicianExplanation,
        patientExplanation: rec.patientExplanation,
        ...(rec.disagreement === undefined ? {} : { disagreement: rec.disagreement }),
        missing: rec.missing,
      })),
    ),
  };
}

export function getStudy(
  store: Pick<Store, 'getStudyReport'>,
  carePlans?: Pick<CarePlanStore, 'get'>,
): RouteHandler {
  return async (ctx) => {
    const uid = dicomUid(ctx.params.uid, 'uid');

    const report = await store.getStudyReport(uid);
    if (report === undefined) {
      throw new JointspaceError('not-found', 'no study with this Study Instance UID', {
        status: 404,
      });
    }

    ctx.body = studyResponse(uid, report, await carePlans?.get(uid));
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
