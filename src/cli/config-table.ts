/**
 * The configuration of `jointspace serve` as documentation: a Markdown table for the README and
 * a plain-text list for `jointspace serve --help`, both made from `ALL_CONFIG_VARIABLES`, so
 * neither can drift from what `loadConfig` reads.
 *
 * `test/cli/readme.test.ts` fails when the README's copy differs from `configurationTable()`.
 * To regenerate it, run from the repository root and paste the output between the
 * `config-table` markers of README.md:
 *
 *   node --import tsx -e "import('./src/cli/config-table.ts').then(m => console.log(m.configurationTable()))"
 */
import { ALL_CONFIG_VARIABLES, type ConfigVariable } from '../config.js';

/** One variable as both renderings need it. Secrets get no example, only their meaning. */
interface ConfigurationRow {
  name: string;
  required: boolean;
  default: string | undefined;
  meaning: string;
  secret: boolean;
}

function configurationRows(): ConfigurationRow[] {
  return ALL_CONFIG_VARIABLES.map((variable: ConfigVariable) => ({
    name: variable.name,
    required: variable.required,
    default: variable.default,
    meaning: variable.description,
    secret: variable.secret,
  }));
}

/** The Markdown table (GitHub Flavored Markdown), without a trailing newline. */
export function configurationTable(): string {
  const lines = ['| Variable | Required | Default | Meaning |', '|---|---|---|---|'];

  for (const row of configurationRows()) {
    const cells = [
      `\`${row.name}\``,
      row.required ? 'yes' : 'no',
      row.default === undefined ? '—' : markdownCode(row.default),
      markdownText(row.meaning) + (row.secret ? ' (**secret**)' : ''),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }

  return lines.join('\n');
}

/** The list shown after `jointspace serve --help`, without a trailing newline. */
export function configurationHelp(width = 80): string {
  const lines = ['', 'Configuration (environment variables):'];

  for (const row of configurationRows()) {
    const traits = [
      row.required ? 'required' : 'optional',
      ...(row.default === undefined ? [] : [`default ${row.default}`]),
      ...(row.secret ? ['secret'] : []),
    ];
    lines.push(`  ${row.name} (${traits.join(', ')})`);
    lines.push(...wrap(plainText(row.meaning), width - 6).map((line) => `      ${line}`));
  }

  lines.push('', 'Details: "Running the PACS node" in README.md.');
  return lines.join('\n');
}

/**
 * Text for a table cell: `|` would end the cell, and outside code spans `<` and `>` would be
 * taken for HTML (`<url>` would vanish), so they are escaped; code spans are kept as written.
 */
function markdownText(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, index) =>
      index % 2 === 1
        ? part.replace(/\|/g, '\\|')
        : part.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
    )
    .join('');
}

function markdownCode(value: string): string {
  return `\`${value.replace(/\|/g, '\\|')}\``;
}

/** The meaning without Markdown code marks, for a terminal. */
function plainText(text: string): string {
  return text.replace(/`([^`]*)`/g, '$1');
}

/** Words in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';

  for (const word of text.split(/\s+/).filter((part) => part !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '';
    }
    line = line === '' ? word : `${line} ${word}`;
  }

  if (line !== '') lines.push(line);
  return lines;
}
