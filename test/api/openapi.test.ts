import test from 'ava';
import { openApiDocument, type HttpMethod } from '../../src/api/openapi.js';
import { createRouter } from '../../src/api/routes.js';
import { ServiceMetrics } from '../../src/api/metrics.js';
import { createLogger } from '../../src/log.js';
import { API_TOKEN, RecordingQueue, WEBHOOK_SECRET, startApi } from './harness.js';

/** `METHOD /path/{param}` for each route the router registers (HEAD comes with GET). */
function registeredRoutes(): string[] {
  const router = createRouter({
    apiTokens: [API_TOKEN],
    webhookSecret: WEBHOOK_SECRET,
    store: { getStudyReport: () => Promise.resolve(undefined) },
    queue: new RecordingQueue(),
    readiness: [],
    metrics: new ServiceMetrics(),
    logger: createLogger({}, 'error', () => undefined),
  });
  return router.stack.flatMap((layer) =>
    layer.methods
      .filter((method) => method !== 'HEAD')
      .map((method) => `${method} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`),
  );
}

function documentedRoutes(): string[] {
  return Object.entries(openApiDocument.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
  );
}

test('every registered route is documented, and every documented route is registered', (t) => {
  const registered = registeredRoutes().sort();
  t.true(registered.length >= 7);
  t.deepEqual(documentedRoutes().sort(), registered);
});

test('every operation states its security and its path parameters', (t) => {
  const schemes = Object.keys(openApiDocument.components.securitySchemes);
  for (const [path, operations] of Object.entries(openApiDocument.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const where = `${method} ${path}`;
      t.not(operation.security, undefined, where);
      for (const requirement of operation.security ?? []) {
        for (const scheme of Object.keys(requirement)) t.true(schemes.includes(scheme), where);
      }
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      t.deepEqual(
        (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        inPath,
        where,
      );
      t.true(Object.keys(operation.responses).length > 0, where);
    }
  }
  t.deepEqual(schemes.sort(), ['apiToken', 'cdsJwt', 'webhookSecret']);
});

test('every $ref in the document resolves', (t) => {
  const refs = JSON.stringify(openApiDocument).match(/"\$ref":"[^"]+"/g) ?? [];
  t.true(refs.length > 0);
  for (const ref of refs) {
    const path = ref.slice('"$ref":"#/'.length, -1).split('/');
    let node: unknown = openApiDocument;
    for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
    t.not(node, undefined, ref);
  }
});

test('the document is served without a token', async (t) => {
  const api = await startApi(t);
  const response = await fetch(new URL('api/openapi.json', api.url));
  t.is(response.status, 200);
  const served = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
  t.is(served.openapi, '3.1.0');
  t.deepEqual(served, JSON.parse(JSON.stringify(openApiDocument)) as unknown);
});

test('the security of the documented study and push routes matches the credential they take', (t) => {
  const security = (path: string, method: HttpMethod) =>
    openApiDocument.paths[path]?.[method]?.security;
  t.deepEqual(security('/api/orthanc/stable-study', 'post'), [{ webhookSecret: [] }]);
  t.deepEqual(security('/api/studies/{uid}', 'get'), [{ apiToken: [] }]);
  t.deepEqual(security('/api/studies/{uid}/reprocess', 'post'), [{ apiToken: [] }]);
});
