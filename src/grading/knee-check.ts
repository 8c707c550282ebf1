/**
 * The knee check: before grading, decide whether an image is a knee radiograph the grader
 * can grade, and say why in one sentence a radiographer understands.
 *
 * Headers are often missing or wrong, so they refuse an image only where they are decisive
 * (mappings/knee-check.json: a modality or SOP class that cannot be a plain radiograph, such
 * as MR). Everything else is decided from the pixels with the "eigen-knee" model of
 * models/knee-kl/knee-check.json, built from the train split by
 * models/training/knee_check.py (PCA of 32 x 32 area-averaged, standardised thumbnails, as
 * in the eigenface method of Turk & Pentland, 1991). Three statistics of the thumbnail:
 *
 * - residual: share of the image's variance the eigen-knees cannot explain ("distance from
 *   feature space", Moghaddam & Pentland, 1997);
 * - mahalanobis: squared Mahalanobis distance of the eigen-knee coefficients ("distance in
 *   feature space");
 * - correlation: Pearson correlation with the mean knee.
 *
 * Each is normalised to z = (value - train median) / (limit - train median), so 0 is a
 * typical train knee and 1 the acceptance limit, and the knee-likeness score is
 * 0.5 ** max(0, largest z): 1 for a typical knee, 0.5 at the limit (accepted from 0.5 up),
 * halving with every further limit-width.
 *
 * Before the statistics the thumbnail is turned to bone-bright polarity by the sign of its
 * correlation with the mean knee: 70 of 5778 train and 14 of 826 val crops are stored
 * inverted, so an inverted knee is named as such (accepted with polarity 'inverted', or
 * refused, per the policy in mappings/knee-check.json) instead of being called "not a knee".
 * An image that is not knee-like as given but is once turned by 90 or 180 degrees is refused
 * as rotated or upside down.
 *
 * `checkKnee` is pure and does no I/O; its cost is two passes over the pixels plus a few
 * 20 x 1024 dot products: about 1 ms for a 224 x 224 crop, growing linearly with the pixel
 * count (tens of milliseconds for a 5-megapixel radiograph).
 */
import type { DecodedImage, GrayImage, ImageMetadata } from '../imaging/types.js';
import type {
  InvertedPolarityPolicy,
  KneeCheckModel,
  KneeStatistics,
  Limit,
  Polarity,
} from './knee-check-model.js';

export {
  loadKneeCheckModel,
  parseKneeCheckModel,
  type InvertedPolarityPolicy,
  type KneeCheckModel,
  type KneeCheckSelfTest,
  type KneeStatistics,
  type Polarity,
} from './knee-check-model.js';

export interface KneeCheckItem {
  /** Stable identifier: modality, sop-class, size, not-blank, knee-likeness, orientation, polarity. */
  name: string;
  /** False when this check refuses the image. */
  passed: boolean;
  detail: string;
}

export interface KneeCheckVerdict {
  accepted: boolean;
  /** One sentence a radiographer understands; starts with "Knee radiograph" when accepted. */
  reason: string;
  /**
   * Knee-likeness of the pixels: 1 = typical train knee, 0.5 = acceptance limit, lower = less
   * knee-like (0 when it cannot be computed: blank or empty image). Computed on the
   * polarity-corrected image, so an inverted knee still scores high.
   */
  score: number;
  /**
   * Grey-level polarity of the image as given; 'inverted' (bone dark) is only reported for an
   * image that is knee-like once its grey levels are inverted, 'normal' otherwise.
   */
  polarity: Polarity;
  checks: KneeCheckItem[];
}

export interface KneeCheckOptions {
  /** Overrides the policy of mappings/knee-check.json for knees stored inverted. */
  invertedPolarity?: InvertedPolarityPolicy;
}

/** Area-averaging weights along one axis: output cell j covers [j * s, (j + 1) * s), s = source / target. */
interface AxisWeights {
  first: Int32Array;
  count: Int32Array;
  /** Weights of cell j at offset j * stride. */
  weights: Float64Array;
  stride: number;
}

function areaWeights(source: number, target: number): AxisWeights {
  const scale = source / target;
  const stride = Math.ceil(scale) + 1;
  const result: AxisWeights = {
    first: new Int32Array(target),
    count: new Int32Array(target),
    weights: new Float64Array(target * stride),
    stride,
  };
  for (let j = 0; j < target; j++) {
    const low = j * scale;
    const high = (j + 1) * scale;
    const first = Math.floor(low);
    const last = Math.min(source, Math.ceil(high));
    result.first[j] = first;
    result.count[j] = last - first;
    for (let i = first; i < last; i++) {
      const overlap = Math.min(high, i + 1) - Math.max(low, i);
      result.weights[j * stride + i - first] = overlap > 0 ? overlap / scale : 0;
    }
  }
  return result;
}

