import { fileURLToPath } from 'node:url';

/**
 * Repository root, found from this module's location. Works for the sources
 * (src/paths.ts) and the build (dist/paths.js) alike, since both sit one
 * level below the root.
 */
export const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

export function fromRoot(...parts: string[]): string {
  return [repositoryRoot.replace(/\/$/, ''), ...parts].join('/');
}
