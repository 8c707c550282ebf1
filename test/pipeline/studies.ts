/**
 * Studies for the pipeline tests: knee DX instances made from val crops (fake patients, fresh
 * UIDs), an instance whose pixel data is cut short, and samples of other body parts moved into
 * a study with dcmtk's dcmodify.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { kneeVal, dicomSamples } from '../helpers/paths.js';
import {
  imageElements,
  pixelData,
  words,
  writeDicom,
  type Element,
} from '../imaging/dicom-writer.js';

const run = promisify(execFile);
const BITS_STORED = 12;
const DX_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.1';

/** A fresh UID under 2.25 (PS3.5 B.2): a random 120-bit integer. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`).toString()}`;
}

export interface KneeImageSpec {
  /** A val crop; the first of grade 2 by default. */
  picture?: string;
  /** Image Laterality; omitted from the header when null. */
  laterality?: 'R' | 'L' | 'B' | null;
  /** Pixel Spacing in mm (default 0.15). */
  pixelSpacing?: number;
  view?: string;
  bodyPart?: string;
}

export interface TestStudy {
  studyInstanceUid: string;
  patientId: string;
  instances: { sopInstanceUid: string; seriesInstanceUid: string; bytes: Uint8Array }[];
}

export async function valPictures(grade: number, count: number): Promise<string[]> {
  const names = (await readdir(join(kneeVal, String(grade))))
    .filter((name) => name.endsWith('.png'))
    .sort();
  return names.slice(0, count).map((name) => join(kneeVal, String(grade), name));
}

/** One knee study: one series, one DX instance per spec. */
export async function kneeStudy(
  images: KneeImageSpec[],
  patientId = 'JS-PIPE-0001',
  studyDate = '20240102',
): Promise<TestStudy> {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const defaultPicture = (await valPictures(2, 1))[0] ?? '';
  const instances = [];
  for (const [index, spec] of images.entries()) {
    const sopInstanceUid = newUid();
    const { data, info } = await sharp(spec.picture ?? defaultPicture)
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const pixels = words(Array.from(data, (value) => value << (BITS_STORED - 8)));
    const extra: Element[] = [
      ...header(
        studyInstanceUid,
        seriesInstanceUid,
        sopInstanceUid,
        patientId,
        index + 1,
        studyDate,
      ),
      { tag: 0x00180015, vr: 'CS', value: spec.bodyPart ?? 'KNEE' },
      { tag: 0x00185101, vr: 'CS', value: spec.view ?? 'PA' },
      {
        tag: 0x00280030,
        vr: 'DS',
        value: `${spec.pixelSpacing ?? 0.15}\\${spec.pixelSpacing ?? 0.15}`,
      },
    ];
    if (spec.laterality !== null) {
      extra.push({ tag: 0x00200062, vr: 'CS', value: spec.laterality ?? 'R' });
    }
    const elements = imageElements({
      rows: info.height,
      columns: info.width,
      bitsAllocated: 16,
      bitsStored: BITS_STORED,
      extra,
    });
    instances.push({
      sopInstanceUid,
      seriesInstanceUid,
      bytes: writeDicom([...elements, pixelData(pixels)]),
    });
  }
  return { studyInstanceUid, patientId, instances };
}

/** A DX instance of `study` whose Pixel Data holds half the bytes its header promises. */
export function truncatedInstance(study: TestStudy): TestStudy['instances'][number] {
  const seriesInstanceUid = newUid();
  const sopInstanceUid = newUid();
  const rows = 224;
  const columns = 224;
  const elements = imageElements({
    rows,
    columns,
    bitsAllocated: 16,
    bitsStored: BITS_STORED,
    extra: [
      ...header(study.studyInstanceUid, seriesInstanceUid, sopInstanceUid, study.patientId, 50),
      { tag: 0x00180015, vr: 'CS', value: 'KNEE' },
      { tag: 0x00185101, vr: 'CS', value: 'PA' },
      { tag: 0x00200062, vr: 'CS', value: 'L' },
    ],
  });
  const half = new Uint8Array(rows * columns); // 2 bytes per pixel expected
  return { sopInstanceUid, seriesInstanceUid, bytes: writeDicom([...elements, pixelData(half)]) };
}

/** A sample of `dicom-samples/` moved into `study` (new series and instance UIDs). */
export async function sampleInStudy(
  name: string,
  study: TestStudy,
): Promise<TestStudy['instances'][number]> {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-sample-'));
  try {
    const file = join(dir, 'sample.dcm');
    await copyFile(join(dicomSamples, name), file);
    const seriesInstanceUid = newUid();
    const sopInstanceUid = newUid();
    await run(
      'dcmodify',
      [
        '--no-backup',
        '-i',
        `(0020,000D)=${study.studyInstanceUid}`,
        '-i',
        `(0020,000E)=${seriesInstanceUid}`,
        '-i',
        `(0008,0018)=${sopInstanceUid}`,
        '-i',
        `(0010,0020)=${study.patientId}`,
        file,
      ],
      { timeout: 60_000 },
    );
    return { sopInstanceUid, seriesInstanceUid, bytes: new Uint8Array(await readFile(file)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function header(
  study: string,
  series: string,
  sop: string,
  patientId: string,
  instanceNumber: number,
  studyDate = '20240102',
): Element[] {
  return [
    { tag: 0x00080016, vr: 'UI', value: DX_FOR_PRESENTATION },
    { tag: 0x00080018, vr: 'UI', value: sop },
    { tag: 0x00080020, vr: 'DA', value: studyDate },
    { tag: 0x00080030, vr: 'TM', value: '101500' },
    { tag: 0x00080050, vr: 'SH', value: 'JSPIPE1' },
    { tag: 0x00080060, vr: 'CS', value: 'DX' },
    { tag: 0x00080068, vr: 'CS', value: 'FOR PRESENTATION' },
    { tag: 0x00080090, vr: 'PN', value: '' },
    { tag: 0x00100010, vr: 'PN', value: 'Pipeline^Test' },
    { tag: 0x00100020, vr: 'LO', value: patientId },
    { tag: 0x00100030, vr: 'DA', value: '19600101' },
    { tag: 0x00100040, vr: 'CS', value: 'F' },
    { tag: 0x0020000d, vr: 'UI', value: study },
    { tag: 0x0020000e, vr: 'UI', value: series },
    { tag: 0x00200010, vr: 'SH', value: 'JSP1' },
    { tag: 0x00200011, vr: 'IS', value: '1' },
    { tag: 0x00200013, vr: 'IS', value: String(instanceNumber) },
  ];
}
