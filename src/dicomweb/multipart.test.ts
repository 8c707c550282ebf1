import test from 'ava';
import { JointspaceError } from '../errors.js';
import {
  decodeMultipart,
  encodeMultipart,
  formatMediaType,
  newBoundary,
  parseMediaType,
  type BodyPart,
} from './multipart.js';

const text = (value: string) => new Uint8Array(Buffer.from(value, 'latin1'));
const asText = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

/** Every byte value, and the line ends and dashes a delimiter is made of. */
const binary = Uint8Array.from([
  ...Array.from({ length: 256 }, (_, byte) => byte),
  ...text('\r\n--\r\n\r\n--jointspace\r\n'),
]);

function throwsMalformed(t: import('ava').ExecutionContext, run: () => unknown, message: RegExp) {
  const error = t.throws(run, { instanceOf: JointspaceError, message });
  t.is(error.code, 'invalid-argument');
}

test('parseMediaType reads type and parameters, lower-casing names only', (t) => {
  const mediaType = parseMediaType('Multipart/Related; Type=application/dicom;BOUNDARY=AbC');

  t.deepEqual(mediaType, {
    type: 'multipart/related',
    parameters: { type: 'application/dicom', boundary: 'AbC' },
  });
});

test('parseMediaType keeps ; = and escaped quotes inside quoted values', (t) => {
  const mediaType = parseMediaType(
    'multipart/related ; type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1" ;' +
      ' boundary="a \\"quoted\\" b=c"; empty=""',
  );

  t.deepEqual(mediaType.parameters, {
    type: 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1',
    boundary: 'a "quoted" b=c',
    empty: '',
  });
  t.is(
    parseMediaType(mediaType.parameters.type ?? '').parameters['transfer-syntax'],
    '1.2.840.10008.1.2.1',
  );
});

test('parseMediaType accepts a trailing semicolon and a bare type', (t) => {
  t.deepEqual(parseMediaType('application/dicom+json;'), {
    type: 'application/dicom+json',
    parameters: {},
  });
  t.deepEqual(parseMediaType(' image/jls '), { type: 'image/jls', parameters: {} });
});

test('parseMediaType keeps a "__proto__" parameter as a plain key', (t) => {
  const mediaType = parseMediaType('text/plain; __proto__=x');

  t.is(Object.getPrototypeOf(mediaType.parameters), Object.prototype);
  t.true(Object.hasOwn(mediaType.parameters, '__proto__'));
});

test('parseMediaType refuses malformed values', (t) => {
  throwsMalformed(t, () => parseMediaType(''), /type\/subtype/);
  throwsMalformed(t, () => parseMediaType('dicom; a=b'), /type\/subtype/);
  throwsMalformed(t, () => parseMediaType('a/b; c'), /name=value/);
  throwsMalformed(t, () => parseMediaType('a/b; c d=e'), /name=value/);
  throwsMalformed(t, () => parseMediaType('a/b; c="open'), /unterminated/);
  throwsMalformed(t, () => parseMediaType('a/b; c="x\\'), /unterminated/);
  throwsMalformed(t, () => parseMediaType('a/b; c="x" y'), /unexpected text/);
});

test('formatMediaType quotes values that are not tokens, and round-trips', (t) => {
  const mediaType = {
    type: 'multipart/related',
    parameters: { type: 'application/dicom', boundary: 'simple-1', note: 'say "hi"\\' },
  };
  const formatted = formatMediaType(mediaType);

  t.is(
    formatted,
    'multipart/related; type="application/dicom"; boundary=simple-1; note="say \\"hi\\"\\\\"',
  );
  t.deepEqual(parseMediaType(formatted), mediaType);
});

test('encodeMultipart writes delimiters, headers and CRLFs as RFC 2046 lays them out', (t) => {
  const body = encodeMultipart(
    [
      { headers: { 'Content-Type': 'application/dicom' }, body: text('one') },
      { headers: {}, body: text('') },
    ],
    'b0',
  );

  t.is(
    asText(body),
    '--b0\r\nContent-Type: application/dicom\r\n\r\none\r\n--b0\r\n\r\n\r\n--b0--\r\n',
  );
});

