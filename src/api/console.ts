/**
 * The API routes of the operator console: the worklist, a study's job history and overlays,
 * an overlay's thumbnail, and the model's manifest, figures and card.
 *
 * Patient names and IDs are not in jointspace's database; the worklist asks the PACS for them
 * (QIDO-RS, one search per 50 studies, UID list matching) and, when the PACS does not answer
 * in time, answers without them and says why. They are never logged.
 *
 * Thumbnails are made only of overlays the audit trail records as written into that study, so
 * this route cannot be used to pull arbitrary images out of the PACS. They are decoded by the
 * imaging package, which renders grey: the heat map's colours are lost in the thumbnail (a
 * known gap; the full-colour overlay is in the PACS).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { DicomWebClient } from '../dicomweb/client.js';
import { firstString, tags } from '../dicomweb/json.js';
import { JointspaceError } from '../errors.js';
import { loadImage } from '../imaging/load.js';
import type { Precision } from '../grading/model.js';
import type { Logger } from '../log.js';
import { STUDY_STATUSES, type StudyStatus } from '../store/entities.js';
import type { Worklist, WorklistCursor } from '../store/worklist.js';
import type { ApiContext, RouteHandler } from './context.js';
import { dicomUid, invalid } from './validate.js';

export interface ConsoleDependencies {
  worklist: Pick<
    Worklist,
    'studies' | 'hasStudy' | 'jobHistory' | 'overlays' | 'isRecordedOverlay'
  >;
  pacs: Pick<DicomWebClient, 'searchForStudies' | 'searchForInstances' | 'retrieveInstance'>;
  /** Folder of model.json, metrics.json and card.md. */
  modelDirectory: string;
  /** The build of the model this process runs (JOINTSPACE_PRECISION); default float32. */
  precision?: Precision;
  /** How long a listing waits for the PACS before answering without it (default 5 s). */
  pacsTimeoutMs?: number;
}

export const DEFAULT_WORKLIST_LIMIT = 50;
export const MAX_WORKLIST_LIMIT = 200;
/** Studies per QIDO search of the worklist; keeps the query string of reasonable length. */
const NAME_SEARCH_BATCH = 50;
const DEFAULT_PACS_TIMEOUT_MS = 5000;
/** Longest side of a thumbnail, in pixels. */
export const THUMBNAIL_SIZE = 256;
/** Largest model card read. */
const MAX_CARD_BYTES = 256 * 1024;

/** Whether the PACS answered a listing's lookups; `reason` says why not. */
interface PacsNote {
  available: boolean;
  reason: string | null;
}

function configured(deps: ConsoleDependencies | undefined): ConsoleDependencies {
  if (deps !== undefined) return deps;
  throw new JointspaceError(
    'invalid-configuration',
    'the operator console routes are not configured in this process',
    { status: 503, permanent: false },
  );
}

function notFound(message: string): JointspaceError {
  return new JointspaceError('not-found', message, { status: 404 });
}

/** The one value of a query parameter; undefined when absent, 400 when repeated. */
function queryValue(ctx: ApiContext, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw invalid(name, 'one value, not several');
  return value;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_WORKLIST_LIMIT;
  const limit = /^[0-9]{1,4}$/.test(value) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_WORKLIST_LIMIT)) {
    throw invalid('limit', `a whole number from 1 to ${MAX_WORKLIST_LIMIT}`);
  }
  return limit;
}

function parseStatus(value: string | undefined): StudyStatus | undefined {
  if (value === undefined) return undefined;
  const status = STUDY_STATUSES.find((known) => known === value);
  if (status === undefined) throw invalid('status', `one of ${STUDY_STATUSES.join(', ')}`);
  return status;
}

/** PostgreSQL's text form of a timestamptz, as the worklist query writes it. */
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The cursor is opaque to callers: base64url of `[createdAt, id]`. */
export function encodeCursor(cursor: WorklistCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id]), 'utf8').toString('base64url');
}

export function decodeCursor(value: string | undefined): WorklistCursor | undefined {
  if (value === undefined) return undefined;
  const malformed = () => invalid('cursor', 'the nextCursor of a previous page');
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(value)) throw malformed();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw malformed();
  const [createdAt, id] = parsed as unknown[];
  if (typeof createdAt !== 'string' || !PG_TIMESTAMP.test(createdAt)) throw malformed();
  if (typeof id !== 'string' || !UUID.test(id)) throw malformed();
  return { createdAt, id };
}

function durationMs(startedAt: Date, finishedAt: Date | null): number | null {
  return finishedAt === null ? null : finishedAt.getTime() - startedAt.getTime();
}

class PacsTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** `promise`, or a PacsTimeout after `ms`; the promise's own failure stays handled. */
async function withinTime<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new PacsTimeout(ms)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why the PACS could not be used, for the operator; no host, no identifier. */
function pacsReason(error: unknown): string {
  if (error instanceof PacsTimeout) {
    return `the PACS did not answer within ${(error.ms / 1000).toFixed(1)} s`;
  }
  if (error instanceof JointspaceError) return `the PACS search failed (${error.code})`;
  return 'the PACS search failed';
}

