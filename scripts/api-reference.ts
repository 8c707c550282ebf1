/**
 * `npm run docs:api`: writes docs/api.md, the HTTP API reference, from the OpenAPI document
 * that the service serves at `GET /api/openapi.json` (src/api/openapi.ts).
 *
 *   node --import tsx scripts/api-reference.ts [--out FILE] [--check]
 *
 * `--check` writes nothing and exits 1 when the file differs from what would be written;
 * test/docs/api-reference.test.ts makes the same comparison, so the reference cannot fall
 * behind the document.
 *
 * Everything comes from the document: every path and method in the document's order, grouped
 * by their first tag; parameters (path-level ones included), request bodies, responses with
 * their headers and media types, the security requirement of each operation, the security
 * schemes and every component schema. `$ref`s to components are resolved (parameters,
 * request bodies, responses) or linked (schemas). A schema keyword this renderer does not
 * know is still shown, as `keyword: <JSON value>`, rather than dropped.
 *
 * Limits: only local references (`#/components/...`) are followed; callbacks, links, webhooks
 * and examples are not rendered. The document is read as plain JSON, so a change to its
 * TypeScript types does not break this script.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openApiDocument } from '../src/api/openapi.js';
import { fromRoot } from '../src/paths.js';

export const API_REFERENCE_PATH = fromRoot('docs', 'api.md');
export const REGENERATE_COMMAND = 'npm run docs:api';

type Json = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'] as const;

/** Schema keywords rendered by `schemaType`/`constraints`, or as structure, not as raw JSON. */
const KNOWN_KEYWORDS = new Set([
  '$ref',
  'type',
  'enum',
  'const',
  'items',
  'properties',
  'required',
  'additionalProperties',
  'oneOf',
  'anyOf',
  'allOf',
  'description',
  'title',
  'pattern',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'uniqueItems',
  'default',
  'examples',
  'example',
  'nullable',
  'deprecated',
  'readOnly',
  'writeOnly',
]);

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Table cells hold one line; a literal `|` would end the cell. */
function cell(value: string): string {
  return value.replace(/\r?\n+/g, ' ').replace(/\|/g, '\\|');
}

function code(value: string): string {
  const fence = value.includes('`') ? '``' : '`';
  return `${fence}${value}${fence}`;
}