/**
 * The whole image area-averaged to size x size (aspect not preserved): each source pixel
 * counts with the share of it that falls in the output cell, rows first, then columns.
 * Identical arithmetic to `thumbnail` in models/training/knee_check.py.
 */
export function kneeThumbnail(image: GrayImage, size: number): Float64Array {
  const { width, height, pixels } = image;
  const across = areaWeights(width, size);
  const down = areaWeights(height, size);
  const { weights, stride } = across;
  const rows = new Float64Array(height * size);
  for (let y = 0; y < height; y++) {
    const offset = y * width;
    for (let j = 0; j < size; j++) {
      const start = offset + (across.first[j] ?? 0);
      const count = across.count[j] ?? 0;
      const base = j * stride;
      let sum = 0;
      for (let k = 0; k < count; k++) sum += (weights[base + k] ?? 0) * (pixels[start + k] ?? 0);
      rows[y * size + j] = sum;
    }
  }
  const out = new Float64Array(size * size);
  for (let j = 0; j < size; j++) {
    const first = down.first[j] ?? 0;
    const count = down.count[j] ?? 0;
    for (let k = 0; k < count; k++) {
      const weight = down.weights[j * down.stride + k] ?? 0;
      const row = (first + k) * size;
      for (let x = 0; x < size; x++) {
        out[j * size + x] = (out[j * size + x] ?? 0) + weight * (rows[row + x] ?? 0);
      }
    }
  }
  return out;
}

/** Zero mean, unit population variance, in place; returns false for a constant vector. */
function standardise(values: Float64Array): boolean {
  let sum = 0;
  for (const value of values) sum += value;
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  const std = Math.sqrt(squares / values.length);
  if (!(std > 0)) return false;
  for (let i = 0; i < values.length; i++) values[i] = ((values[i] ?? 0) - mean) / std;
  return true;
}

function pixelStd(image: GrayImage): number {
  const n = image.pixels.length;
  if (n === 0) return 0;
  const pixels = image.pixels;
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const value = pixels[i] ?? 0;
    sum += value;
    squares += value * value;
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(0, squares / n - mean * mean));
}

interface Statistics {
  residual: number;
  mahalanobis: number;
  correlation: number;
  /** Largest normalised statistic: 0 typical, 1 at the limit. */
  z: number;
  score: number;
  /** Combined Gaussian distance mahalanobis + D * residual / rho (orientation test). */
  distance: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] ?? 0) * (b[i] ?? 0);
  return sum;
}

function correlationWithMean(x: Float64Array, model: KneeCheckModel): number {
  return dot(x, model.mean) / Math.sqrt(x.length * dot(model.mean, model.mean));
}

function normalised(value: number, entry: Limit): number {
  return (value - entry.median) / (entry.limit - entry.median);
}

/** The three statistics of a standardised, polarity-normalised thumbnail. */
function statistics(x: Float64Array, model: KneeCheckModel): Statistics {
  const dims = x.length;
  const centred = new Float64Array(dims);
  for (let i = 0; i < dims; i++) centred[i] = (x[i] ?? 0) - (model.mean[i] ?? 0);
  let explained = 0;
  let mahalanobis = 0;
  model.basis.forEach((component, index) => {
    const y = dot(component, centred);
    explained += y * y;
    mahalanobis += (y * y) / (model.eigenvalues[index] ?? 1);
  });
  const residual = Math.max(0, dot(centred, centred) - explained) / dims;
  const correlation = correlationWithMean(x, model);
  const z = Math.max(
    normalised(residual, model.residual),
    normalised(mahalanobis, model.mahalanobis),
    normalised(correlation, model.correlation),
  );
  return {
    residual,
    mahalanobis,
    correlation,
    z,
    score: 0.5 ** Math.max(0, z),
    distance: mahalanobis + (dims * residual) / model.rho,
  };
}

/** Turned by 180 degrees: the row-major vector reversed. */
function turned(x: Float64Array): Float64Array {
  return x.slice().reverse();
}

/** Turned by 90 degrees clockwise (clockwise = true) or counter-clockwise. */
function quarterTurn(x: Float64Array, size: number, clockwise: boolean): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const source = clockwise ? (size - 1 - c) * size + r : c * size + (size - 1 - r);
      out[r * size + c] = x[source] ?? 0;
    }
  }
  return out;
}

/** Standardised thumbnail with bone bright: flipped when it correlates negatively with the mean knee. */
function polarityNormalised(x: Float64Array, model: KneeCheckModel): [Float64Array, Polarity] {
  if (correlationWithMean(x, model) >= 0) return [x, 'normal'];
  return [x.map((value) => -value), 'inverted'];
}

