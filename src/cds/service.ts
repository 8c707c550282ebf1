/**
 * The CDS Hooks 2.0 service of jointspace (https://cds-hooks.hl7.org/2.0/) as Koa handlers for
 * the route table (src/api/routes.ts): discovery (`GET /cds-services`), the JWT check of every
 * call, and the `patient-view` service (`POST /cds-services/jointspace-knee-oa`), which answers
 * cards for the patient's latest graded knees.
 *
 * The cards rest on a proposal made now from the prefetch when the EHR sent the whole record
 * (evaluate.ts), or else on the proposal stored when the study was graded, and say which. The
 * request's `fhirServer` and `fhirAuthorization` are accepted but not used: the service does
 * not read from the EHR's FHIR server itself.
 *
 * Logs name the event, the request id, the hook instance and counts; never the patient id,
 * the user id, a Study Instance UID or any part of the token.
 */
import { randomUUID } from 'node:crypto';
import { careRules, type CareRules } from '../care/rules.js';
import { JointspaceError } from '../errors.js';
import { fhirCodes, type FhirCodes } from '../fhir/codes.js';
import type { Logger } from '../log.js';
import type { ApiContext, RouteHandler } from '../api/context.js';
import { bearerCredential } from '../api/auth.js';
import { readJsonObject } from '../api/body.js';
import { invalid } from '../api/validate.js';
import { kneeCards, type CdsCard } from './cards.js';
import { evaluateKnee } from './evaluate.js';
import { ReplayGuard, unauthorized, verifyCdsJwt } from './jwt.js';
import { prefetchTemplates, readPrefetch } from './prefetch.js';
import type { CdsResultSource } from './results.js';
import { STUDY_UID_PLACEHOLDER, type CdsSettings } from './settings.js';

export const CDS_SERVICE_ID = 'jointspace-knee-oa';
export const CDS_HOOK = 'patient-view';
/** Largest request read: the prefetch of a long record can run to megabytes. */
export const MAX_CDS_BODY_BYTES = 8 * 1024 * 1024;

