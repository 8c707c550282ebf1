/**
 * The Image Pixel Module (PS3.3 C.7.6.3): what the header says the pixels look like, checked
 * for consistency and against the decode limits before any pixel is touched.
 */
import type { DicomDataset } from './dicom-parse.js';
import { Tag } from './dicom-tags.js';
import { imagingError } from './fail.js';
import { MAX_DECODED_FRAME_BYTES, MAX_IMAGE_SIDE } from './limits.js';

export type Photometric =
  'MONOCHROME1' | 'MONOCHROME2' | 'RGB' | 'YBR_FULL' | 'YBR_FULL_422' | 'YBR_RCT' | 'YBR_ICT';

const MONOCHROME: readonly Photometric[] = ['MONOCHROME1', 'MONOCHROME2'];
const COLOR: readonly Photometric[] = ['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_RCT', 'YBR_ICT'];
const SUPPORTED_BITS_ALLOCATED = [8, 16, 32];
const COLOR_SAMPLES = 3;
const BITS_PER_BYTE = 8;

export interface PixelModule {
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  photometric: Photometric;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** Pixel Representation 1: stored values are two's complement. */
  signed: boolean;
  /** Planar Configuration 1: colour planes one after the other (native data only). */
  planar: boolean;
  numberOfFrames: number;
}

function isPhotometric(value: string): value is Photometric {
  return (
    (MONOCHROME as readonly string[]).includes(value) ||
    (COLOR as readonly string[]).includes(value)
  );
}

export function isMonochrome(photometric: Photometric): boolean {
  return MONOCHROME.includes(photometric);
}

/** Reads and checks the Image Pixel Module of the data set (or of the first frame). */
export function readPixelModule(ds: DicomDataset, label: string | undefined): PixelModule {
  const rows = requireSide(ds, Tag.Rows, 'Rows', label);
  const columns = requireSide(ds, Tag.Columns, 'Columns', label);
  const samples = ds.number(Tag.SamplesPerPixel) ?? 1;
  const photometric = readPhotometric(ds, samples, label);
  const samplesPerPixel = isMonochrome(photometric) ? 1 : COLOR_SAMPLES;
  if (samples !== samplesPerPixel) {
    throw imagingError(
      'invalid-dicom',
      label,
      `Samples per Pixel (0028,0002) is ${samples} but Photometric Interpretation ${photometric} needs ${samplesPerPixel}`,
    );
  }
  const bitsAllocated = ds.number(Tag.BitsAllocated);
  if (bitsAllocated === undefined || !SUPPORTED_BITS_ALLOCATED.includes(bitsAllocated)) {
    throw imagingError(
      bitsAllocated === undefined ? 'invalid-dicom' : 'unsupported-format',
      label,
      `Bits Allocated (0028,0100) is ${bitsAllocated ?? 'missing'}; expected 8, 16 or 32`,
    );
  }
  const bitsStored = ds.number(Tag.BitsStored) ?? bitsAllocated;
  if (!Number.isInteger(bitsStored) || bitsStored < 1 || bitsStored > bitsAllocated) {
    throw imagingError(
      'invalid-dicom',
      label,
      `Bits Stored (0028,0101) is ${bitsStored}; expected 1 to Bits Allocated (${bitsAllocated})`,
    );
  }
  const highBit = ds.number(Tag.HighBit) ?? bitsStored - 1;
  if (!Number.isInteger(highBit) || highBit < bitsStored - 1 || highBit >= bitsAllocated) {
    throw imagingError(
      'invalid-dicom',
      label,
      `High Bit (0028,0102) is ${highBit}; expected ${bitsStored - 1} to ${bitsAllocated - 1} for Bits Stored ${bitsStored}`,
    );
  }
  const representation = ds.number(Tag.PixelRepresentation) ?? 0;
  if (representation !== 0 && representation !== 1) {
    throw imagingError(
      'invalid-dicom',
      label,
      `Pixel Representation (0028,0103) is ${representation}; expected 0 or 1`,
    );
  }
  const frames = ds.number(Tag.NumberOfFrames) ?? 1;
  const module: PixelModule = {
    rows,
    columns,
    samplesPerPixel,
    photometric,
    bitsAllocated,
    bitsStored,
    highBit,
    signed: representation === 1,
    planar: samplesPerPixel > 1 && ds.number(Tag.PlanarConfiguration) === 1,
    numberOfFrames: Number.isInteger(frames) && frames >= 1 ? frames : 1,
  };
  checkFrameSize(module, label);
  return module;
}

function requireSide(
  ds: DicomDataset,
  tag: typeof Tag.Rows | typeof Tag.Columns,
  name: string,
  label: string | undefined,
): number {
  const value = ds.number(tag);
  const display = `${name} (0028,${tag.slice(4)})`;
  if (value === undefined) throw imagingError('invalid-dicom', label, `${display} is missing`);
  if (!Number.isInteger(value) || value < 1) {
    throw imagingError(
      'invalid-dicom',
      label,
      `${display} is ${value}; expected 1 to ${MAX_IMAGE_SIDE}`,
    );
  }
  if (value > MAX_IMAGE_SIDE) {
    throw imagingError(
      'limit-exceeded',
      label,
      `${display} is ${value}; at most ${MAX_IMAGE_SIDE} is decoded`,
    );
  }
  return value;
}

function readPhotometric(
  ds: DicomDataset,
  samples: number,
  label: string | undefined,
): Photometric {
  const value = ds.string(Tag.PhotometricInterpretation)?.toUpperCase();
  if (value === undefined) {
    // Old ACR-NEMA style files omit it; a single sample can only be grayscale.
    if (samples === 1) return 'MONOCHROME2';
    throw imagingError('invalid-dicom', label, 'Photometric Interpretation (0028,0004) is missing');
  }
  if (!isPhotometric(value)) {
    const shown = /^[A-Z0-9_ ]{1,16}$/.test(value) ? value : '(unreadable)';
    throw imagingError(
      'unsupported-format',
      label,
      `Photometric Interpretation (0028,0004) ${shown} is not supported; expected one of ${[...MONOCHROME, ...COLOR].join(', ')}`,
    );
  }
  return value;
}

/** Bytes of one decoded frame; refuses frames beyond MAX_DECODED_FRAME_BYTES. */
function checkFrameSize(module: PixelModule, label: string | undefined): void {
  const bytes = frameSamples(module) * (module.bitsAllocated / BITS_PER_BYTE);
  if (bytes > MAX_DECODED_FRAME_BYTES) {
    throw imagingError(
      'limit-exceeded',
      label,
      `one frame of ${module.columns}x${module.rows}x${module.samplesPerPixel} at ${module.bitsAllocated} bits is ${bytes} bytes; at most ${MAX_DECODED_FRAME_BYTES} is decoded`,
    );
  }
}

/** Samples in one native frame; YBR_FULL_422 stores two luminance and two chroma per pixel pair. */
export function frameSamples(module: PixelModule): number {
  const pixels = module.rows * module.columns;
  return module.photometric === 'YBR_FULL_422' ? pixels * 2 : pixels * module.samplesPerPixel;
}

export function frameBytes(module: PixelModule): number {
  return frameSamples(module) * (module.bitsAllocated / BITS_PER_BYTE);
}