interface Measurement {
  x: { values: Float64Array; polarity: Polarity };
  stats: Statistics;
  /** Statistics of the polarity-normalised thumbnail turned by 180 degrees. */
  upside: Statistics;
}

/** Statistics of a standardised thumbnail: polarity first, then as given and turned. */
function measure(thumbnail: Float64Array, model: KneeCheckModel): Measurement {
  const [values, polarity] = polarityNormalised(thumbnail, model);
  return {
    x: { values, polarity },
    stats: statistics(values, model),
    upside: statistics(turned(values), model),
  };
}

/** Pixel statistics of `image`, or undefined when it is empty or constant. */
export function kneeStatistics(
  image: GrayImage,
  model: KneeCheckModel,
): KneeStatistics | undefined {
  if (image.width <= 0 || image.height <= 0) return undefined;
  const thumbnail = kneeThumbnail(image, model.thumbnailSize);
  if (!standardise(thumbnail)) return undefined;
  const { x, stats, upside } = measure(thumbnail, model);
  return {
    polarity: x.polarity,
    residual: stats.residual,
    mahalanobis: stats.mahalanobis,
    correlation: stats.correlation,
    score: stats.score,
    upsideDownRatio: upside.distance / stats.distance,
  };
}

function accepts(stats: Statistics, model: KneeCheckModel): boolean {
  return stats.score >= model.scoreLimit;
}

const format2 = (value: number): string => value.toFixed(2);
/** A score for a sentence: two decimals, "< 0.01" rather than a misleading "0.00". */
const formatScore = (value: number): string =>
  value > 0 && value < 0.005 ? '< 0.01' : format2(value);
const format3 = (value: number): string => value.toPrecision(3);

function modalityCheck(metadata: ImageMetadata, model: KneeCheckModel): [KneeCheckItem, string?] {
  const { radiographs, refusedModalities, refuseTemplate } = model.header;
  const codes = radiographs.map((rule) => rule.code).join(', ');
  const raw = metadata.modality?.trim().toUpperCase();
  if (raw === undefined || raw === '') {
    return [
      {
        name: 'modality',
        passed: true,
        detail: 'no Modality in the header: decided by the pixels',
      },
    ];
  }
  const refused = refusedModalities.get(raw);
  if (refused !== undefined) {
    const reason = refuseTemplate
      .replace('{code}', refused.code)
      .replace('{name}', refused.name)
      .replace('{radiographs}', codes);
    return [
      {
        name: 'modality',
        passed: false,
        detail: `Modality ${raw} (${refused.name}) is not a radiograph`,
      },
      reason,
    ];
  }
  const radiograph = radiographs.find((rule) => rule.code === raw);
  return [
    {
      name: 'modality',
      passed: true,
      detail:
        radiograph === undefined
          ? `Modality ${raw} is not decisive: decided by the pixels`
          : `Modality ${raw} (${radiograph.name}) is a radiograph`,
    },
  ];
}

function sopClassCheck(metadata: ImageMetadata, model: KneeCheckModel): [KneeCheckItem, string?] {
  const uid = metadata.sopClassUid?.trim();
  if (uid === undefined || uid === '') {
    return [{ name: 'sop-class', passed: true, detail: 'no SOP Class UID: decided by the pixels' }];
  }
  const refused = model.header.refusedSopClasses.get(uid);
  if (refused === undefined) {
    return [{ name: 'sop-class', passed: true, detail: `SOP Class ${uid} may hold a radiograph` }];
  }
  return [
    { name: 'sop-class', passed: false, detail: `SOP Class ${uid} is ${refused.name}` },
    refused.reason,
  ];
}

/** Supporting note from Body Part Examined (never decisive: the tag is often wrong). */
function bodyPartNote(metadata: ImageMetadata, accepted: boolean): string {
  const part = metadata.bodyPartExamined?.trim().toUpperCase();
  if (part === undefined || part === '') return '';
  const isKnee = part.includes('KNEE');
  if (accepted) return isKnee ? '' : ` (note: Body Part Examined says ${part})`;
  return isKnee
    ? `; although Body Part Examined says ${part}`
    : `; Body Part Examined says ${part}`;
}

/**
 * Decides whether `decoded` is a knee radiograph the grader can grade. Header rules first
 * (decisive modality, SOP class), then the pixels: size, blank, knee-likeness,
 * orientation, polarity. The reason names the first check that refused the image.
 */