function logPacsFailure(logger: Logger, what: string, error: unknown): void {
  logger.warn('console.pacs-failed', {
    lookup: what,
    errorName: error instanceof Error ? error.name : typeof error,
    errorCode: error instanceof JointspaceError ? error.code : null,
  });
}

interface PatientDetails {
  name: string | null;
  id: string | null;
}

/** Patient's Name and Patient ID of each study the PACS holds, by Study Instance UID. */
async function patientDetails(
  pacs: ConsoleDependencies['pacs'],
  studyUids: readonly string[],
): Promise<Map<string, PatientDetails>> {
  const batches: string[][] = [];
  for (let start = 0; start < studyUids.length; start += NAME_SEARCH_BATCH) {
    batches.push(studyUids.slice(start, start + NAME_SEARCH_BATCH));
  }
  const answers = await Promise.all(
    batches.map((batch) =>
      pacs.searchForStudies({
        // PS3.18 8.3.4.1: a comma-separated list of UIDs matches any of them.
        match: { StudyInstanceUID: batch.join(',') },
        includeFields: [tags.PatientName, tags.PatientID],
        limit: batch.length,
      }),
    ),
  );
  const details = new Map<string, PatientDetails>();
  for (const dataset of answers.flat()) {
    const uid = firstString(dataset, tags.StudyInstanceUID);
    if (uid === undefined) continue;
    details.set(uid, {
      name: firstString(dataset, tags.PatientName) ?? null,
      id: firstString(dataset, tags.PatientID) ?? null,
    });
  }
  return details;
}

/** `GET /api/studies`: a page of the worklist, newest first, with names from the PACS. */
export function listStudies(deps: ConsoleDependencies | undefined, logger: Logger): RouteHandler {
  return async (ctx) => {
    const limit = parseLimit(queryValue(ctx, 'limit'));
    const status = parseStatus(queryValue(ctx, 'status'));
    const after = decodeCursor(queryValue(ctx, 'cursor'));
    const { worklist, pacs, pacsTimeoutMs } = configured(deps);

    const page = await worklist.studies({
      limit,
      ...(status === undefined ? {} : { status }),
      ...(after === undefined ? {} : { after }),
    });

    let details = new Map<string, PatientDetails>();
    let note: PacsNote = { available: true, reason: null };
    if (page.entries.length > 0) {
      try {
        details = await withinTime(
          patientDetails(
            pacs,
            page.entries.map((entry) => entry.studyInstanceUid),
          ),
          pacsTimeoutMs ?? DEFAULT_PACS_TIMEOUT_MS,
        );
      } catch (error) {
        logPacsFailure(logger, 'patient-names', error);
        note = { available: false, reason: `${pacsReason(error)}; patient names are not shown` };
      }
    }

    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      studies: page.entries.map((entry) => {
        const patient = details.get(entry.studyInstanceUid);
        return {
          studyInstanceUid: entry.studyInstanceUid,
          status: entry.status,
          receivedAt: entry.receivedAt,
          updatedAt: entry.updatedAt,
          latestJob:
            entry.latestJob === null
              ? null
              : {
                  ...entry.latestJob,
                  durationMs: durationMs(entry.latestJob.startedAt, entry.latestJob.finishedAt),
                },
          jobs: entry.jobs,
          kneesGraded: entry.kneesGraded,
          refusals: entry.refusals,
          errors: entry.errors,
          patientName: patient?.name ?? null,
          patientId: patient?.id ?? null,
        };
      }),
      nextCursor: page.next === null ? null : encodeCursor(page.next),
      patientDetails: note,
    };
  };
}

async function knownStudy(
  worklist: ConsoleDependencies['worklist'],
  uidParameter: unknown,
): Promise<string> {
  const uid = dicomUid(uidParameter, 'uid');
  if (!(await worklist.hasStudy(uid))) {
    throw notFound('no study with this Study Instance UID');
  }
  return uid;
}

/** `GET /api/studies/{uid}/jobs`: every attempt of every job of the study, oldest first. */
export function studyJobs(deps: ConsoleDependencies | undefined): RouteHandler {
  return async (ctx) => {
    const { worklist } = configured(deps);
    const uid = await knownStudy(worklist, ctx.params.uid);
    const jobs = await worklist.jobHistory(uid);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      studyInstanceUid: uid,
      jobs: jobs.map((job) => ({ ...job, durationMs: durationMs(job.startedAt, job.finishedAt) })),
    };
  };
}

/**
 * `GET /api/studies/{uid}/overlays`: the overlays jointspace wrote into the study, each with
 * its Image Laterality as the PACS reports it (null when the PACS does not answer).
 */
