/**
 * Knee DX instances for the DICOMweb tests: the first grade-2 val picture wrapped as a
 * Digital X-Ray Image (For Presentation), 16 bits allocated, 12 stored, of the fake patient
 * "Test^Knee" and study of test/sr/fixtures.ts, so that an SR built from those fixtures
 * references this very image. `compressWithDcmtk` makes a compressed copy with dcmtk.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { InstanceReference } from '../../src/dicomweb/client.js';
import { kneeVal } from '../helpers/paths.js';
import { imageElements, pixelData, words, writeDicom } from '../imaging/dicom-writer.js';
import { fakeHeader, rightImage } from '../sr/fixtures.js';

const run = promisify(execFile);

export const DIGITAL_XRAY_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.1';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';
export const JPEG_LS_LOSSLESS = '1.2.840.10008.1.2.4.80';
export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';

/** Bits Stored of the instance; the 8-bit picture is shifted up to fill them. */
const BITS_STORED = 12;

export const kneePicture = join(
  kneeVal,
  '2',
  readdirSync(join(kneeVal, '2'))
    .filter((name) => name.endsWith('.png'))
    .sort()[0] ?? 'missing.png',
);

export interface KneeInstance {
  /** The Part 10 file. */
  bytes: Uint8Array;
  reference: InstanceReference;
  rows: number;
  columns: number;
  /** The native Pixel Data: 16-bit little-endian words, row by row. */
  pixels: Uint8Array;
}

/** The knee DX; `uids` moves it to another series or instance of the same study. */
export async function kneeDx(
  uids: { seriesInstanceUid?: string; sopInstanceUid?: string } = {},
): Promise<KneeInstance> {
  const { data, info } = await sharp(kneePicture)
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pixels = words(Array.from(data, (value) => value << (BITS_STORED - 8)));
  const reference = {
    studyInstanceUid: fakeHeader.StudyInstanceUID,
    seriesInstanceUid: uids.seriesInstanceUid ?? rightImage.seriesInstanceUid,
    sopInstanceUid: uids.sopInstanceUid ?? rightImage.sopInstanceUid,
  };

  const elements = imageElements({
    rows: info.height,
    columns: info.width,
    bitsAllocated: 16,
    bitsStored: BITS_STORED,
    extra: [
      { tag: 0x00080016, vr: 'UI', value: DIGITAL_XRAY_FOR_PRESENTATION }, // SOP Class UID
      { tag: 0x00080018, vr: 'UI', value: reference.sopInstanceUid }, // SOP Instance UID
      { tag: 0x00080020, vr: 'DA', value: fakeHeader.StudyDate }, // Study Date
      { tag: 0x00080030, vr: 'TM', value: fakeHeader.StudyTime }, // Study Time
      { tag: 0x00080050, vr: 'SH', value: fakeHeader.AccessionNumber }, // Accession Number
      { tag: 0x00080060, vr: 'CS', value: 'DX' }, // Modality
      { tag: 0x00080068, vr: 'CS', value: 'FOR PRESENTATION' }, // Presentation Intent Type
      { tag: 0x00080090, vr: 'PN', value: fakeHeader.ReferringPhysicianName }, // Referring Phys.
      { tag: 0x00100010, vr: 'PN', value: fakeHeader.PatientName }, // Patient's Name
      { tag: 0x00100020, vr: 'LO', value: fakeHeader.PatientID }, // Patient ID
      { tag: 0x00100030, vr: 'DA', value: fakeHeader.PatientBirthDate }, // Birth Date
      { tag: 0x00100040, vr: 'CS', value: fakeHeader.PatientSex }, // Patient's Sex
      { tag: 0x00180015, vr: 'CS', value: 'KNEE' }, // Body Part Examined
      { tag: 0x00181164, vr: 'DS', value: '0.15\\0.15' }, // Imager Pixel Spacing
      { tag: 0x00185101, vr: 'CS', value: rightImage.viewPosition ?? 'PA' }, // View Position
      { tag: 0x0020000d, vr: 'UI', value: reference.studyInstanceUid }, // Study Instance UID
      { tag: 0x0020000e, vr: 'UI', value: reference.seriesInstanceUid }, // Series Instance UID
      { tag: 0x00200010, vr: 'SH', value: fakeHeader.StudyID }, // Study ID
      { tag: 0x00200011, vr: 'IS', value: '1' }, // Series Number
      { tag: 0x00200013, vr: 'IS', value: '1' }, // Instance Number
      { tag: 0x00200062, vr: 'CS', value: rightImage.imageLaterality ?? 'R' }, // Image Laterality
      { tag: 0x00280030, vr: 'DS', value: '0.15\\0.15' }, // Pixel Spacing
    ],
  });

  return {
    bytes: writeDicom([...elements, pixelData(pixels)]),
    reference,
    rows: info.height,
    columns: info.width,
    pixels,
  };
}

/**
 * Compresses a Part 10 file with a dcmtk tool, each lossless by default: `dcmcjpls` (JPEG-LS),
 * `dcmcjpeg` (JPEG Lossless, First-Order Prediction) or `dcmcrle` (RLE).
 */
export async function compressWithDcmtk(tool: string, bytes: Uint8Array): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-dcmtk-'));
  try {
    const input = join(dir, 'in.dcm');
    const output = join(dir, 'out.dcm');
    await writeFile(input, bytes);
    await run(tool, [input, output], { timeout: 60_000 });
    return new Uint8Array(await readFile(output));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
