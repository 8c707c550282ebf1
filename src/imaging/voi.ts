/**
 * The VOI LUT stage (PS3.3 C.11.2) and display polarity: modality values → 8-bit display
 * values with bone bright.
 *
 * Order of preference: the first Window Center/Width pair, with its VOI LUT Function
 * (C.11.2.1.2, C.11.2.1.3); else the first VOI LUT Sequence item; else a default window over
 * the 0.5th to 99.5th percentile of the modality values. MONOCHROME1 is then inverted so that
 * high attenuation shows bright, as in MONOCHROME2 (C.7.6.3.1.2).
 */
import type { DicomDataset } from './dicom-parse.js';
import { Tag } from './dicom-tags.js';
import { imagingError } from './fail.js';
import type { GrayImage } from './types.js';
import { lookup, lutMaxOutput, readLut, type Lut } from './lut.js';
import { macroSources } from './modality.js';
import { isMonochrome, type PixelModule } from './pixel-module.js';

export type WindowFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export type VoiTransform =
  | {
      kind: 'window';
      center: number;
      width: number;
      function: WindowFunction;
      source: 'header' | 'default';
    }
  | { kind: 'lut'; lut: Lut; maxOutput: number };

const DISPLAY_MAX = 255;
const LOW_PERCENTILE = 0.005;
const HIGH_PERCENTILE = 0.995;
const HISTOGRAM_BINS = 65536;
/** Factor in the sigmoid VOI function, y = ymax / (1 + exp(−4 (x − c) / w)) (C.11.2.1.3.1). */
const SIGMOID_SLOPE = 4;

/** The VOI the header asks for, or undefined when it gives none usable. */
export function readVoi(
  ds: DicomDataset,
  module: PixelModule,
  label: string | undefined,
): VoiTransform | undefined {
  if (!isMonochrome(module.photometric)) return undefined;
  for (const source of macroSources(ds, Tag.FrameVOILUTSequence)) {
    const center = source.number(Tag.WindowCenter);
    const width = source.number(Tag.WindowWidth);
    if (center === undefined || width === undefined) continue;
    const fn = readWindowFunction(source.string(Tag.VOILUTFunction));
    if (fn === 'LINEAR' ? width >= 1 : width > 0) {
      return { kind: 'window', center, width, function: fn, source: 'header' };
    }
  }
  const lutItem = ds.items(Tag.VOILUTSequence)[0];
  if (lutItem !== undefined) {
    const lut = readLut(lutItem, module.signed, 'VOI LUT Sequence (0028,3010)', label);
    return { kind: 'lut', lut, maxOutput: lutMaxOutput(lut) };
  }
  return undefined;
}

function readWindowFunction(value: string | undefined): WindowFunction {
  const upper = value?.toUpperCase();
  return upper === 'LINEAR_EXACT' || upper === 'SIGMOID' ? upper : 'LINEAR';
}

/**
 * A window over the 0.5th–99.5th percentile of the values, robust to a few extreme pixels
 * (collimator edges, burnt-in labels). Percentiles come from a fixed-size histogram.
 */
export function defaultWindow(values: Float32Array): VoiTransform {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  if (!(max > min))
    return { kind: 'window', center: min, width: 1, function: 'LINEAR_EXACT', source: 'default' };
  const scale = (HISTOGRAM_BINS - 1) / (max - min);
  const histogram = new Uint32Array(HISTOGRAM_BINS);
  for (const value of values) {
    const bin = Math.floor((value - min) * scale);
    histogram[bin] = (histogram[bin] ?? 0) + 1;
  }
  const low = percentileBin(histogram, values.length * LOW_PERCENTILE);
  const high = percentileBin(histogram, values.length * HIGH_PERCENTILE);
  const lowValue = min + low / scale;
  const highValue = Math.max(min + (high + 1) / scale, lowValue + Number.EPSILON);
  return {
    kind: 'window',
    center: (lowValue + highValue) / 2,
    width: highValue - lowValue,
    function: 'LINEAR_EXACT',
    source: 'default',
  };
}

function percentileBin(histogram: Uint32Array, rank: number): number {
  let seen = 0;
  for (let bin = 0; bin < histogram.length; bin++) {
    seen += histogram[bin] ?? 0;
    if (seen > rank) return bin;
  }
  return histogram.length - 1;
}

/** The window over the full range of stored values, for colour images (no VOI applies). */
export function fullRangeWindow(module: PixelModule): VoiTransform {
  const top = 2 ** module.bitsStored - 1;
  return {
    kind: 'window',
    center: top / 2,
    width: top,
    function: 'LINEAR_EXACT',
    source: 'default',
  };
}

/** A function from modality value to display value in [0, 1]. */
function voiFunction(voi: VoiTransform): (x: number) => number {
  if (voi.kind === 'lut') return (x) => lookup(voi.lut, x) / voi.maxOutput;
  const { center: c, width: w } = voi;
  switch (voi.function) {
    case 'LINEAR': {
      // C.11.2.1.2.1: uses c − 0.5 and w − 1 so that integer inputs map symmetrically.
      const low = c - 0.5 - (w - 1) / 2;
      const high = c - 0.5 + (w - 1) / 2;
      if (w <= 1) return (x) => (x <= low ? 0 : 1);
      return (x) => (x <= low ? 0 : x > high ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5);
    }
    case 'LINEAR_EXACT': {
      // C.11.2.1.3.2
      const low = c - w / 2;
      const high = c + w / 2;
      return (x) => (x <= low ? 0 : x > high ? 1 : (x - c) / w + 0.5);
    }
    case 'SIGMOID':
      // C.11.2.1.3.1
      return (x) => 1 / (1 + Math.exp((-SIGMOID_SLOPE * (x - c)) / w));
  }
}

/** Applies the VOI and display polarity to modality values. */
export function renderGray(
  values: Float32Array,
  width: number,
  height: number,
  voi: VoiTransform,
  invert: boolean,
  label: string | undefined,
): GrayImage {
  if (values.length !== width * height) {
    throw imagingError(
      'decode-failed',
      label,
      `${values.length} values for a ${width}x${height} image`,
    );
  }
  const f = voiFunction(voi);
  const pixels = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const y = Math.round(Math.min(1, Math.max(0, f(values[i] ?? 0))) * DISPLAY_MAX);
    pixels[i] = invert ? DISPLAY_MAX - y : y;
  }
  return { width, height, pixels };
}