export function studyOverlays(deps: ConsoleDependencies | undefined, logger: Logger): RouteHandler {
  return async (ctx) => {
    const { worklist, pacs, pacsTimeoutMs } = configured(deps);
    const uid = await knownStudy(worklist, ctx.params.uid);
    const overlays = await worklist.overlays(uid);

    let laterality = new Map<string, string>();
    let note: PacsNote = { available: true, reason: null };
    if (overlays.length > 0) {
      try {
        const instances = await withinTime(
          pacs.searchForInstances({
            studyInstanceUid: uid,
            includeFields: [tags.SOPInstanceUID, '00200062'],
          }),
          pacsTimeoutMs ?? DEFAULT_PACS_TIMEOUT_MS,
        );
        laterality = new Map(
          instances.flatMap((dataset) => {
            const sop = firstString(dataset, tags.SOPInstanceUID);
            const side = firstString(dataset, '00200062');
            return sop === undefined || side === undefined ? [] : [[sop, side] as const];
          }),
        );
      } catch (error) {
        logPacsFailure(logger, 'overlay-laterality', error);
        note = { available: false, reason: `${pacsReason(error)}; laterality is not shown` };
      }
    }

    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      studyInstanceUid: uid,
      overlays: overlays.map((overlay) => ({
        ...overlay,
        laterality: laterality.get(overlay.sopInstanceUid) ?? null,
      })),
      pacs: note,
    };
  };
}

/**
 * `GET /api/studies/{uid}/overlays/{sopInstanceUid}/thumbnail`: a PNG of at most
 * THUMBNAIL_SIZE pixels a side, of an overlay recorded in the study's audit trail.
 */
export function overlayThumbnail(deps: ConsoleDependencies | undefined): RouteHandler {
  return async (ctx) => {
    const uid = dicomUid(ctx.params.uid, 'uid');
    const sop = dicomUid(ctx.params.sopInstanceUid, 'sopInstanceUid');
    const { worklist, pacs } = configured(deps);
    if (!(await worklist.isRecordedOverlay(uid, sop))) {
      throw notFound('no overlay with this SOP Instance UID was written into this study');
    }

    const found = await pacs.searchForInstances({
      studyInstanceUid: uid,
      match: { SOPInstanceUID: sop },
      includeFields: [tags.SeriesInstanceUID],
    });
    const series = found.map((dataset) => firstString(dataset, tags.SeriesInstanceUID))[0];
    if (series === undefined) throw notFound('the overlay is no longer in the PACS');

    const bytes = await pacs.retrieveInstance({
      studyInstanceUid: uid,
      seriesInstanceUid: series,
      sopInstanceUid: sop,
    });
    const { image } = await loadImage(bytes, 'overlay');
    const png = await sharp(Buffer.from(image.pixels), {
      raw: { width: image.width, height: image.height, channels: 1 },
    })
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .png()
      .toBuffer();

    ctx.set('Cache-Control', 'private, no-store');
    ctx.type = 'image/png';
    ctx.body = png;
  };
}

async function readOptional(path: string, limit: number): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return null;
    throw error;
  }
  return text.length > limit ? `${text.slice(0, limit)}\n\n(cut at ${limit} characters)` : text;
}

function modelUnavailable(what: string, cause: unknown): JointspaceError {
  return new JointspaceError('model-unavailable', `${what} cannot be read`, {
    cause,
    status: 503,
    permanent: false,
  });
}

/** `GET /api/model`: the manifest, the validation figures and the model card, as shipped. */
export function modelInfo(deps: ConsoleDependencies | undefined): RouteHandler {
  return async (ctx) => {
    const { modelDirectory } = configured(deps);
    let manifest: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(
        await readFile(join(modelDirectory, 'model.json'), 'utf8'),
      );
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new Error('not a JSON object');
      }
      manifest = parsed as Record<string, unknown>;
    } catch (error) {
      throw modelUnavailable('the model manifest (model.json)', error);
    }

    let metrics: unknown = null;
    try {
      const text = await readOptional(join(modelDirectory, 'metrics.json'), MAX_CARD_BYTES);
      metrics = text === null ? null : JSON.parse(text);
    } catch (error) {
      throw modelUnavailable('the validation figures (metrics.json)', error);
    }
    const card = await readOptional(join(modelDirectory, 'card.md'), MAX_CARD_BYTES).catch(
      (error: unknown) => {
        throw modelUnavailable('the model card (card.md)', error);
      },
    );

    const { name, version } = manifest;
    const precision = deps?.precision ?? 'float32';
    const build = precision === 'float32' ? '' : `+${precision}`;
    ctx.body = {
      // The identity this process writes into its results (KneeModel.id).
      id:
        typeof name === 'string' && typeof version === 'string'
          ? `${name}@${version}${build}`
          : null,
      precision,
      manifest,
      metrics,
      card,
    };
  };
}
