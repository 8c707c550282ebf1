/**
 * docs/api.md against the OpenAPI document it is generated from (scripts/api-reference.ts):
 * the file must be exactly what the generator writes now, so a route or schema added to
 * src/api/openapi.ts without regenerating the reference fails here. The renderer itself is
 * checked on the real document (every operation and schema has its section, every link has
 * its anchor) and on a small synthetic document with the features the real one may grow into.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openApiDocument } from '../../src/api/openapi.js';
import {
  API_REFERENCE_PATH,
  REGENERATE_COMMAND,
  apiReference,
  operationAnchor,
  schemaAnchor,
} from '../../scripts/api-reference.js';
import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);
const SCRIPT = join(repoRoot, 'scripts', 'api-reference.ts');

/** The document as JSON, the way the service serves it and the generator reads it. */
const document = JSON.parse(JSON.stringify(openApiDocument)) as {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
};

test('docs/api.md is what the generator writes from the current OpenAPI document', async (t) => {
  const written = await readFile(API_REFERENCE_PATH, 'utf8');

  t.is(written, apiReference(openApiDocument), `docs/api.md is stale: run ${REGENERATE_COMMAND}`);
});

test('every operation and every schema of the document has its section', (t) => {
  const reference = apiReference(document);
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => ['get', 'put', 'post', 'patch', 'delete'].includes(key))
      .map((method) => ({ method, path })),
  );

  t.true(operations.length >= 5);
  for (const { method, path } of operations) {
    t.true(
      reference.includes(`### \`${method.toUpperCase()} ${path}\``),
      `${method} ${path} has no section`,
    );
    t.true(reference.includes(`<a id="${operationAnchor(method, path)}"></a>`));
  }
  for (const name of Object.keys(document.components.schemas)) {
    t.true(reference.includes(`<a id="${schemaAnchor(name)}"></a>\n\n### ${name}\n`), name);
  }
});

test('every link of the reference leads to an anchor in it, and anchors are unique', (t) => {
  const reference = apiReference(document);
  const anchors = [...reference.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]);
  const links = [...reference.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);

  t.is(new Set(anchors).size, anchors.length, 'two sections share an anchor');
  t.true(links.length > anchors.length / 2);
  for (const link of links) t.true(anchors.includes(link), `#${link ?? ''} leads nowhere`);
});

test('the renderer shows parameters, bodies, security choices, unions and unknown keywords', (t) => {
  const synthetic = {
    openapi: '3.1.0',
    info: { title: 'demo', version: '9.9.9', description: 'A demo API.' },
    security: [{ key: [] }],
    tags: [{ name: 'things', description: 'Things and their parts.' }],
    paths: {
      '/things/{id}': {
        parameters: [{ $ref: '#/components/parameters/Id' }],
        put: {
          summary: 'Replace a thing',
          tags: ['things'],
          security: [{ key: [] }, { oauth: ['write'] }],
          parameters: [
            {
              name: 'dryRun',
              in: 'query',
              required: false,
              description: 'Check | do not write',
              schema: { type: 'boolean', default: false },
            },
          ],
          requestBody: { $ref: '#/components/requestBodies/Thing' },
          responses: {
            '200': {
              description: 'Replaced',
              headers: { ETag: { description: 'Version', schema: { type: 'string' } } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
            },
            '204': { description: 'Nothing to do' },
          },
        },
      },
      '/ping': {
        get: { summary: 'Ping', security: [], responses: { '200': { description: 'Pong' } } },
      },
    },
    components: {
      securitySchemes: {
        key: { type: 'apiKey', in: 'header', name: 'X-Key', description: 'A key' },
        oauth: { type: 'oauth2', description: 'OAuth' },
      },
      parameters: {
        Id: {
          name: 'id',
          in: 'path',
          required: true,
          description: 'The id',
          schema: { type: 'integer', minimum: 1 },
        },
      },
      requestBodies: {
        Thing: {
          required: true,
          description: 'The new thing',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
        },
      },
      schemas: {
        Thing: {
          type: 'object',
          description: 'A thing.',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', maxLength: 10 },
            note: { type: ['string', 'null'], description: 'Free text' },
            parts: { type: 'array', items: { $ref: '#/components/schemas/Part' } },
            size: { oneOf: [{ type: 'integer' }, { const: 'big' }] },
            when: { type: 'string', format: 'date-time', multipleOf: 7 },
          },
        },
        Part: { type: 'object', properties: { weight: { type: 'number', exclusiveMinimum: 0 } } },
      },
    },
  };

  const reference = apiReference(synthetic);

  t.true(reference.startsWith('# demo HTTP API reference\n'));
  t.regex(reference, /OpenAPI 3\.1\.0, demo 9\.9\.9\./);
  t.true(reference.includes('## things\n\nThings and their parts.'));
  t.true(reference.includes('### `PUT /things/{id}`'));
  t.true(
    reference.includes(
      '| `PUT` | [`/things/{id}`](#put-things-id) | Replace a thing | [`key`](#security-key) or [`oauth`](#security-oauth) (scopes `write`) |',
    ),
  );
  t.true(reference.includes('| `GET` | [`/ping`](#get-ping) | Ping | none |'));
  t.true(reference.includes('| `id` | path | yes | integer; minimum `1` | The id |'));
  t.true(
    reference.includes(
      '| `dryRun` | query | no | boolean; default `false` | Check \\| do not write |',
    ),
  );
  t.true(reference.includes('**Request body** (required): The new thing'));
  t.true(reference.includes('- `application/json`: [Thing](#schema-thing)'));
  t.true(reference.includes('| `204` | Nothing to do | none |'));
  t.true(reference.includes('- `200` header `ETag`: string — Version'));
  t.true(
    reference.includes('| <a id="security-key"></a>`key` | apiKey in header `X-Key` | A key |'),
  );
  t.true(reference.includes('| `name` | string; max length `10` | yes |  |'));
  t.true(reference.includes('| `note` | string \\| null | no | Free text |'));
  t.true(reference.includes('| `parts` | array of [Part](#schema-part) | no |  |'));
  t.true(reference.includes('| `size` | one of (integer; `"big"`) | no |  |'));
  t.true(
    reference.includes('| `when` | string; format `date-time`, multipleOf: `7` | no |  |'),
    'a keyword the renderer does not know is shown, not dropped',
  );
  t.true(reference.includes('No other properties.'));
  t.true(reference.includes('| `weight` | number; above `0` | no |  |'));
});

test('the script writes the same file, and --check tells a stale one from a fresh one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-api-reference-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'api.md');
  const script = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', SCRIPT, '--out', out, ...args], {
      cwd: repoRoot,
      timeout: 60_000,
    });

  const stale = await script(['--check']).then(
    () => 0,
    (error: unknown) => (error as { code?: number }).code,
  );
  await script([]);
  await script(['--check']);

  t.is(stale, 1);
  t.is(await readFile(out, 'utf8'), apiReference(openApiDocument));
});
