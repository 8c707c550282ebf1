/**
 * multipart/related bodies (RFC 2387 over the RFC 2046 section 5.1 syntax) and the media types
 * that describe them (RFC 9110 section 8.3.1), as DICOMweb uses them for WADO-RS responses and
 * STOW-RS requests (PS3.18 8.6.1.2 Multipart Media Types).
 *
 * Bodies are binary (DICOM Part 10 files, pixel frames): parts are found by searching bytes,
 * never by decoding the body as text. Only part headers are read as text (latin1).
 */
import { randomUUID } from 'node:crypto';
import { JointspaceError } from '../errors.js';

/** A media type: `type/subtype` in lower case, parameter names in lower case, values as sent. */
export interface MediaType {
  type: string;
  parameters: Record<string, string>;
}

/** One body part: header names in lower case, and the bytes between headers and delimiter. */
export interface BodyPart {
  headers: Record<string, string>;
  body: Uint8Array;
}

const CRLF = '\r\n';
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const WHITESPACE = new Set([' ', '\t']);
// RFC 2046 5.1.1: 1 to 70 characters, the last one not a space.
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function malformed(what: string): JointspaceError {
  return new JointspaceError('invalid-argument', `malformed multipart: ${what}`, { status: 400 });
}

/**
 * Parses a Content-Type or one media range of an Accept value. Quoted parameter values may
 * hold `;`, `=` and escaped characters: Orthanc answers with
 * `type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"`.
 */
export function parseMediaType(value: string): MediaType {
  const scanner = new Scanner(value);
  const type = scanner.until(';').trim().toLowerCase();
  if (!/^[^/\s]+\/[^/\s]+$/.test(type)) throw malformed('media type must be type/subtype');

  const parameters: [string, string][] = [];
  while (scanner.skip(';')) {
    scanner.skipWhitespace();
    if (scanner.done()) break;

    const name = scanner.until('=;').trim().toLowerCase();
    if (!TOKEN.test(name) || !scanner.skip('=')) {
      throw malformed('media type parameter must be name=value');
    }
    parameters.push([name, scanner.peek() === '"' ? scanner.quoted() : scanner.until(';').trim()]);
    scanner.skipWhitespace();
  }
  if (!scanner.done()) throw malformed('unexpected text after a media type parameter');

  // fromEntries defines own properties, so a hostile "__proto__" name stays a plain key.
  return { type, parameters: Object.fromEntries(parameters) };
}

/** Writes a media type, quoting the parameter values that are not tokens. */
export function formatMediaType(mediaType: MediaType): string {
  const parameters = Object.entries(mediaType.parameters).map(
    ([name, value]) => `; ${name}=${TOKEN.test(value) ? value : quote(value)}`,
  );
  return mediaType.type + parameters.join('');
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (char) => `\\${char}`)}"`;
}

/** A boundary that no part body contains (checked, however unlikely a clash is). */
export function newBoundary(parts: readonly BodyPart[] = []): string {
  for (;;) {
    const boundary = `jointspace-${randomUUID()}`;
    if (!parts.some((part) => contains(part.body, boundary))) return boundary;
  }
}

/**
 * Writes parts between `--boundary` delimiter lines, CRLF line ends, closing with
 * `--boundary--`. A boundary that occurs in a part body is refused rather than producing a
 * body that decodes differently.
 */
export function encodeMultipart(parts: readonly BodyPart[], boundary: string): Uint8Array {
  if (!BOUNDARY.test(boundary)) throw malformed('boundary must be 1 to 70 allowed characters');
  if (parts.some((part) => contains(part.body, boundary))) {
    throw malformed('boundary occurs inside a part body');
  }

  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    const headers = Object.entries(part.headers).map(([name, value]) => {
      if (/[\r\n]/.test(name + value)) throw malformed('header must not contain line breaks');
      return `${name}: ${value}${CRLF}`;
    });
    chunks.push(Buffer.from(`--${boundary}${CRLF}${headers.join('')}${CRLF}`, 'latin1'));
    chunks.push(part.body, Buffer.from(CRLF, 'latin1'));
  }
  chunks.push(Buffer.from(`--${boundary}--${CRLF}`, 'latin1'));

  const joined = Buffer.concat(chunks);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

