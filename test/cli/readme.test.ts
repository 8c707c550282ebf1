/**
 * The README's account of `jointspace serve` against the code it describes: the configuration
 * table is exactly the one generated from `CONFIG_VARIABLES`, and the HTTP API section names
 * every route of the OpenAPI document. Adding a variable or a route without documenting it
 * fails here.
 *
 * To regenerate the table, run from the repository root and paste the output between the
 * `config-table` markers of README.md:
 *
 *   node --import tsx -e "import('./src/cli/config-table.ts').then(m => console.log(m.configurationTable()))"
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openApiDocument } from '../../src/api/openapi.js';
import { configurationHelp, configurationTable } from '../../src/cli/config-table.js';
import { ALL_CONFIG_VARIABLES } from '../../src/config.js';
import { repoRoot } from '../helpers/paths.js';
import { runCli } from '../helpers/run-cli.js';

const START_MARKER = '<!-- config-table:start -->';
const END_MARKER = '<!-- config-table:end -->';
const API_HEADING = '### HTTP API';

const REGENERATE = `node --import tsx -e "import('./src/cli/config-table.ts').then(m => console.log(m.configurationTable()))"`;

const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');

/** The text between two markers that each occur exactly once, in that order. */
function between(text: string, start: string, end: string): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 || text.indexOf(start, from + 1) !== -1) {
    throw new Error(`README.md must hold "${start}" exactly once`);
  }
  if (to === -1 || text.indexOf(end, to + 1) !== -1) {
    throw new Error(`README.md must hold "${end}" exactly once`);
  }
  if (to < from) throw new Error(`"${end}" comes before "${start}" in README.md`);
  return text.slice(from + start.length, to);
}

/** From a heading to the next heading of the same or a higher level. */
function section(text: string, heading: string): string {
  const lines = text.split('\n');
  const first = lines.indexOf(heading);
  if (first === -1) throw new Error(`README.md has no line "${heading}"`);
  const level = /^#+/.exec(heading)?.[0].length ?? 1;
  const next = lines.findIndex(
    (line, index) =>
      index > first && /^#+ /.test(line) && (/^#+/.exec(line)?.[0].length ?? 0) <= level,
  );
  return lines.slice(first, next === -1 ? undefined : next).join('\n');
}

test('the README holds exactly the generated configuration table', (t) => {
  const documented = between(readme, START_MARKER, END_MARKER).trim();

  t.is(documented, configurationTable(), `regenerate the table with: ${REGENERATE}`);
});

test('the configuration table has one row per variable, and no secret has a default', (t) => {
  const rows = configurationTable().split('\n').slice(2);

  t.is(rows.length, ALL_CONFIG_VARIABLES.length);
  for (const variable of ALL_CONFIG_VARIABLES) {
    const row = rows.find((line) => line.startsWith(`| \`${variable.name}\` |`));
    t.truthy(row, variable.name);
    t.is(row?.includes('(**secret**)'), variable.secret, variable.name);
    if (variable.secret) t.regex(row ?? '', /^\| `\w+` \| (yes|no) \| — \|/, variable.name);
  }
});

test('serve --help lists every variable, in plain text', async (t) => {
  const help = configurationHelp();
  const result = await runCli(['serve', '--help']);

  t.is(result.status, 0, result.stderr);
  t.true(result.stdout.includes(help));
  for (const variable of ALL_CONFIG_VARIABLES) t.true(help.includes(`  ${variable.name} (`));
  t.false(help.includes('`'));
  t.false(help.includes('|'));
});

test("the README's API section names every route of the OpenAPI document", (t) => {
  const api = section(readme, API_HEADING);
  const routes = Object.entries(openApiDocument.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
  );

  t.true(routes.length > 0);
  for (const route of routes) t.true(api.includes(route), `${route} is not in "${API_HEADING}"`);
});
