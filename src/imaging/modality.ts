/**
 * Stored values and the Modality LUT stage (PS3.3 C.7.6.3 Image Pixel Module, C.11.1 Modality
 * LUT Module): frame samples → stored values (bits masked, sign extended) → modality values by
 * the Modality LUT Sequence or Rescale Slope/Intercept. Colour frames become luminance.
 */
import type { DicomDataset } from './dicom-parse.js';
import { Tag, type TagKey } from './dicom-tags.js';
import { lookup, readLut, type Lut } from './lut.js';
import { luma } from './luma.js';
import type { FrameSamples } from './pixel-data.js';
import { isMonochrome, type PixelModule } from './pixel-module.js';

export type ModalityTransform =
  | { kind: 'identity' }
  | { kind: 'rescale'; slope: number; intercept: number }
  | { kind: 'lut'; lut: Lut };

const COLOR_SAMPLES = 3;
const YBR_422_SAMPLES_PER_PAIR = 4;

/**
 * Where a frame-level attribute may live, most specific first: the first item of the
 * Per-Frame and then of the Shared Functional Groups Sequence, in the given functional group
 * macro (PS3.3 C.7.6.16), then the top-level data set.
 */
export function macroSources(ds: DicomDataset, macro: TagKey): DicomDataset[] {
  const sources: DicomDataset[] = [];
  for (const groups of [
    Tag.PerFrameFunctionalGroupsSequence,
    Tag.SharedFunctionalGroupsSequence,
  ] as const) {
    const item = ds.items(groups)[0]?.items(macro)[0];
    if (item !== undefined) sources.push(item);
  }
  sources.push(ds);
  return sources;
}

/** Modality LUT Sequence first, then Rescale Slope/Intercept (C.11.1); identity if neither. */
export function readModalityTransform(
  ds: DicomDataset,
  module: PixelModule,
  label: string | undefined,
): ModalityTransform {
  if (!isMonochrome(module.photometric)) return { kind: 'identity' };
  const lutItem = ds.items(Tag.ModalityLUTSequence)[0];
  if (lutItem !== undefined) {
    return {
      kind: 'lut',
      lut: readLut(lutItem, module.signed, 'Modality LUT Sequence (0028,3000)', label),
    };
  }
  for (const source of macroSources(ds, Tag.PixelValueTransformationSequence)) {
    const slope = source.number(Tag.RescaleSlope);
    const intercept = source.number(Tag.RescaleIntercept);
    if (slope !== undefined || intercept !== undefined) {
      return {
        kind: 'rescale',
        slope: slope === undefined || slope === 0 ? 1 : slope,
        intercept: intercept ?? 0,
      };
    }
  }
  return { kind: 'identity' };
}

/** Modality values of a monochrome frame, or luminance of a colour one, one per pixel. */
export function modalityValues(
  frame: FrameSamples,
  module: PixelModule,
  transform: ModalityTransform,
): Float32Array {
  const values = isMonochrome(module.photometric)
    ? storedValues(frame, module)
    : luminance(frame, module);
  applyTransform(values, transform);
  return values;
}

/** Turns a raw sample into its stored value: shift, mask to Bits Stored, sign-extend (PS3.5 8.1.1). */
export function storedValueReader(module: PixelModule, shift: number): (raw: number) => number {
  const range = 2 ** module.bitsStored;
  const half = range / 2;
  const divisor = 2 ** shift;
  return (raw) => {
    const unsigned =
      Math.floor((raw < 0 ? raw + 2 ** module.bitsAllocated : raw) / divisor) % range;
    return module.signed && unsigned >= half ? unsigned - range : unsigned;
  };
}

function storedValues(frame: FrameSamples, module: PixelModule): Float32Array {
  const pixels = module.rows * module.columns;
  const out = new Float32Array(pixels);
  const { samples } = frame;
  if (frame.signed) {
    for (let i = 0; i < pixels; i++) out[i] = samples[i] ?? 0;
    return out;
  }
  const read = storedValueReader(module, frame.shift);
  for (let i = 0; i < pixels; i++) out[i] = read(samples[i] ?? 0);
  return out;
}

/** Luma of RGB (`luma.ts`) or the Y of YBR (C.7.6.3.1.2). */
function luminance(frame: FrameSamples, module: PixelModule): Float32Array {
  const pixels = module.rows * module.columns;
  const out = new Float32Array(pixels);
  const read = frame.signed ? (raw: number) => raw : storedValueReader(module, frame.shift);
  const { samples } = frame;
  if (
    module.photometric === 'YBR_FULL_422' &&
    !frame.colorAsRgb &&
    frame.samples.length < pixels * COLOR_SAMPLES
  ) {
    // Native YBR_FULL_422: Y1 Y2 Cb Cr for each pair of pixels.
    for (let i = 0; i < pixels; i++) {
      out[i] = read(samples[Math.floor(i / 2) * YBR_422_SAMPLES_PER_PAIR + (i % 2)] ?? 0);
    }
    return out;
  }
  const at = frame.planar
    ? (pixel: number, component: number) => samples[component * pixels + pixel] ?? 0
    : (pixel: number, component: number) => samples[pixel * COLOR_SAMPLES + component] ?? 0;
  const rgb = frame.colorAsRgb || module.photometric === 'RGB';
  for (let i = 0; i < pixels; i++) {
    out[i] = rgb ? luma(read(at(i, 0)), read(at(i, 1)), read(at(i, 2))) : read(at(i, 0));
  }
  return out;
}

function applyTransform(values: Float32Array, transform: ModalityTransform): void {
  switch (transform.kind) {
    case 'identity':
      return;
    case 'rescale':
      for (let i = 0; i < values.length; i++)
        values[i] = (values[i] ?? 0) * transform.slope + transform.intercept;
      return;
    case 'lut':
      for (let i = 0; i < values.length; i++) values[i] = lookup(transform.lut, values[i] ?? 0);
      return;
  }
}
