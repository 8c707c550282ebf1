import { JointspaceError, type ErrorCode } from '../errors.js';

/**
 * A JointspaceError whose message starts with the file label when one is known, so that every
 * imaging error names both the file and what is wrong with it. Messages never quote free-text
 * attribute values (names, descriptions); only tags, keywords, numbers, UIDs and codes.
 */
export function imagingError(
  code: ErrorCode,
  label: string | undefined,
  detail: string,
  cause?: unknown,
): JointspaceError {
  const message = label === undefined || label === '' ? detail : `${label}: ${detail}`;
  return new JointspaceError(code, message, cause === undefined ? {} : { cause });
}

/** Formats a tag as (GGGG,EEEE) for messages. */
export function formatTag(tag: number): string {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}
