/**
 * Fixtures for the SR and overlay tests: an obviously fake patient and study, source images
 * with "2.25." test UIDs, val knee pictures as the graded images, the independent validators
 * (dciodvfy, dsrdump, dcmj2pnm) and a dcmjs reader for round trips.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { ClassActivationMaps } from '../../src/grading/model.js';
import type { GrayImage } from '../../src/imaging/types.js';
import type {
  AlgorithmIdentity,
  Dataset,
  KneeGrading,
  SourceHeader,
  SourceImage,
} from '../../src/sr/dataset.js';
import { kneeVal } from '../helpers/paths.js';

const run = promisify(execFile);
const TOOL_TIMEOUT_MS = 60_000;

export const fakeHeader: SourceHeader = {
  PatientName: 'Test^Knee',
  PatientID: 'JS-TEST-0001',
  PatientBirthDate: '19600101',
  PatientSex: 'F',
  StudyInstanceUID: '2.25.111111111111111111111111111111111',
  StudyDate: '20240102',
  StudyTime: '101500',
  AccessionNumber: 'JSACC0001',
  ReferringPhysicianName: 'Referrer^Test',
  StudyID: 'JS1',
};

/** Every value that identifies the fake patient; none may appear in any output but the file. */
export const patientValues = ['Test^Knee', 'JS-TEST-0001', '19600101', 'JSACC0001'];

export const algorithm: AlgorithmIdentity = {
  name: 'jointspace-knee-kl',
  version: '1.0.0',
  sha256: 'ab'.repeat(32),
};

export const when = new Date('2024-01-02T11:00:00Z');

const DX_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.1';

export const rightImage: SourceImage = {
  sopClassUid: DX_FOR_PRESENTATION,
  sopInstanceUid: '2.25.222222222222222222222222222222221',
  seriesInstanceUid: '2.25.333333333333333333333333333333331',
  rows: 224,
  columns: 224,
  imageLaterality: 'R',
  viewPosition: 'PA',
  pixelSpacing: { rowMm: 0.15, columnMm: 0.15, source: 'PixelSpacing' },
};

export const leftImage: SourceImage = {
  sopClassUid: DX_FOR_PRESENTATION,
  sopInstanceUid: '2.25.222222222222222222222222222222222',
  seriesInstanceUid: '2.25.333333333333333333333333333333332',
  rows: 224,
  columns: 224,
  imageLaterality: 'L',
};

export const grading: KneeGrading = {
  klGrade: 2,
  probabilities: [0.02, 0.16, 0.71, 0.1, 0.01],
  confidence: 0.71,
  kneeCheck: { accepted: true, reason: 'Knee radiograph: typical knee-likeness (0.93).' },
};

/** A val knee of grade 2 as the 8-bit picture that was graded. */
export async function valPicture(name = '9015402R.png'): Promise<GrayImage> {
  const { data, info } = await sharp(join(kneeVal, '2', name))
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

/** 7 x 7 maps; the map of `grade` is hot in its top left cell only, the others are zero. */
export function camHotTopLeft(grade: number): ClassActivationMaps {
  const size = 7;
  const data = new Float32Array(5 * size * size);
  data[grade * size * size] = 1;
  return { width: size, height: size, data };
}

export interface ToolOutput {
  code: number;
  output: string;
}

/** Runs a validator; stdout and stderr together, and the exit code (not thrown). */
export async function tool(command: string, args: string[]): Promise<ToolOutput> {
  try {
    const { stdout, stderr } = await run(command, args, {
      timeout: TOOL_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    const output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
    return { code: typeof failed.code === 'number' ? failed.code : -1, output };
  }
}

/** Lines of dciodvfy output that report an error (warnings are allowed). */
export function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => line.startsWith('Error'));
}

/** Writes `bytes` into a fresh temporary folder and runs `body` on the file. */
export async function withFile<T>(
  bytes: Uint8Array,
  name: string,
  body: (path: string, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-sr-'));
  try {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return await body(path, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface DcmjsReader {
  data: {
    DicomMessage: { readFile(buffer: ArrayBuffer): { dict: Dataset; meta: Dataset } };
    DicomMetaDictionary: { naturalizeDataset(dict: Dataset): Dataset };
  };
  log: { setLevel(level: number | string, persist?: boolean): void; getLevel(): number };
}

const require = createRequire(import.meta.url);
export const dcmjs = require('dcmjs') as DcmjsReader;

/** The data set of a Part 10 file, naturalized by dcmjs (keywords as keys). */
export function readDataset(bytes: Uint8Array): Dataset {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const message = dcmjs.data.DicomMessage.readFile(buffer as ArrayBuffer);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(message.dict);
}

/** The items of a naturalized sequence (dcmjs gives a lone item as an object). */
export function items(value: unknown): Dataset[] {
  if (Array.isArray(value)) return value as Dataset[];
  return value === undefined || value === null ? [] : [value as Dataset];
}

/**
 * Runs `body` with stdout and stderr captured (console writes through them) and dcmjs's
 * logger at its loudest, and returns what was written.
 */
export async function captureOutput(body: () => Promise<unknown>): Promise<string> {
  const written: string[] = [];
  const streams = [process.stdout, process.stderr];
  const saved = streams.map((stream) => Object.getOwnPropertyDescriptor(stream, 'write'));
  const level = dcmjs.log.getLevel();
  const record = (chunk: unknown): boolean => {
    written.push(String(chunk));
    return true;
  };
  for (const stream of streams) {
    Object.defineProperty(stream, 'write', { value: record, configurable: true, writable: true });
  }
  dcmjs.log.setLevel('trace', false);
  try {
    await body();
  } finally {
    streams.forEach((stream, index) => {
      const descriptor = saved[index];
      if (descriptor === undefined) Reflect.deleteProperty(stream, 'write');
      else Object.defineProperty(stream, 'write', descriptor);
    });
    dcmjs.log.setLevel(level, false);
  }
  return written.join('');
}