/** Lower-case letters, digits and dashes: the anchor of a schema or an operation. */
function slug(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

export function schemaAnchor(name: string): string {
  return `schema-${slug(name)}`;
}

export function operationAnchor(method: string, path: string): string {
  return `${slug(method)}-${slug(path)}`;
}

/** Follows `#/components/...` references; unknown ones are returned unresolved. */
class Resolver {
  constructor(private readonly document: Json) {}

  resolve(value: unknown, seen: Set<string> = new Set()): unknown {
    if (!isRecord(value) || typeof value.$ref !== 'string') return value;
    const ref = value.$ref;
    if (seen.has(ref) || !ref.startsWith('#/')) return value;
    let target: unknown = this.document;
    for (const part of ref.slice(2).split('/')) {
      const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
      target = isRecord(target) ? target[key] : undefined;
    }
    return target === undefined ? value : this.resolve(target, new Set([...seen, ref]));
  }
}

const SCHEMA_REF = /^#\/components\/schemas\/(.+)$/;

/** A one-line description of a schema's type: links for references, unions with ` | `. */
function schemaType(schema: unknown): string {
  if (!isRecord(schema)) return schema === true ? 'any' : schema === false ? 'nothing' : 'any';
  if (typeof schema.$ref === 'string') {
    const name = SCHEMA_REF.exec(schema.$ref)?.[1];
    return name === undefined ? code(schema.$ref) : `[${name}](#${schemaAnchor(name)})`;
  }
  if (schema.const !== undefined) return code(JSON.stringify(schema.const));
  if (Array.isArray(schema.enum)) {
    return `one of ${schema.enum.map((value) => code(JSON.stringify(value))).join(', ')}`;
  }
  for (const [keyword, joiner] of [
    ['oneOf', 'one of'],
    ['anyOf', 'any of'],
    ['allOf', 'all of'],
  ] as const) {
    const parts = schema[keyword];
    if (Array.isArray(parts)) return `${joiner} (${parts.map(schemaType).join('; ')})`;
  }

  const types = Array.isArray(schema.type)
    ? schema.type.filter((type): type is string => typeof type === 'string')
    : typeof schema.type === 'string'
      ? [schema.type]
      : [];
  const rendered = types.map((type) => {
    if (type === 'array') return `array of ${schemaType(schema.items)}`;
    if (
      type === 'object' &&
      schema.properties === undefined &&
      isRecord(schema.additionalProperties)
    ) {
      return `object of ${schemaType(schema.additionalProperties)}`;
    }
    return type;
  });
  if (schema.nullable === true) rendered.push('null');
  if (rendered.length > 0) return rendered.join(' | ');
  return isRecord(schema.properties) ? 'object' : 'any';
}

/** Constraints and other keywords, e.g. `max length 64`, `pattern ^[0-9]+$`. */
function constraints(schema: unknown): string[] {
  if (!isRecord(schema) || typeof schema.$ref === 'string') return [];
  const found: string[] = [];
  const add = (keyword: string, label: string) => {
    const value = schema[keyword];
    if (value !== undefined) {
      found.push(`${label} ${code(typeof value === 'string' ? value : JSON.stringify(value))}`);
    }
  };
  add('format', 'format');
  add('pattern', 'pattern');
  add('minLength', 'min length');
  add('maxLength', 'max length');
  add('minimum', 'minimum');
  add('maximum', 'maximum');
  add('exclusiveMinimum', 'above');
  add('exclusiveMaximum', 'below');
  add('minItems', 'min items');
  add('maxItems', 'max items');
  if (schema.uniqueItems === true) found.push('unique items');
  if (schema.default !== undefined) found.push(`default ${code(JSON.stringify(schema.default))}`);
  if (schema.deprecated === true) found.push('deprecated');
  if (schema.readOnly === true) found.push('read only');
  if (schema.writeOnly === true) found.push('write only');
  if (isRecord(schema.items)) {
    const inner = constraints(schema.items);
    if (inner.length > 0) found.push(`items: ${inner.join(', ')}`);
  }
  for (const [keyword, value] of Object.entries(schema)) {
    if (!KNOWN_KEYWORDS.has(keyword) && !keyword.startsWith('x-')) {
      found.push(`${keyword}: ${code(JSON.stringify(value))}`);
    }
  }
  return found;
}

function describeSchema(schema: unknown): string {
  const extra = constraints(schema);
  return extra.length === 0 ? schemaType(schema) : `${schemaType(schema)}; ${extra.join(', ')}`;
}

interface PropertyRow {
  name: string;
  schema: unknown;
  required: boolean;
}

/** The properties of an object schema, nested objects flattened to `parent.child`. */
function propertyRows(schema: unknown, prefix = ''): PropertyRow[] {
  if (!isRecord(schema) || !isRecord(schema.properties)) return [];
  const required = new Set(
    Array.isArray(schema.required)
      ? schema.required.filter((name) => typeof name === 'string')
      : [],
  );
  const rows: PropertyRow[] = [];
  for (const [name, property] of Object.entries(schema.properties)) {
    const path = `${prefix}${name}`;
    rows.push({ name: path, schema: property, required: required.has(name) });
    if (isRecord(property) && property.$ref === undefined) {
      rows.push(...propertyRows(property, `${path}.`));
      if (isRecord(property.items) && property.items.$ref === undefined) {
        rows.push(...propertyRows(property.items, `${path}[].`));
      }
    }
  }
  return rows;
}

function propertyTable(schema: unknown): string[] {
  const rows = propertyRows(schema);
  const lines: string[] = [];
  if (rows.length > 0) {
    lines.push('| property | type | required | description |', '|---|---|---|---|');
    for (const row of rows) {
      const description = isRecord(row.schema) ? (text(row.schema.description) ?? '') : '';
      lines.push(
        `| ${code(row.name)} | ${cell(describeSchema(row.schema))} | ${row.required ? 'yes' : 'no'} | ${cell(description)} |`,
      );
    }
  }
  if (isRecord(schema) && isRecord(schema.properties)) {
    const additional = schema.additionalProperties;
    if (additional === false) lines.push('', 'No other properties.');
    else if (isRecord(additional)) {
      lines.push('', `Other properties: ${describeSchema(additional)}.`);
    }
  }
  return lines;
}

/** `Authentication: bearer apiToken` etc. from the operation's requirement, else the document's. */
function security(operation: Json, document: Json): string {
  const requirements = Array.isArray(operation.security)
    ? operation.security
    : Array.isArray(document.security)
      ? document.security
      : [];
  const alternatives = requirements.filter(isRecord).map((requirement) =>
    Object.entries(requirement)
      .map(([name, scopes]) => {
        const listed = Array.isArray(scopes) ? scopes.filter((s) => typeof s === 'string') : [];
        const link = `[${code(name)}](#security-${slug(name)})`;
        return listed.length === 0 ? link : `${link} (scopes ${listed.map(code).join(', ')})`;
      })
      .join(' and '),
  );
  const named = alternatives.filter((alternative) => alternative !== '');
  if (named.length === 0) return 'none';
  return named.length < alternatives.length ? `none, or ${named.join(' or ')}` : named.join(' or ');
}

function contentLines(content: unknown): string[] {
  if (!isRecord(content)) return [];
  return Object.entries(content).map(([type, media]) => {
    const schema = isRecord(media) ? media.schema : undefined;
    return `${code(type)}: ${schema === undefined ? 'any' : describeSchema(schema)}`;
  });
}

function operationSection(
  method: string,
  path: string,
  operation: Json,
  pathItem: Json,
  document: Json,
  resolver: Resolver,
): string[] {
  const lines = [
    `<a id="${operationAnchor(method, path)}"></a>`,
    '',
    `### ${code(`${method.toUpperCase()} ${path}`)}`,
    '',
  ];
  const summary = text(operation.summary);
  if (summary !== undefined) lines.push(summary, '');
  const description = text(operation.description);
  if (description !== undefined) lines.push(description, '');
  if (operation.deprecated === true) lines.push('**Deprecated.**', '');
  const id = text(operation.operationId);
  lines.push(
    `- Authentication: ${security(operation, document)}`,
    ...(id === undefined ? [] : [`- Operation id: ${code(id)}`]),
    '',
  );

  // Path-level parameters apply unless the operation redefines the same name and location.
  const own = records(operation.parameters)
    .map((p) => resolver.resolve(p))
    .filter(isRecord);
  const inherited = records(pathItem.parameters)
    .map((p) => resolver.resolve(p))
    .filter(isRecord)
    .filter((p) => !own.some((o) => o.name === p.name && o.in === p.in));
  const parameters = [...inherited, ...own];
  if (parameters.length > 0) {
    lines.push(
      '**Parameters**',
      '',
      '| name | in | required | type | description |',
      '|---|---|---|---|---|',
    );
    for (const parameter of parameters) {
      lines.push(
        `| ${code(String(parameter.name))} | ${cell(String(parameter.in))} | ${parameter.required === true ? 'yes' : 'no'} | ${cell(describeSchema(parameter.schema))} | ${cell(text(parameter.description) ?? '')} |`,
      );
    }
    lines.push('');
  }

  const body = resolver.resolve(operation.requestBody);
  if (isRecord(body)) {
    const bodyDescription = text(body.description);
    lines.push(
      `**Request body** (${body.required === true ? 'required' : 'optional'})${bodyDescription === undefined ? '' : `: ${bodyDescription}`}`,
      '',
      ...contentLines(body.content).map((line) => `- ${line}`),
      '',
    );
  }

  const responses = isRecord(operation.responses) ? Object.entries(operation.responses) : [];
  if (responses.length > 0) {
    lines.push('**Responses**', '', '| status | description | content |', '|---|---|---|');
    const headerLines: string[] = [];
    for (const [status, reference] of responses) {
      const response = resolver.resolve(reference);
      const answer = isRecord(response) ? response : {};
      const content = contentLines(answer.content);
      lines.push(
        `| ${code(status)} | ${cell(text(answer.description) ?? '')} | ${cell(content.length === 0 ? 'none' : content.join('; '))} |`,
      );
      if (isRecord(answer.headers)) {
        for (const [name, header] of Object.entries(answer.headers)) {
          const resolved = resolver.resolve(header);
          const detail = isRecord(resolved) ? resolved : {};
          headerLines.push(
            `- ${code(status)} header ${code(name)}: ${describeSchema(detail.schema)}${text(detail.description) === undefined ? '' : ` — ${text(detail.description) ?? ''}`}`,
          );
        }
      }
    }
    lines.push('');
    if (headerLines.length > 0) lines.push(...headerLines, '');
  }
  return lines;
}

function securitySchemes(document: Json): string[] {
  const components = isRecord(document.components) ? document.components : {};
  const schemes = isRecord(components.securitySchemes) ? components.securitySchemes : {};
  const entries = Object.entries(schemes);
  if (entries.length === 0) return [];
  const lines = ['## Authentication', ''];
  lines.push(
    'Each route names the scheme it accepts; "none" means no credential.',
    '',
    '| scheme | kind | description |',
    '|---|---|---|',
  );
  for (const [name, scheme] of entries) {
    const detail = isRecord(scheme) ? scheme : {};
    const kind = [
      text(detail.type),
      text(detail.scheme),
      text(detail.bearerFormat) === undefined ? undefined : `(${text(detail.bearerFormat) ?? ''})`,
      text(detail.in) === undefined ? undefined : `in ${text(detail.in) ?? ''}`,
      text(detail.name) === undefined ? undefined : code(text(detail.name) ?? ''),
    ]
      .filter((part) => part !== undefined)
      .join(' ');
    lines.push(
      `| <a id="security-${slug(name)}"></a>${code(name)} | ${cell(kind)} | ${cell(text(detail.description) ?? '')} |`,
    );
  }
  lines.push('');
  return lines;
}

function schemaSections(document: Json): string[] {
  const components = isRecord(document.components) ? document.components : {};
  const schemas = isRecord(components.schemas) ? Object.entries(components.schemas) : [];
  if (schemas.length === 0) return [];
  const lines = ['## Schemas', ''];
  for (const [name, schema] of schemas) {
    lines.push(`<a id="${schemaAnchor(name)}"></a>`, '', `### ${name}`, '');
    const description = isRecord(schema) ? text(schema.description) : undefined;
    if (description !== undefined) lines.push(description, '');
    lines.push(`Type: ${describeSchema(schema)}`, '');
    const table = propertyTable(schema);
    if (table.length > 0) lines.push(...table, '');
  }
  return lines;
}

interface OperationEntry {
  method: string;
  path: string;
  operation: Json;
  pathItem: Json;
}

function operations(document: Json): OperationEntry[] {
  const paths = isRecord(document.paths) ? Object.entries(document.paths) : [];
  return paths.flatMap(([path, item]) => {
    const pathItem = isRecord(item) ? item : {};
    return METHODS.flatMap((method) => {
      const operation = pathItem[method];
      return isRecord(operation) ? [{ method, path, operation, pathItem }] : [];
    });
  });
}

/** The Markdown reference of an OpenAPI 3.x document. */
export function apiReference(document: unknown = openApiDocument): string {
  const doc = isRecord(document) ? document : {};
  const resolver = new Resolver(doc);
  const info = isRecord(doc.info) ? doc.info : {};
  const title = text(info.title) ?? 'API';
  const lines = [
    `# ${title} HTTP API reference`,
    '',
    `<!-- Generated by scripts/api-reference.ts from the OpenAPI document (src/api/openapi.ts); do not edit by hand. Regenerate with \`${REGENERATE_COMMAND}\`. -->`,
    '',
    `OpenAPI ${text(doc.openapi) ?? '?'}, ${title} ${text(info.version) ?? ''}`.trimEnd() +
      '. The service serves the same document at `GET /api/openapi.json`.',
    '',
  ];
  const description = text(info.description);
  if (description !== undefined) lines.push(description, '');
  for (const server of records(doc.servers)) {
    lines.push(
      `Server: ${code(String(server.url))}${text(server.description) === undefined ? '' : ` — ${text(server.description) ?? ''}`}`,
      '',
    );
  }

  const all = operations(doc);
  lines.push('## Routes', '', '| method | path | summary | authentication |', '|---|---|---|---|');
  for (const { method, path, operation } of all) {
    lines.push(
      `| ${code(method.toUpperCase())} | [${code(path)}](#${operationAnchor(method, path)}) | ${cell(text(operation.summary) ?? '')} | ${cell(security(operation, doc))} |`,
    );
  }
  lines.push('');

  lines.push(...securitySchemes(doc));

  // Grouped by first tag, in order of first appearance; the document's tag descriptions kept.
  const tagDescriptions = new Map(
    records(doc.tags).map((tag) => [String(tag.name), text(tag.description)]),
  );
  const groups = new Map<string, OperationEntry[]>();
  for (const entry of all) {
    const tags = Array.isArray(entry.operation.tags) ? entry.operation.tags : [];
    const tag = typeof tags[0] === 'string' ? tags[0] : 'other';
    groups.set(tag, [...(groups.get(tag) ?? []), entry]);
  }
  for (const [tag, entries] of groups) {
    lines.push(`## ${tag}`, '');
    const tagDescription = tagDescriptions.get(tag);
    if (tagDescription !== undefined) lines.push(tagDescription, '');
    for (const { method, path, operation, pathItem } of entries) {
      lines.push(...operationSection(method, path, operation, pathItem, doc, resolver));
    }
  }

  lines.push(...schemaSections(doc));
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: API_REFERENCE_PATH },
      check: { type: 'boolean', default: false },
    },
  });
  const target = values.out;
  const wanted = apiReference(openApiDocument);
  if (values.check) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current === wanted) return 0;
    process.stderr.write(`${target} is not up to date: run \`${REGENERATE_COMMAND}\`\n`);
    return 1;
  }
  await writeFile(target, wanted);
  process.stdout.write(`wrote ${target}\n`);
  return 0;
}

const script = process.argv[1];
if (script !== undefined && import.meta.url === pathToFileURL(resolve(script)).href) {
  process.exitCode = await main();
}