/** A FHIR logical id (https://hl7.org/fhir/R4/datatypes.html#id). */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** patient-view `userId` (CDS Hooks 2.0 hook definition): `<ResourceType>/<id>`. */
const USER_ID = /^(Practitioner|PractitionerRole|Patient|RelatedPerson)\/[A-Za-z0-9\-.]{1,64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface CdsDependencies {
  settings: CdsSettings;
  results: CdsResultSource;
  logger: Logger;
  /** The care rules; mappings/care-rules.json when absent. */
  rules?: CareRules;
  /** The FHIR code table; mappings/fhir-codes.json when absent. */
  codes?: FhirCodes;
  /** Epoch milliseconds; `Date.now` when absent. */
  now?: () => number;
}

/** The handlers the route table registers for the CDS Hooks routes. */
export interface CdsHandlers {
  /** `GET /cds-services` */
  discovery: RouteHandler;
  /** Guard of `POST /cds-services/:id`: the caller's JWT. */
  authenticate: RouteHandler;
  /** `POST /cds-services/:id` */
  invoke: RouteHandler;
}

export interface CdsRequest {
  hook: string;
  hookInstance: string;
  patientId: string;
  userId: string;
  prefetch?: unknown;
}

export interface DiscoveryResponse {
  services: {
    hook: string;
    id: string;
    title: string;
    description: string;
    prefetch: Record<string, string>;
    usageRequirements: string;
  }[];
}

/** The handlers when CDS Hooks is configured. Reads the rule and code tables now. */
export function cdsHandlers(deps: CdsDependencies): CdsHandlers {
  const rules = deps.rules ?? careRules();
  const codes = deps.codes ?? fhirCodes();
  const now = deps.now ?? Date.now;
  const logger = deps.logger;
  const discovery = discoveryResponse(codes);
  if (deps.settings.auth.kind === 'none') {
    logger.warn('cds.auth-disabled', {
      reason: 'JOINTSPACE_CDS_AUTH=none: CDS Hooks calls are not authenticated (testing only)',
    });
  }

  return {
    discovery: (ctx) => {
      ctx.body = discovery;
    },
    authenticate: authenticator(deps.settings, now, logger),
    invoke: async (ctx) => {
      serviceId(ctx);
      const request = parseRequest(await readJsonObject(ctx, MAX_CDS_BODY_BYTES));
      const cards = await answer(request, { ...deps, rules, codes, now }, ctx);
      logger.info('cds.cards', {
        requestId: ctx.state.requestId,
        hookInstance: request.hookInstance,
        cards: cards.length,
      });
      ctx.body = { cards };
    },
  };
}

/** The handlers when CDS Hooks is not configured: every CDS route answers 404, saying why. */
export function cdsDisabled(): CdsHandlers {
  const off: RouteHandler = () => {
    throw new JointspaceError(
      'not-found',
      'CDS Hooks is not enabled on this node (set the JOINTSPACE_CDS_* variables, see src/cds/README.md)',
      { status: 404 },
    );
  };
  return { discovery: off, authenticate: off, invoke: off };
}

export function discoveryResponse(codes: FhirCodes): DiscoveryResponse {
  return {
    services: [
      {
        hook: CDS_HOOK,
        id: CDS_SERVICE_ID,
        title: 'jointspace: knee osteoarthritis care from AI-graded radiographs',
        description:
          "Guideline-based care suggestions (OARSI 2019, ACR/AF 2019, NICE NG226 2022) for each knee of the patient's latest radiographs graded by jointspace (Kellgren–Lawrence grade, AI output not yet verified by a radiologist).",
        prefetch: prefetchTemplates(codes),
        usageRequirements:
          'Calls must carry a JWT signed by a trusted EHR key (RS384 or ES384). Send the whole prefetch so the advice reflects the current record; without it the cards show the proposal made when the study was graded.',
      },
    ],
  };
}

function serviceId(ctx: ApiContext): void {
  const id = (ctx as ApiContext & { params?: Record<string, string> }).params?.id;
  if (id !== CDS_SERVICE_ID) {
    throw new JointspaceError('not-found', `no CDS service with this id (${CDS_SERVICE_ID} is)`, {
      status: 404,
    });
  }
}

/** The URL the EHR called: the audience its JWT must name. */
function endpointUrl(ctx: ApiContext, settings: CdsSettings): string {
  if (settings.publicUrl === undefined) return `${calledBase(ctx)}${ctx.path}`;
  return new URL(ctx.path.replace(/^\/+/, ''), settings.publicUrl).href;
}

/**
 * Scheme and host as the request reached the app (Koa 3's `ctx.origin` is the Origin header,
 * not this). Forwarded headers count only when the app trusts its proxy (`app.proxy`).
 */
function calledBase(ctx: ApiContext): string {
  return `${ctx.protocol}://${ctx.host}`;
}

function authenticator(settings: CdsSettings, now: () => number, logger: Logger): RouteHandler {
  const auth = settings.auth;
  const replay = new ReplayGuard();

  return async (ctx, next) => {
    if (auth.kind === 'none') {
      await next();
      return;
    }
    try {
      const token = bearerCredential(ctx.get('Authorization'));
      if (token === undefined) throw unauthorized('a Bearer JWT is required');
      verifyCdsJwt(token, {
        keys: auth.keys,
        issuers: auth.issuers,
        audience: endpointUrl(ctx, settings),
        clockSkewS: auth.clockSkewS,
        nowMs: now(),
        replay,
      });
    } catch (error) {
      if (error instanceof JointspaceError) {
        ctx.set('WWW-Authenticate', 'Bearer realm="jointspace-cds", error="invalid_token"');
        logger.warn('cds.auth-refused', { requestId: ctx.state.requestId, reason: error.message });
      }
      throw error;
    }
    await next();
  };
}

/** The fields of the request this service reads (CDS Hooks 2.0, HTTP Request). */
export function parseRequest(body: Record<string, unknown>): CdsRequest {
  const { hook, hookInstance, context, fhirServer, fhirAuthorization } = body;
  if (typeof hook !== 'string' || hook === '') throw invalid('hook', 'a string');
  if (hook !== CDS_HOOK) throw invalid('hook', `"${CDS_HOOK}" (the hook of ${CDS_SERVICE_ID})`);
  if (typeof hookInstance !== 'string' || !UUID.test(hookInstance)) {
    throw invalid('hookInstance', 'a UUID');
  }
  if (fhirServer !== undefined && (typeof fhirServer !== 'string' || !URL.canParse(fhirServer))) {
    throw invalid('fhirServer', 'the base URL of a FHIR server');
  }
  if (fhirAuthorization !== undefined && fhirAuthorization !== null) {
    if (typeof fhirAuthorization !== 'object' || Array.isArray(fhirAuthorization)) {
      throw invalid('fhirAuthorization', 'an object');
    }
    if (fhirServer === undefined) throw invalid('fhirServer', 'present with fhirAuthorization');
  }
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw invalid('context', 'an object with patientId and userId');
  }
  const { patientId, userId } = context as Record<string, unknown>;
  if (typeof patientId !== 'string' || !FHIR_ID.test(patientId)) {
    throw invalid('context.patientId', 'a FHIR logical id (letters, digits, - and ., at most 64)');
  }
  if (typeof userId !== 'string' || !USER_ID.test(userId)) {
    throw invalid(
      'context.userId',
      'a reference such as Practitioner/<id> (Practitioner, PractitionerRole, Patient or RelatedPerson)',
    );
  }
  return { hook, hookInstance, patientId, userId, prefetch: body.prefetch };
}