export function checkKnee(
  decoded: DecodedImage,
  model: KneeCheckModel,
  options: KneeCheckOptions = {},
): KneeCheckVerdict {
  const { image, metadata } = decoded;
  const invertedPolicy = options.invertedPolarity ?? model.invertedPolarity;
  const checks: KneeCheckItem[] = [];
  const reasons: string[] = [];
  const record = ([item, reason]: [KneeCheckItem, string?]): void => {
    checks.push(item);
    if (!item.passed && reason !== undefined) reasons.push(reason);
  };

  record(modalityCheck(metadata, model));
  record(sopClassCheck(metadata, model));

  const { width, height } = image;
  const side = Math.min(width, height);
  record([
    {
      name: 'size',
      passed: side >= model.minSide,
      detail: `${width} x ${height} pixels (at least ${model.minSide} on each side)`,
    },
    `Not gradable: the image is too small (${width} x ${height} pixels; at least ${model.minSide} pixels on each side needed).`,
  ]);

  const std = pixelStd(image);
  const size = model.thumbnailSize;
  const thumbnail =
    width > 0 && height > 0 && image.pixels.length >= width * height
      ? kneeThumbnail(image, size)
      : new Float64Array(size * size);
  const varied = std >= model.minStd && standardise(thumbnail);
  record([
    {
      name: 'not-blank',
      passed: varied,
      detail: `pixel standard deviation ${std.toFixed(1)} (at least ${model.minStd})`,
    },
    `Not a knee radiograph: the image is blank or nearly uniform (pixel standard deviation ${std.toFixed(1)}, at least ${model.minStd} needed).`,
  ]);

  let score = 0;
  let polarity: Polarity = 'normal';
  if (varied) {
    const { x, stats, upside } = measure(thumbnail, model);
    score = stats.score;
    const kneeLike = accepts(stats, model);
    // Polarity is relative to the mean knee, so it means something only for a knee-like image.
    if (kneeLike) polarity = x.polarity;
    const likeness = `knee-likeness ${formatScore(score)}, at least ${format2(model.scoreLimit)} required`;
    record([
      {
        name: 'knee-likeness',
        passed: kneeLike,
        detail:
          `${likeness}; residual ${format3(stats.residual)} (limit ${format3(model.residual.limit)}), ` +
          `mahalanobis ${format3(stats.mahalanobis)} (limit ${format3(model.mahalanobis.limit)}), ` +
          `correlation ${format2(stats.correlation)} (limit ${format2(model.correlation.limit)})`,
      },
      undefined,
    ]);

    // Orientation (polarity kept): is the image a knee once turned? A diagnosis when it is not
    // knee-like as given; a knee-like image is still refused when it fits better upside down
    // (that happens for 1 of 5778 train crops).
    const ratio = upside.distance / stats.distance;
    let orientation: string | undefined;
    if (kneeLike) {
      if (ratio < model.upsideDownRatio) orientation = 'upside down (turned 180 degrees)';
    } else if (accepts(upside, model)) {
      orientation = 'upside down (turned 180 degrees)';
    } else {
      const quarter = [true, false].some((clockwise) =>
        accepts(statistics(quarterTurn(x.values, size, clockwise), model), model),
      );
      if (quarter)
        orientation = 'rotated by 90 degrees (the joint space should run across the image)';
    }
    record([
      {
        name: 'orientation',
        passed: orientation === undefined,
        detail:
          orientation === undefined
            ? `upright (fit as given vs turned 180 degrees: distance ratio ${format2(ratio)})`
            : `appears ${orientation}`,
      },
      orientation === undefined ? undefined : `Not gradable: the image appears ${orientation}.`,
    ]);
    if (!kneeLike && orientation === undefined) {
      reasons.push(
        `Not a knee radiograph: the image does not resemble a knee joint (${likeness}${bodyPartNote(metadata, false)}).`,
      );
    }

    const inverted = polarity === 'inverted';
    record([
      {
        name: 'polarity',
        passed: !inverted || invertedPolicy === 'accept-flagged',
        detail: inverted
          ? `grey levels appear inverted (bone dark); policy ${invertedPolicy}`
          : kneeLike
            ? 'bone bright (normal display polarity)'
            : 'not assessed (the image is not knee-like)',
      },
      'Not gradable: the image appears inverted (bone dark; MONOCHROME1 handled wrongly?).',
    ]);
  }

  const failed = checks.find((item) => !item.passed);
  const accepted = failed === undefined;
  let reason: string;
  if (accepted) {
    const likeness = `knee-likeness ${formatScore(score)}, at least ${format2(model.scoreLimit)} required`;
    reason =
      polarity === 'inverted'
        ? `Knee radiograph, but displayed inverted (bone dark; MONOCHROME1 handled wrongly?): ${likeness}; check the display polarity before relying on the grade${bodyPartNote(metadata, true)}.`
        : `Knee radiograph: ${likeness}${bodyPartNote(metadata, true)}.`;
  } else {
    reason = reasons[0] ?? `Not gradable: the ${failed.name} check failed (${failed.detail}).`;
  }
  return { accepted, reason, score, polarity, checks };
}