/**
 * Splits a multipart body into its parts. The preamble and epilogue are ignored; the body must
 * hold a closing delimiter, so a truncated transfer is an error rather than a short answer.
 * Part bodies are views into `body`, not copies.
 */
export function decodeMultipart(body: Uint8Array, boundary: string): BodyPart[] {
  if (!BOUNDARY.test(boundary)) throw malformed('boundary must be 1 to 70 allowed characters');

  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`${CRLF}--${boundary}`, 'latin1');
  const first = bytes.subarray(0, delimiter.length - 2).equals(delimiter.subarray(2))
    ? 0
    : bytes.indexOf(delimiter);
  if (first < 0) throw malformed('no delimiter line');

  const parts: BodyPart[] = [];
  let cursor = first === 0 ? delimiter.length - 2 : first + delimiter.length;
  for (;;) {
    if (bytes.subarray(cursor, cursor + 2).toString('latin1') === '--') return parts;

    const start = skipLineEnd(bytes, cursor);
    const end = bytes.indexOf(delimiter, start);
    if (end < 0) throw malformed('no closing delimiter');

    parts.push(readPart(body.subarray(start, end)));
    cursor = end + delimiter.length;
  }
}

/** After a delimiter: optional transport padding (spaces, tabs), then CRLF. */
function skipLineEnd(bytes: Buffer, from: number): number {
  let index = from;
  while (WHITESPACE.has(String.fromCharCode(bytes[index] ?? 0))) index++;
  if (bytes.subarray(index, index + 2).toString('latin1') !== CRLF) {
    throw malformed('delimiter line must end with CRLF');
  }
  return index + 2;
}

function readPart(part: Uint8Array): BodyPart {
  const bytes = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
  // A part without headers starts with the blank line at once.
  const split = bytes.subarray(0, 2).toString('latin1') === CRLF ? 0 : bytes.indexOf(CRLF + CRLF);
  if (split < 0) throw malformed('part headers must end with a blank line');

  const text = bytes.subarray(0, split).toString('latin1');
  const headers = (split === 0 ? [] : text.split(CRLF)).map((line): [string, string] => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('part header must be name: value');
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  });

  return { headers: Object.fromEntries(headers), body: part.subarray(split === 0 ? 2 : split + 4) };
}

function contains(body: Uint8Array, boundary: string): boolean {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).includes(`--${boundary}`);
}

/** A cursor over a header value, for the few productions media types need. */
class Scanner {
  private index = 0;

  constructor(private readonly text: string) {}

  done(): boolean {
    return this.index >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.index];
  }

  skip(char: string): boolean {
    if (this.text[this.index] !== char) return false;
    this.index++;
    return true;
  }

  skipWhitespace(): void {
    while (WHITESPACE.has(this.text[this.index] ?? '')) this.index++;
  }

  /** The text up to (not including) the first of `stops`, or to the end. */
  until(stops: string): string {
    const start = this.index;
    while (!this.done() && !stops.includes(this.text[this.index] ?? '')) this.index++;
    return this.text.slice(start, this.index);
  }

  /** A quoted-string (RFC 9110 5.6.4) without its quotes, escapes resolved. */
  quoted(): string {
    let value = '';
    this.index++;
    for (;;) {
      const char = this.text[this.index++];
      if (char === undefined) throw malformed('unterminated quoted parameter value');
      if (char === '"') return value;
      if (char === '\\') {
        const escaped = this.text[this.index++];
        if (escaped === undefined) throw malformed('unterminated quoted parameter value');
        value += escaped;
      } else {
        value += char;
      }
    }
  }
}
