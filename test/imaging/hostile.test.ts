/**
 * Broken and hostile files: each ends, within a bounded time, in a JointspaceError that names
 * the file and what is wrong, and no patient name ever leaks into a message or the metadata.
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, JointspaceError, type ErrorCode } from '../../src/errors.js';
import { loadImageFile } from '../../src/imaging/load.js';
import { hostileDir, patientNameOf } from './reference.js';

const MAX_SECONDS = 10;

type Expectation =
  | { outcome: 'error'; code: ErrorCode; message: RegExp }
  | { outcome: 'decodes' }
  | { outcome: 'either' };

const expectations: Record<string, Expectation> = {
  'deeply-nested-sequence.dcm': {
    outcome: 'error',
    code: 'invalid-dicom',
    message: /nested deeper than \d+ levels/,
  },
  'invalid-rows.dcm': {
    outcome: 'error',
    code: 'invalid-dicom',
    message: /no Pixel Data \(7FE0,0010\)/,
  },
  'j2k-truncated.dcm': { outcome: 'error', code: 'decode-failed', message: /truncated/ },
  // A valid CT image whose only oddity is an implicit VR sequence inside a UN element; DCMTK and
  // GDCM decode it, and so do we (its pixels are compared with DCMTK in samples.test.ts).
  'bad-sequence.dcm': { outcome: 'decodes' },
  'xss-patient-name.dcm': { outcome: 'either' },
};

const files = readdirSync(hostileDir).filter((name) => name.endsWith('.dcm'));

for (const name of files) {
  // A hostile file added later must at least fail cleanly.
  const expected: Expectation = expectations[name] ?? { outcome: 'either' };

  test(`hostile/${name}: ${expected.outcome === 'error' ? expected.code : expected.outcome}, in bounded time`, async (t) => {
    const path = join(hostileDir, name);
    const patientName = patientNameOf(await readFile(path));
    const started = performance.now();
    let error: unknown;
    let result: Awaited<ReturnType<typeof loadImageFile>> | undefined;
    try {
      result = await loadImageFile(path);
    } catch (caught) {
      error = caught;
    }
    const seconds = (performance.now() - started) / 1000;
    t.true(seconds < MAX_SECONDS, `${seconds.toFixed(1)} s`);
    const leaks = (text: string) =>
      patientName !== undefined && patientName.length > 2 && text.includes(patientName);

    if (error !== undefined) {
      t.true(error instanceof JointspaceError, errorMessage(error));
      if (!(error instanceof JointspaceError)) return;
      t.log(`${error.code}: ${error.message}`);
      t.true(error.message.startsWith(path), 'message names the file');
      t.false(leaks(error.message), 'message carries no patient name');
      t.false(/<script/i.test(error.message));
      if (expected.outcome === 'error') {
        t.is(error.code, expected.code);
        t.regex(error.message, expected.message);
      } else {
        t.is(expected.outcome, 'either', 'should have decoded');
      }
    } else {
      t.not(expected.outcome, 'error', 'should have failed');
      t.truthy(result);
      t.false(leaks(JSON.stringify(result?.metadata)), 'metadata carries no patient name');
      t.false(/<script/i.test(JSON.stringify(result?.metadata)));
    }
  });
}

test.serial('decoding broken files writes nothing to stdout or stderr', async (t) => {
  const written: string[] = [];
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown): boolean => {
    written.push(String(chunk));
    return true;
  };
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    for (const name of files) {
      await loadImageFile(join(hostileDir, name)).catch(() => undefined);
    }
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
  t.deepEqual(written, []);
});
