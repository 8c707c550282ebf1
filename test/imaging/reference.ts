/**
 * Test support: sample paths, temporary folders, and independent reference decoding with
 * DCMTK (dcmj2pnm) and, for JPEG 2000, GDCM (gdcmconv --raw) first.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const samplesDir = join(repoRoot, '..', 'shared', 'data', 'dicom-samples');
export const hostileDir = join(samplesDir, 'hostile');

const run = promisify(execFile);
const TOOL_TIMEOUT_MS = 120_000;

/** Runs a command-line tool with a timeout; rejects with its stderr on failure. */
export async function tool(command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args, {
    timeout: TOOL_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Runs `body` with a fresh temporary folder under os.tmpdir(), removed afterwards. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-imaging-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface ReferenceImage {
  width: number;
  height: number;
  values: Uint16Array;
}

async function readGray16Png(path: string): Promise<ReferenceImage> {
  const { data, info } = await sharp(path)
    .toColourspace('grey16')
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true });
  const copy = new Uint8Array(data);
  return { width: info.width, height: info.height, values: new Uint16Array(copy.buffer) };
}

/**
 * DCMTK's rendering of frame 1 as a 16-bit PNG: modality LUT applied, no VOI window (the full
 * output range is a linear map of the modality values, inverted for MONOCHROME1), overlays off.
 * `window` asks for DCMTK's rendering through the file's first VOI window instead, 8 bits.
 */
export async function dcmtkReference(
  file: string,
  options: { jpeg2000?: boolean; window?: boolean } = {},
): Promise<ReferenceImage> {
  return withTempDir(async (dir) => {
    let input = file;
    if (options.jpeg2000 === true) {
      input = join(dir, 'raw.dcm');
      await tool('gdcmconv', ['--raw', file, input]);
    }
    const output = join(dir, 'ref.png');
    await tool('dcmj2pnm', [
      '-q',
      '-O',
      ...(options.window === true ? ['+Wi', '1', '+on'] : ['+on2']),
      input,
      output,
    ]);
    return readGray16Png(output);
  });
}

export interface LinearFit {
  slope: number;
  intercept: number;
  correlation: number;
  maxResidual: number;
  meanResidual: number;
  referenceRange: number;
}

/** Least-squares fit reference ≈ slope × ours + intercept, with residual statistics. */
export function linearFit(ours: Float32Array | Uint8Array, reference: Uint16Array): LinearFit {
  const n = ours.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += ours[i] ?? 0;
    sy += reference[i] ?? 0;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const dx = (ours[i] ?? 0) - mx;
    const y = reference[i] ?? 0;
    const dy = y - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let maxResidual = 0;
  let sumResidual = 0;
  for (let i = 0; i < n; i++) {
    const residual = Math.abs((reference[i] ?? 0) - (slope * (ours[i] ?? 0) + intercept));
    maxResidual = Math.max(maxResidual, residual);
    sumResidual += residual;
  }
  return {
    slope,
    intercept,
    correlation: sxy / Math.sqrt(sxx * syy),
    maxResidual,
    meanResidual: sumResidual / n,
    referenceRange: maxY - minY,
  };
}

/** Reads the Patient's Name value of an explicit VR little endian file, straight from its bytes. */
export function patientNameOf(bytes: Uint8Array): string | undefined {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = buffer.indexOf(Buffer.from([0x10, 0x00, 0x10, 0x00, 0x50, 0x4e]));
  if (at < 0) return undefined;
  const length = buffer.readUInt16LE(at + 6);
  return buffer
    .subarray(at + 8, at + 8 + length)
    .toString('latin1')
    .trim();
}
