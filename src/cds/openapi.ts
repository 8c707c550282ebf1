/**
 * The CDS Hooks routes in the OpenAPI document of the API (src/api/openapi.ts spreads these
 * in): discovery, the patient-view service, the JWT security scheme and the schemas of the
 * request and the cards (CDS Hooks 2.0, https://cds-hooks.hl7.org/2.0/), as far as this
 * service reads and writes them.
 */
import type { JsonSchema, OpenApiDocument, Operation } from '../api/openapi.js';
import { MAX_CDS_BODY_BYTES } from './service.js';

const json = (ref: string) => ({
  'application/json': { schema: { $ref: `#/components/schemas/${ref}` } },
});
const error = (name: string) => ({ $ref: `#/components/responses/${name}` });
const errorBody = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

const notEnabled = 'CDS Hooks is not enabled on this node (no JOINTSPACE_CDS_* variable set)';

const discovery: Operation = {
  operationId: 'cdsDiscovery',
  summary: 'CDS Hooks discovery: the patient-view service and its prefetch templates',
  tags: ['cds-hooks'],
  security: [],
  responses: {
    '200': { description: 'The services', content: json('CdsDiscovery') },
    '404': { description: notEnabled, content: errorBody },
  },
};

const patientView: Operation = {
  operationId: 'cdsPatientView',
  summary: "Cards for the patient's latest AI-graded knees (patient-view hook)",
  description:
    'With the whole prefetch the advice is evaluated now from the record sent; otherwise the cards show the proposal stored when the study was graded, and say so.',
  tags: ['cds-hooks'],
  security: [{ cdsJwt: [] }],
  parameters: [
    {
      name: 'id',
      in: 'path',
      required: true,
      description: 'The service id from discovery (jointspace-knee-oa)',
      schema: { type: 'string' },
    },
  ],
  requestBody: {
    required: true,
    description: `JSON, at most ${MAX_CDS_BODY_BYTES} bytes`,
    content: json('CdsRequest'),
  },
  responses: {
    '200': {
      description: 'Cards; none when the patient has no results',
      content: json('CdsCards'),
    },
    '400': error('BadRequest'),
    '401': error('Unauthorized'),
    '404': { description: `No service with this id, or ${notEnabled}`, content: errorBody },
    '413': error('TooLarge'),
    '415': error('UnsupportedMediaType'),
    '500': error('InternalError'),
  },
};

export const cdsPaths: OpenApiDocument['paths'] = {
  '/cds-services': { get: discovery },
  '/cds-services/{id}': { post: patientView },
};

export const cdsSecurityScheme: OpenApiDocument['components']['securitySchemes'][string] = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description:
    'CDS Hooks 2.0: a JWT signed (RS384 or ES384) by a key of JOINTSPACE_CDS_JWKS_FILE, iss in JOINTSPACE_CDS_ISSUERS, aud the service endpoint, a fresh jti; not an API token',
};

const STRING: JsonSchema = { type: 'string' };

export const cdsSchemas: Record<string, JsonSchema> = {
  CdsDiscovery: {
    type: 'object',
    required: ['services'],
    properties: {
      services: {
        type: 'array',
        items: {
          type: 'object',
          required: ['hook', 'id', 'description'],
          properties: {
            hook: STRING,
            id: STRING,
            title: STRING,
            description: STRING,
            usageRequirements: STRING,
            prefetch: { type: 'object', additionalProperties: STRING },
          },
        },
      },
    },
  },
  CdsRequest: {
    type: 'object',
    required: ['hook', 'hookInstance', 'context'],
    properties: {
      hook: { const: 'patient-view' },
      hookInstance: { type: 'string', description: 'A UUID' },
      fhirServer: { type: 'string', description: 'Accepted, not read from' },
      fhirAuthorization: { type: 'object', description: 'Accepted, not used' },
      context: {
        type: 'object',
        required: ['patientId', 'userId'],
        properties: {
          patientId: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' },
          userId: { type: 'string', description: 'e.g. Practitioner/123' },
          encounterId: STRING,
        },
      },
      prefetch: {
        type: 'object',
        description: 'Keys of the discovery prefetch; null or malformed values count as not sent',
      },
    },
  },
  CdsCards: {
    type: 'object',
    required: ['cards'],
    properties: { cards: { type: 'array', items: { $ref: '#/components/schemas/CdsCard' } } },
  },
  CdsCard: {
    type: 'object',
    required: ['uuid', 'summary', 'detail', 'indicator', 'source', 'links'],
    properties: {
      uuid: STRING,
      summary: { type: 'string', maxLength: 139 },
      detail: { type: 'string', description: 'Markdown' },
      indicator: { type: 'string', enum: ['info', 'warning', 'critical'] },
      source: {
        type: 'object',
        required: ['label'],
        properties: { label: STRING, url: STRING },
      },
      links: {
        type: 'array',
        items: {
          type: 'object',
          required: ['label', 'url', 'type'],
          properties: { label: STRING, url: STRING, type: { type: 'string', enum: ['absolute'] } },
        },
      },
    },
  },
};
