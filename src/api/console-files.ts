/**
 * Serves the operator console's static files (src/console) at `/console/`, without a token:
 * they hold no data; every call they make to the API carries the operator's bearer token.
 *
 * Only files named in the folder's listing, taken once at the first request, with a plain name
 * (letters, digits, dashes, one extension of html, js or css) are served, looked up by exact
 * name: no path from the request ever reaches the file system, so `..`, encoded slashes or
 * links cannot lead out of the folder. A file added later needs a restart.
 *
 * Every answer carries a strict Content-Security-Policy: scripts and styles from this origin
 * only (no inline code), images from this origin or blob: URLs (the thumbnails, fetched with
 * the token), API calls to this origin only, no framing.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { JointspaceError } from '../errors.js';
import { fromRoot } from '../paths.js';
import type { ApiMiddleware } from './context.js';

export const CONSOLE_PATH = '/console/';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SERVED_NAME = /^[a-z0-9][a-z0-9-]*\.(html|js|css)$/;
const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

export function defaultConsoleDirectory(): string {
  return fromRoot('src', 'console');
}

/** Middleware answering `/console` and `/console/*`; other paths pass through. */
export function serveConsole(directory = defaultConsoleDirectory()): ApiMiddleware {
  let listing: Promise<Set<string>> | undefined;
  const files = () =>
    (listing ??= readdir(directory, { withFileTypes: true }).then(
      (entries) =>
        new Set(
          entries
            .filter((entry) => entry.isFile() && SERVED_NAME.test(entry.name))
            .map((entry) => entry.name),
        ),
      (error: unknown) => {
        listing = undefined;
        throw new JointspaceError('not-found', 'the operator console is not installed', {
          cause: error,
          status: 404,
        });
      },
    ));

  return async (ctx, next) => {
    if (ctx.path === '/console') {
      ctx.state.route = '/console';
      ctx.redirect(CONSOLE_PATH);
      return;
    }
    if (!ctx.path.startsWith(CONSOLE_PATH)) {
      await next();
      return;
    }
    ctx.state.route = `${CONSOLE_PATH}*`;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      throw new JointspaceError('method-not-allowed', `${ctx.method} is not allowed here`, {
        status: 405,
      });
    }

    const requested = ctx.path.slice(CONSOLE_PATH.length);
    const name = requested === '' ? 'index.html' : requested;
    if (!(await files()).has(name)) {
      throw new JointspaceError('not-found', 'no such file in the operator console', {
        status: 404,
      });
    }
    const extension = name.slice(name.lastIndexOf('.') + 1);
    ctx.set('Content-Security-Policy', CONSOLE_CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = CONTENT_TYPES[extension] ?? 'application/octet-stream';
    ctx.body = await readFile(join(directory, name));
  };
}
