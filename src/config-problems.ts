/**
 * Problems found while reading configuration, collected so that one error reports them all,
 * each naming its variable.
 */
import { JointspaceError } from './errors.js';

export class ConfigurationProblems {
  private readonly lines: string[] = [];

  constructor(private readonly heading: string) {}

  /** Problems added so far. */
  get count(): number {
    return this.lines.length;
  }

  add(variable: string, text: string): void {
    this.lines.push(`${variable}: ${text}`);
  }

  /** Throws one `invalid-configuration` error listing every problem, if there is any. */
  throwIfAny(): void {
    if (this.lines.length === 0) return;
    const count = this.lines.length === 1 ? '1 problem' : `${this.lines.length} problems`;
    throw new JointspaceError(
      'invalid-configuration',
      `${this.heading} (${count}):\n${this.lines.map((line) => `- ${line}`).join('\n')}`,
      { status: 500, permanent: true },
    );
  }
}

/**
 * Reads a group of variables and collects their problems (the FHIR and the CDS Hooks settings
 * both read theirs this way). An empty value counts as unset; values of variables that are not
 * secret are trimmed, secrets are taken as set.
 */
export class VariableReader<Name extends string> {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    protected readonly problems: ConfigurationProblems,
    private readonly variables: readonly { name: Name; secret: boolean }[],
  ) {}

  problem(name: Name, text: string): void {
    this.problems.add(name, text);
  }

  throwIfProblems(): void {
    this.problems.throwIfAny();
  }

  given(name: Name): string | undefined {
    const secret = this.variables.find((v) => v.name === name)?.secret ?? true;
    const value = secret ? this.env[name] : this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  /** An http(s) URL without credentials (and without query or fragment unless allowed). */
  httpUrl(name: Name, value: string, allowQuery = false): URL | undefined {
    const parsed = URL.canParse(value) ? new URL(value) : undefined;
    if (parsed === undefined) {
      this.problem(name, 'expected an http or https URL (the value is not a URL)');
      return undefined;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      this.problem(name, `expected an http or https URL, got scheme "${parsed.protocol}"`);
      return undefined;
    }
    if (parsed.username !== '' || parsed.password !== '') {
      this.problem(name, 'expected a URL without credentials');
      return undefined;
    }
    if (!allowQuery && (parsed.search !== '' || parsed.hash !== '')) {
      this.problem(name, 'expected a URL without query or fragment');
      return undefined;
    }
    return parsed;
  }
}
