/**
 * The OpenAPI 3.1 description of the HTTP API, served at `GET /api/openapi.json`.
 *
 * Kept by hand beside the routes; `test/api/openapi.test.ts` fails when a route is missing
 * here or described here without being registered.
 * https://spec.openapis.org/oas/v3.1.0
 */
import { cdsPaths, cdsSchemas, cdsSecurityScheme } from '../cds/openapi.js';
import { MAX_JSON_BODY_BYTES } from './body.js';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it): only the keywords used below. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null' | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: (string | number | null)[];
  const?: string;
  pattern?: string;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  $ref?: string;
  oneOf?: JsonSchema[];
  format?: string;
}

interface MediaType {
  schema: JsonSchema;
}

interface Response {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, MediaType>;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  description: string;
  schema: JsonSchema;
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; description?: string; content: Record<string, MediaType> };
  responses: Record<string, Response | { $ref: string }>;
}

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Partial<Record<HttpMethod, Operation>>>;
  components: {
    securitySchemes: Record<
      string,
      { type: 'http'; scheme: 'bearer'; description: string; bearerFormat?: string }
    >;
    schemas: Record<string, JsonSchema>;
    responses: Record<string, Response>;
  };
}

const UID_SCHEMA: JsonSchema = {
  type: 'string',
  pattern: '^[0-9]+(\\.[0-9]+)*$',
  maxLength: 64,
  description: 'A DICOM UID (PS3.5 9.1)',
};

const json = (ref: string): Record<string, MediaType> => ({
  'application/json': { schema: { $ref: `#/components/schemas/${ref}` } },
});

const error = (name: string) => ({ $ref: `#/components/responses/${name}` });

const studyUidParameter: Parameter = {
  name: 'uid',
  in: 'path',
  required: true,
  description: 'Study Instance UID (0020,000D)',
  schema: UID_SCHEMA,
};

const API_TOKEN = [{ apiToken: [] }];

// The operator console's routes (src/api/console.ts).
const sopInstanceUidParameter: Parameter = {
  name: 'sopInstanceUid',
  in: 'path',
  required: true,
  description: 'SOP Instance UID (0008,0018) of an overlay jointspace wrote into the study',
  schema: UID_SCHEMA,
};

const consoleUnavailable = {
  description: 'The console routes are not configured in this process, or a source is down',
  content: json('Error'),
};

const TIMESTAMP: JsonSchema = { type: 'string', description: 'ISO 8601 date and time' };
const NULLABLE_TIMESTAMP: JsonSchema = {
  type: ['string', 'null'],
  description: 'ISO 8601 date and time; null while running',
};
const DURATION: JsonSchema = {
  type: ['integer', 'null'],
  description: 'Milliseconds from start to finish; null while running',
};
const PACS_NOTE: JsonSchema = {
  type: 'object',
  required: ['available', 'reason'],
  description: 'Whether the PACS answered the lookups of this answer',
  properties: {
    available: { type: 'boolean' },
    reason: { type: ['string', 'null'], description: 'Why not, when it did not' },
  },
};