test('binary bodies survive an encode and decode round trip', (t) => {
  const parts: BodyPart[] = [
    { headers: { 'content-type': 'application/dicom' }, body: binary },
    { headers: { 'content-type': 'application/octet-stream', 'x-n': '2' }, body: binary.slice(7) },
    { headers: {}, body: new Uint8Array(0) },
  ];
  const boundary = newBoundary(parts);

  const decoded = decodeMultipart(encodeMultipart(parts, boundary), boundary);

  t.is(decoded.length, 3);
  decoded.forEach((part, index) => {
    t.deepEqual(part.headers, parts[index]?.headers);
    t.deepEqual([...part.body], [...(parts[index]?.body ?? [])]);
  });
});

test('no parts encode to a lone closing delimiter and decode to none', (t) => {
  const body = encodeMultipart([], 'end');

  t.is(asText(body), '--end--\r\n');
  t.deepEqual(decodeMultipart(body, 'end'), []);
});

test('decodeMultipart skips preamble and epilogue and allows transport padding', (t) => {
  const body = text(
    'preamble --xyz is not a delimiter\r\n--xyz \t\r\nContent-Type:  image/jls \r\n\r\n' +
      'AB\r\n--xyz\r\n\r\nno headers\r\n--xyz--  \r\nepilogue',
  );

  const parts = decodeMultipart(body, 'xyz');

  t.deepEqual(
    parts.map((part) => [part.headers, asText(part.body)]),
    [
      [{ 'content-type': 'image/jls' }, 'AB'],
      [{}, 'no headers'],
    ],
  );
});

test('decodeMultipart reads a body that is a view into a larger buffer', (t) => {
  const whole = text('garbage--v\r\n\r\nframe\r\n--v--\r\ngarbage');
  const view = whole.subarray(7, whole.length - 9);

  const parts = decodeMultipart(view, 'v');

  t.is(parts.length, 1);
  t.is(asText(parts[0]?.body ?? new Uint8Array()), 'frame');
});

test('decodeMultipart refuses truncated and malformed bodies', (t) => {
  throwsMalformed(t, () => decodeMultipart(text('nothing here'), 'b'), /no delimiter/);
  throwsMalformed(
    t,
    () => decodeMultipart(text('--b\r\n\r\ncut off in the midd'), 'b'),
    /no closing delimiter/,
  );
  throwsMalformed(
    t,
    () => decodeMultipart(text('--b\r\nContent-Type: a/b\r\nbody\r\n--b--'), 'b'),
    /blank line/,
  );
  throwsMalformed(
    t,
    () => decodeMultipart(text('--b\r\nno colon\r\n\r\nx\r\n--b--'), 'b'),
    /name: value/,
  );
  throwsMalformed(t, () => decodeMultipart(text('--bb\r\n\r\nx\r\n--b--'), 'b'), /CRLF/);
});

test('encodeMultipart refuses a boundary found in a body, bad boundaries and header breaks', (t) => {
  throwsMalformed(
    t,
    () => encodeMultipart([{ headers: {}, body: text('x\r\n--clash\r\n') }], 'clash'),
    /inside a part body/,
  );
  throwsMalformed(t, () => encodeMultipart([], ''), /boundary/);
  throwsMalformed(t, () => encodeMultipart([], 'x'.repeat(71)), /boundary/);
  throwsMalformed(t, () => encodeMultipart([], 'ends with space '), /boundary/);
  throwsMalformed(t, () => encodeMultipart([], 'semi;colon'), /boundary/);
  throwsMalformed(
    t,
    () => encodeMultipart([{ headers: { 'X-A': 'b\r\nX-Injected: c' }, body: text('') }], 'ok'),
    /line breaks/,
  );
});

test('newBoundary makes valid boundaries that no body contains', (t) => {
  const boundary = newBoundary([{ headers: {}, body: binary }]);

  t.regex(boundary, /^jointspace-[0-9a-f-]{36}$/);
  t.not(newBoundary(), boundary);
  t.notThrows(() => encodeMultipart([{ headers: {}, body: binary }], boundary));
});
