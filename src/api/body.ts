/**
 * Reads a small JSON request body, refusing anything but `application/json` and anything over
 * the limit before it is buffered in full.
 */
import { JointspaceError } from '../errors.js';
import type { ApiContext } from './context.js';
import { invalid } from './validate.js';

/** Largest body the push endpoint reads; its real bodies are about 150 bytes. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

function tooLarge(limit: number): JointspaceError {
  return new JointspaceError('limit-exceeded', `body: expected at most ${limit} bytes`, {
    status: 413,
  });
}

/** The body as a JSON object (not an array or a scalar). */
export async function readJsonObject(
  ctx: ApiContext,
  limit = MAX_JSON_BODY_BYTES,
): Promise<Record<string, unknown>> {
  if (ctx.request.is('application/json') === false) {
    throw new JointspaceError('unsupported-media-type', 'Content-Type: expected application/json', {
      status: 415,
    });
  }
  if (Number.parseInt(ctx.get('Content-Length'), 10) > limit) {
    // The rest of the body is not read: closing spares the server from draining it.
    ctx.set('Connection', 'close');
    throw tooLarge(limit);
  }

  const text = await readText(ctx, limit);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('body', 'a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('body', 'a JSON object');
  }
  return parsed as Record<string, unknown>;
}

async function readText(ctx: ApiContext, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      ctx.set('Connection', 'close');
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw invalid('body', 'UTF-8 text');
  }
}