export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'jointspace',
    version: '0.1.0',
    description:
      'Knee osteoarthritis grading of radiographs from the PACS. Results are decision support: unverified AI output that a clinician must review.',
  },
  paths: {
    '/api/orthanc/stable-study': {
      post: {
        operationId: 'notifyStableStudy',
        summary: "Orthanc's push: a study has stopped changing and is queued for grading",
        tags: ['intake'],
        security: [{ webhookSecret: [] }],
        requestBody: {
          required: true,
          description: `JSON, at most ${MAX_JSON_BODY_BYTES} bytes`,
          content: json('StableStudyNotice'),
        },
        responses: {
          '202': { description: 'Queued', content: json('Queued') },
          '400': error('BadRequest'),
          '401': error('Unauthorized'),
          '413': error('TooLarge'),
          '415': error('UnsupportedMediaType'),
          '500': error('InternalError'),
        },
      },
    },
    '/api/studies/{uid}': {
      get: {
        operationId: 'getStudy',
        summary: "A study's grading status, the grade of each knee, and its refusals",
        tags: ['studies'],
        security: API_TOKEN,
        parameters: [studyUidParameter],
        responses: {
          '200': { description: 'The study', content: json('Study') },
          '400': error('BadRequest'),
          '401': error('Unauthorized'),
          '404': error('NotFound'),
          '500': error('InternalError'),
        },
      },
    },
    '/api/studies/{uid}/reprocess': {
      post: {
        operationId: 'reprocessStudy',
        summary: 'Grade the study again, even if its images were graded already',
        tags: ['studies'],
        security: API_TOKEN,
        parameters: [studyUidParameter],
        responses: {
          '202': {
            description: 'Queued, or a job for the study already waits',
            content: json('Queued'),
          },
          '400': error('BadRequest'),
          '401': error('Unauthorized'),
          '500': error('InternalError'),
        },
      },
    },
    '/api/studies': {
      get: {
        operationId: 'listStudies',
        summary: 'The worklist: studies newest first, with timings, counts and patient names',
        description:
          'Patient names and IDs are looked up in the PACS (QIDO-RS); when it does not answer in time, they are null and patientDetails says why.',
        tags: ['console'],
        security: API_TOKEN,
        parameters: [
          {
            name: 'status',
            in: 'query',
            required: false,
            description: 'Only studies with this status',
            schema: {
              type: 'string',
              enum: ['received', 'processing', 'graded', 'refused', 'failed'],
            },
          },
          {
            name: 'limit',
            in: 'query',
            required: false,
            description: 'Studies per page (default 50)',
            schema: { type: 'integer', minimum: 1, maximum: 200 },
          },
          {
            name: 'cursor',
            in: 'query',
            required: false,
            description: 'The nextCursor of the previous page',
            schema: { type: 'string', maxLength: 200 },
          },
        ],
        responses: {
          '200': { description: 'One page of the worklist', content: json('Worklist') },
          '400': error('BadRequest'),
          '401': error('Unauthorized'),
          '500': error('InternalError'),
          '503': consoleUnavailable,
        },
      },
    },
    '/api/studies/{uid}/jobs': {
      get: {
        operationId: 'listStudyJobs',
        summary: "The study's job history: every attempt of every job, oldest first",
        tags: ['console'],
        security: API_TOKEN,
        parameters: [studyUidParameter],
        responses: {
          '200': { description: 'The job history', content: json('JobHistory') },
          '400': error('BadRequest'),
          '401': error('Unauthorized'),
          '404': error('NotFound'),
          '500': error('InternalError'),
          '503': consoleUnavailable,
        },
      },
    },
    '/api/studies/{uid}/overlays': {
      get: {
        operationId: 'listStudyOverlays',
        summary: 'The heat-map overlays jointspace wrote into the study (from its audit trail)',
        tags: ['console'],
        security: API_TOKEN,
        parameters: [studyUidParameter],
        responses: {
          '200': { description: 'The overlays', content: json('Overlays') },
          '400': error('BadRequest'),
          '401': error('Unauthorized'),
          '404': error('NotFound'),
          '500': error('InternalError'),
          '503': consoleUnavailable,
        },
      },
    },
    '/api/studies/{uid}/overlays/{sopInstanceUid}/thumbnail': {
      get: {
        operationId: 'getOverlayThumbnail',
        summary: 'A grey PNG thumbnail (at most 256 pixels a side) of an overlay of the study',
        description:
          'Only for overlays the audit trail records as written into this study; any other SOP Instance UID is answered 404.',
        tags: ['console'],
        security: API_TOKEN,
        parameters: [studyUidParameter, sopInstanceUidParameter],
        responses: {
          '200': {
            description: 'The thumbnail',
            content: { 'image/png': { schema: { type: 'string' } } },
          },
          '400': error('BadRequest'),
          '401': error('Unauthorized'),
          '404': error('NotFound'),
          '500': error('InternalError'),
          '503': consoleUnavailable,
        },
      },
    },
    '/api/model': {
      get: {
        operationId: 'getModel',
        summary: "The grading model's manifest, validation figures and model card",
        tags: ['console'],
        security: API_TOKEN,
        responses: {
          '200': { description: 'The model', content: json('Model') },
          '401': error('Unauthorized'),
          '500': error('InternalError'),
          '503': consoleUnavailable,
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'liveness',
        summary: 'Answers while the process runs',
        tags: ['operations'],
        security: [],
        responses: { '200': { description: 'Alive', content: json('Liveness') } },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readiness',
        summary: 'Whether every dependency (database, Orthanc, the model) answers',
        tags: ['operations'],
        security: [],
        responses: {
          '200': { description: 'Ready', content: json('Readiness') },
          '503': { description: 'A check failed or timed out', content: json('Readiness') },
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics',
        tags: ['operations'],
        security: [],
        responses: {
          '200': {
            description: 'Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/api/openapi.json': {
      get: {
        operationId: 'openApi',
        summary: 'This document',
        tags: ['operations'],
        security: [],
        responses: {
          '200': {
            description: 'OpenAPI 3.1',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    ...cdsPaths,
  },
  components: {
    securitySchemes: {
      apiToken: {
        type: 'http',
        scheme: 'bearer',
        description: 'One of the tokens in JOINTSPACE_API_TOKENS',
      },
      webhookSecret: {
        type: 'http',
        scheme: 'bearer',
        description: "JOINTSPACE_WEBHOOK_SECRET, sent by Orthanc's Lua script; not an API token",
      },
      cdsJwt: cdsSecurityScheme,
    },
    schemas: {
      ...cdsSchemas,
      StableStudyNotice: {
        type: 'object',
        required: ['orthancStudyId', 'studyInstanceUid'],
        properties: {
          orthancStudyId: {
            type: 'string',
            pattern: '^[0-9a-f]{8}(-[0-9a-f]{8}){4}$',
            description: "Orthanc's id of the study",
          },
          studyInstanceUid: UID_SCHEMA,
        },
      },
      Queued: {
        type: 'object',
        required: ['jobId'],
        properties: {
          jobId: {
            type: ['string', 'null'],
            description: 'The new job; null when a job for the study already waits',
          },
        },
      },
      Study: {
        type: 'object',
        required: [
          'studyInstanceUid',
          'status',
          'knees',
          'refusals',
          'errors',
          'carePlan',
          'recommendations',
          'progression',
        ],
        properties: {
          studyInstanceUid: UID_SCHEMA,
          status: {
            type: 'string',
            enum: ['received', 'processing', 'graded', 'refused', 'failed'],
          },
          knees: { type: 'array', items: { $ref: '#/components/schemas/Knee' } },
          refusals: { type: 'array', items: { $ref: '#/components/schemas/Refusal' } },
          errors: {
            type: 'array',
            description: 'Why the latest attempt failed (empty unless status is failed)',
            items: { $ref: '#/components/schemas/StudyError' },
          },
          carePlan: {
            description:
              'Where the FHIR output and care plan stand; null without a FHIR server or before the study is graded',
            oneOf: [{ type: 'null' }, { $ref: '#/components/schemas/CarePlanState' }],
          },
          recommendations: {
            type: 'array',
            description: 'The recommendations of the care plans written, knee by knee',
            items: { $ref: '#/components/schemas/Recommendation' },
          },
          progression: {
            type: 'array',
            description:
              'Per knee with an earlier result of the same patient (database or an earlier jointspace SR in the PACS): the change since then',
            items: { $ref: '#/components/schemas/Progression' },
          },
        },
      },
      Progression: {
        type: 'object',
        required: [
          'laterality',
          'baselineStudyDate',
          'intervalYears',
          'flags',
          'clinicianText',
          'patientText',
        ],
        properties: {
          laterality: { type: 'string', enum: ['R', 'L'] },
          baselineStudyDate: { type: 'string', format: 'date' },
          intervalYears: { type: 'number', minimum: 0 },
          klChange: { type: 'integer', description: 'KL grade now minus then' },
          medialJswChangeMm: {
            type: 'number',
            description: 'Medial minimum joint-space width now minus then (mm)',
          },
          flags: {
            type: 'array',
            items: {
              type: 'string',
              enum: ['accelerated-jsw-loss', 'accelerated-kl-increase', 'jsw-loss'],
            },
          },
          clinicianText: { type: 'string' },
          patientText: { type: 'string' },
        },
      },
      CarePlanState: {
        type: 'object',
        required: ['status', 'reason', 'attempts', 'writtenAt'],
        properties: {
          status: {
            type: 'string',
            enum: ['pending', 'retrying', 'written', 'unmatched', 'ambiguous', 'failed'],
          },
          reason: {
            type: ['string', 'null'],
            description: 'Why no plan was written, or why the last attempt failed',
          },
          attempts: { type: 'integer', minimum: 0 },
          writtenAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      Recommendation: {
        type: 'object',
        required: [
          'id',
          'laterality',
          'title',
          'kind',
          'strength',
          'source',
          'clinicianExplanation',
          'patientExplanation',
          'missing',
        ],
        properties: {
          id: { type: 'string', description: 'The rule id in mappings/care-rules.json, e.g. R3' },
          laterality: { type: 'string', enum: ['R', 'L'] },
          title: { type: 'string' },
          kind: { type: 'string', enum: ['recommend', 'consider', 'avoid', 'refer', 'flag'] },
          strength: { type: 'string' },
          source: { type: 'string', description: 'Each guideline with its own grade' },
          clinicianExplanation: { type: 'string' },
          patientExplanation: { type: 'string' },
          disagreement: { type: 'string', description: 'Where the sources disagree' },
          missing: { type: 'array', items: { type: 'string' } },
        },
      },
      StudyError: {
        type: 'object',
        required: ['code', 'reason'],
        properties: {
          code: { type: 'string', description: 'e.g. pacs-rejected, pacs-unavailable' },
          reason: { type: 'string' },
        },
      },
      Knee: {
        type: 'object',
        required: ['laterality', 'klGrade', 'probabilities', 'confidence', 'model'],
        properties: {
          jsw: {
            type: 'object',
            description:
              'Minimum joint-space widths: …Mm when the pixel spacing gave millimetres, …Px when it did not; a compartment without a number has a reason',
            required: ['unit'],
            properties: {
              unit: { type: ['string', 'null'], enum: ['mm', 'px', null] },
              medialMinMm: { type: 'number', minimum: 0 },
              lateralMinMm: { type: 'number', minimum: 0 },
              medialMinPx: { type: 'number', minimum: 0 },
              lateralMinPx: { type: 'number', minimum: 0 },
              medialReason: { type: 'string' },
              lateralReason: { type: 'string' },
              reason: { type: 'string', description: 'Why nothing was measured on the image' },
              quality: { type: 'number', minimum: 0, maximum: 1 },
            },
          },
          laterality: { type: 'string', enum: ['R', 'L'] },
          klGrade: {
            type: 'integer',
            minimum: 0,
            maximum: 4,
            description: 'Kellgren–Lawrence grade',
          },
          probabilities: {
            type: 'array',
            items: { type: 'number', minimum: 0, maximum: 1 },
            minItems: 5,
            maxItems: 5,
            description: 'Calibrated probability of KL 0..4',
          },
          confidence: {
            type: 'number',
            minimum: 0,
            maximum: 1,
            description: 'Probability of klGrade',
          },
          model: { type: 'string', description: 'Model identity, name@version' },
        },
      },
      Refusal: {
        type: 'object',
        required: ['sopInstanceUid', 'reason'],
        properties: {
          sopInstanceUid: {
            type: ['string', 'null'],
            description: 'The refused image; null when the whole study was refused',
          },
          reason: { type: 'string' },
        },
      },
      Worklist: {
        type: 'object',
        required: ['studies', 'nextCursor', 'patientDetails'],
        properties: {
          studies: { type: 'array', items: { $ref: '#/components/schemas/WorklistStudy' } },
          nextCursor: {
            type: ['string', 'null'],
            description: 'Pass as cursor for the next page; null on the last page',
          },
          patientDetails: PACS_NOTE,
        },
      },
      WorklistStudy: {
        type: 'object',
        required: [
          'studyInstanceUid',
          'status',
          'receivedAt',
          'updatedAt',
          'latestJob',
          'jobs',
          'kneesGraded',
          'refusals',
          'errors',
          'patientName',
          'patientId',
        ],
        properties: {
          studyInstanceUid: UID_SCHEMA,
          status: {
            type: 'string',
            enum: ['received', 'processing', 'graded', 'refused', 'failed'],
          },
          receivedAt: TIMESTAMP,
          updatedAt: TIMESTAMP,
          latestJob: {
            type: ['object', 'null'],
            description: 'The newest attempt of the newest job; null before any',
            required: ['jobId', 'outcome', 'startedAt', 'finishedAt', 'durationMs'],
            properties: {
              jobId: { type: 'string' },
              outcome: {
                type: 'string',
                enum: ['succeeded', 'retrying', 'failed-permanent', 'failed-transient'],
              },
              startedAt: TIMESTAMP,
              finishedAt: NULLABLE_TIMESTAMP,
              durationMs: DURATION,
            },
          },
          jobs: { type: 'integer', minimum: 0, description: 'Jobs recorded for the study' },
          kneesGraded: { type: 'integer', minimum: 0 },
          refusals: { type: 'integer', minimum: 0, description: 'Of the latest attempt' },
          errors: { type: 'integer', minimum: 0, description: 'Of the latest attempt' },
          patientName: {
            type: ['string', 'null'],
            description: "Patient's Name (0010,0010) from the PACS, as stored there",
          },
          patientId: { type: ['string', 'null'], description: 'Patient ID from the PACS' },
        },
      },
      JobHistory: {
        type: 'object',
        required: ['studyInstanceUid', 'jobs'],
        properties: {
          studyInstanceUid: UID_SCHEMA,
          jobs: {
            type: 'array',
            items: {
              type: 'object',
              required: [
                'jobId',
                'kind',
                'attempt',
                'outcome',
                'errorCode',
                'errorMessage',
                'workerId',
                'startedAt',
                'finishedAt',
                'durationMs',
              ],
              properties: {
                jobId: { type: 'string' },
                kind: { type: 'string' },
                attempt: { type: 'integer', minimum: 1 },
                outcome: {
                  type: 'string',
                  enum: ['succeeded', 'retrying', 'failed-permanent', 'failed-transient'],
                },
                errorCode: { type: ['string', 'null'] },
                errorMessage: { type: ['string', 'null'] },
                workerId: { type: 'string', description: 'host:pid of the worker' },
                startedAt: TIMESTAMP,
                finishedAt: NULLABLE_TIMESTAMP,
                durationMs: DURATION,
              },
            },
          },
        },
      },
      Overlays: {
        type: 'object',
        required: ['studyInstanceUid', 'overlays', 'pacs'],
        properties: {
          studyInstanceUid: UID_SCHEMA,
          overlays: {
            type: 'array',
            items: {
              type: 'object',
              required: [
                'sopInstanceUid',
                'laterality',
                'firstWrittenAt',
                'lastWrittenAt',
                'writes',
              ],
              properties: {
                sopInstanceUid: UID_SCHEMA,
                laterality: {
                  type: ['string', 'null'],
                  description: 'Image Laterality (0020,0062) in the PACS; null when unknown',
                },
                firstWrittenAt: TIMESTAMP,
                lastWrittenAt: TIMESTAMP,
                writes: { type: 'integer', minimum: 1 },
              },
            },
          },
          pacs: PACS_NOTE,
        },
      },
      Model: {
        type: 'object',
        required: ['id', 'precision', 'manifest', 'metrics', 'card'],
        properties: {
          id: {
            type: ['string', 'null'],
            description: 'name@version as written into results; `+int8` when the int8 build runs',
          },
          precision: {
            type: 'string',
            enum: ['float32', 'int8'],
            description: 'The build of the weights this service runs (JOINTSPACE_PRECISION)',
          },
          manifest: { type: 'object', description: 'model.json as shipped' },
          metrics: {
            type: ['object', 'null'],
            description: 'metrics.json (validation figures) as shipped; null when absent',
          },
          card: { type: ['string', 'null'], description: 'card.md (Markdown); null when absent' },
        },
      },
      Liveness: {
        type: 'object',
        required: ['status'],
        properties: { status: { const: 'ok' } },
      },
      Readiness: {
        type: 'object',
        required: ['status', 'checks'],
        properties: {
          status: { type: 'string', enum: ['ready', 'not-ready'] },
          checks: {
            type: 'object',
            description: "Each check's name: 'ok', or why it failed",
            additionalProperties: { type: 'string' },
          },
        },
      },
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', description: "'internal' for an unexpected failure" },
              message: { type: 'string', description: 'Safe to show; never patient data' },
            },
          },
        },
      },
    },
    responses: {
      BadRequest: {
        description: 'A field is malformed; the message names it',
        content: json('Error'),
      },
      Unauthorized: {
        description: 'No bearer token, or not one accepted on this route',
        headers: {
          'WWW-Authenticate': {
            description: 'Bearer challenge (RFC 6750)',
            schema: { type: 'string' },
          },
        },
        content: json('Error'),
      },
      NotFound: { description: 'No such study', content: json('Error') },
      TooLarge: { description: 'The body is over the limit', content: json('Error') },
      UnsupportedMediaType: {
        description: 'The body is not application/json',
        content: json('Error'),
      },
      InternalError: { description: 'An unexpected failure (logged)', content: json('Error') },
    },
  },
};
