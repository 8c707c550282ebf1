/**
 * Checking a hand-edited mappings/ JSON file (read by src/mappings.ts) field by field, so that
 * a mistake fails with a message naming the field and what was expected.
 */
import { JointspaceError } from '../errors.js';

export type JsonObject = Record<string, unknown>;

/** Checks of one document; every failure names `source` and the field's path. */
export class FieldReader {
  constructor(private readonly source: string) {}

  fail(field: string, expected: string): never {
    this.refuse(`${field} must be ${expected}`);
  }

  refuse(problem: string): never {
    throw new JointspaceError('invalid-configuration', `${this.source}: ${problem}`);
  }

  object(value: unknown, field: string): JsonObject {
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : this.fail(field, 'an object');
  }

  list(value: unknown, field: string): unknown[] {
    return Array.isArray(value) ? value : this.fail(field, 'an array');
  }

  text(value: unknown, field: string): string {
    return typeof value === 'string' && value.trim() !== ''
      ? value
      : this.fail(field, 'a non-empty string');
  }

  optionalText(value: unknown, field: string): string | undefined {
    return value === undefined || value === null ? undefined : this.text(value, field);
  }

  number(value: unknown, field: string, min: number, max: number): number {
    return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max
      ? value
      : this.fail(field, `a number from ${min} to ${max}`);
  }

  boolean(value: unknown, field: string): boolean {
    return typeof value === 'boolean' ? value : this.fail(field, 'true or false');
  }

  choice<T extends string>(value: unknown, field: string, choices: readonly T[]): T {
    const found = choices.find((choice) => choice === value);
    return found ?? this.fail(field, `one of ${choices.map((c) => `"${c}"`).join(', ')}`);
  }

  /** An absolute URI, as FHIR requires of `Coding.system` and `Identifier.system`. */
  uri(value: unknown, field: string): string {
    const uri = this.text(value, field);
    return /^[a-z][a-z0-9+.-]*:\S+$/i.test(uri) ? uri : this.fail(field, 'an absolute URI');
  }

  /** MAJOR.MINOR.PATCH. */
  version(value: unknown, field: string): string {
    const version = this.text(value, field);
    return /^\d+\.\d+\.\d+$/.test(version) ? version : this.fail(field, 'MAJOR.MINOR.PATCH');
  }

  /** Refuses keys outside `allowed`, so a misspelt key fails instead of being ignored. */
  only(object: JsonObject, field: string, allowed: readonly string[]): void {
    for (const key of Object.keys(object)) {
      if (allowed.includes(key)) continue;
      const path = field === '' ? key : `${field}.${key}`;
      this.refuse(`${path} is not a known field (known: ${allowed.join(', ')})`);
    }
  }
}
