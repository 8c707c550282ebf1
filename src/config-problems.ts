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
