/**
 * The declarative files of mappings/: read once per process, validated by the module that owns
 * each one, and cached by path. A file that cannot be read or parsed fails with a message that
 * names it.
 */
import { readFileSync } from 'node:fs';
import { JointspaceError, errorMessage } from './errors.js';

const cache = new Map<string, unknown>();

/**
 * The parsed, validated content of the JSON file at `path`. `what` names the file in errors
 * ("care rules"); `parse` validates it and names the field that is wrong.
 */
export function loadMapping<T>(path: string, what: string, parse: (json: unknown) => T): T {
  if (cache.has(path)) return cache.get(path) as T;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new JointspaceError('invalid-configuration', `${what} ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const parsed = parse(json);
  cache.set(path, parsed);
  return parsed;
}