interface Resolved {
  settings: CdsSettings;
  results: CdsResultSource;
  logger: Logger;
  rules: CareRules;
  codes: FhirCodes;
  now: () => number;
}

async function answer(request: CdsRequest, deps: Resolved, ctx: ApiContext): Promise<CdsCard[]> {
  const results = await deps.results.latestKneeResults(request.patientId);
  if (results.length === 0) return [];

  const today = new Date(deps.now()).toISOString().slice(0, 10);
  const prefetch = readPrefetch(request.prefetch, request.patientId);
  const noRecordBecause =
    request.prefetch === undefined || request.prefetch === null
      ? 'the EHR sent no prefetch'
      : `the prefetch was incomplete (${prefetch.unusable.map((u) => `${u.key}: ${u.reason}`).join('; ')})`;

  const cards: CdsCard[] = [];
  for (const result of results) {
    const evaluation = evaluateKnee({
      result,
      ...(prefetch.record === undefined ? {} : { record: prefetch.record }),
      noRecordBecause,
      rules: deps.rules,
      codes: deps.codes,
      today,
    });
    cards.push(
      ...kneeCards({
        result,
        evaluation,
        guidelines: deps.rules.guidelines,
        reportUrl: reportUrl(result.studyInstanceUid, deps.settings, ctx),
        today,
        uuid: randomUUID,
      }),
    );
  }
  deps.logger.debug('cds.evaluated', {
    requestId: ctx.state.requestId,
    knees: results.length,
    basis: prefetch.record === undefined ? 'stored' : 'fresh',
    unusablePrefetch: prefetch.unusable.map((u) => u.key),
  });
  return cards;
}

/** The configured template, or the study route of this API at the public (or called) base. */
export function reportUrl(
  studyInstanceUid: string,
  settings: CdsSettings,
  ctx: ApiContext,
): string {
  const uid = encodeURIComponent(studyInstanceUid);
  if (settings.reportUrlTemplate !== undefined) {
    return settings.reportUrlTemplate.replaceAll(STUDY_UID_PLACEHOLDER, uid);
  }
  const base = settings.publicUrl ?? `${calledBase(ctx)}/`;
  return new URL(`api/studies/${uid}`, base).href;
}
