/**
 * Bone margins of the tibiofemoral joint on a frontal (AP/PA) knee image: the lower margin of
 * the femoral condyles and the upper margin of the tibial plateau, one row per column, found by
 * classical image analysis (no model):
 *
 * 1. Gaussian smoothing, then the joint line: a smooth dark path across the middle 80 % of the
 *    columns through the strongest valleys (darker than the bone above and below it), with a
 *    mild preference for the middle rows.
 * 2. The plateau extent: the run of bright (bone) columns just below the joint line.
 * 3. The joint-space centre line: a dynamic-programming path across the plateau that follows
 *    the darkest band between brighter bone above and below, moving at most two rows per
 *    column.
 * 4. The femoral margin: a second smooth path above the centre line through the strongest
 *    bright-to-dark transition (downwards); the tibial margin: the same below the centre line
 *    through the strongest dark-to-bright transition. Each is refined to a fraction of a pixel
 *    by a parabola through the gradient peak.
 * 5. The intercondylar notch: the column of the middle 40 % of the plateau that is darkest
 *    just above the condyles' typical margin row; it splits the medial and lateral
 *    compartments.
 *
 * Refusals, with a reason: image too small, flat, no joint space (no valley), no plateau of
 * plausible width, margins that are not clear bone edges (low contrast, noise, other anatomy
 * such as a dental film), or a joint line tilted beyond what a frontal view shows.
 *
 * Every length is scaled from a 224-pixel-wide crop showing about 140 mm of knee (the
 * knee-kl crops); much larger images are measured as they are, with the same proportions.
 * Limits: the tibial plateau projects as two rims (anterior and posterior) on most
 * radiographs; the path follows the first strong rim below the joint space, which is what a
 * reader measures on AP views, but beam angle changes which rim that is. Bone-on-bone
 * contact (no dark band left) gives a width near zero with low edge contrast, which the
 * caller turns into a lower quality. Pure; no I/O.
 */
import type { GrayImage } from '../imaging/types.js';

/** Width of the image the parameters below were tuned on. */
export const REFERENCE_WIDTH = 224;

export interface Margins {
  /** Inclusive column range the margins cover (the plateau without its outer rims). */
  first: number;
  last: number;
  /** Row of the femoral margin per column (index = column - first), sub-pixel. */
  femur: Float64Array;
  /** Row of the tibial margin per column, sub-pixel; always below the femoral margin. */
  tibia: Float64Array;
  /** Gradient strength at each margin, per column, in grey levels per pixel. */
  femurEdge: Float64Array;
  tibiaEdge: Float64Array;
  /** Row of the joint line (median row of the joint-line path). */
  jointRow: number;
  /** Median depth of the joint space below the bone either side along the plateau, grey levels. */
  valleyDepth: number;
  /** Column of the intercondylar notch / tibial spines, or undefined when not found. */
  notch: number | undefined;
  /** Columns of the plateau edges found in step 2. */
  plateau: { left: number; right: number };
  /** Median absolute vertical gradient of the smoothed image (noise and texture level). */
  gradientNoise: number;
}

export type MarginFailure =
  | { reason: 'too-small'; detail: string }
  | { reason: 'flat'; detail: string }
  | { reason: 'no-joint-space'; detail: string }
  | { reason: 'no-plateau'; detail: string }
  | { reason: 'low-contrast'; detail: string }
  | { reason: 'tilted'; detail: string };

export type MarginResult =
  { found: true; margins: Margins } | { found: false; failure: MarginFailure };

/** Smallest side measured; below it a joint space is a handful of pixels at most. */
const MIN_SIDE = 96;
/** Pixel standard deviation below which an image is called flat. */
const MIN_STD = 6;
/** Smoothing in reference pixels. */
const SIGMA = 1.2;
/** Joint line searched in this band of rows (fraction of the height). */
const JOINT_SEARCH = [0.25, 0.75] as const;
/** Half-height of the band the paths may use, in reference pixels. */
const BAND = 34;
/** Rows either side used to call a row a valley, in reference pixels. */
const VALLEY_REACH = 9;
/** A valley shallower than this (grey levels) is no joint space. */
const MIN_VALLEY_DEPTH = 2.5;
/** Furthest a margin may lie from the centre line, in reference pixels. */
const MARGIN_REACH = 16;
/**
 * Median margin edge, in multiples of the image's median vertical gradient, below which the
 * margins are not bone edges (val knees: 1st percentile 3.1 for the femur, 3.7 for the tibia;
 * a dental radiograph reaches 2.5).
 */
const MIN_EDGE_RATIO = 2.75;
/**
 * Steepest plausible joint line (rows per column of a least-squares line through the middle of
 * the joint space): about 11 degrees. Val knees: 95th percentile 0.08, 99th 0.11; beyond it
 * the paths follow something else (an implant, a rotated image).
 */
const MAX_TILT = 0.2;
/** Cost of moving one row between neighbouring columns, relative to the median score. */
const STEP_PENALTY = 0.6;

interface Plane {
  width: number;
  height: number;
  data: Float32Array;
}

function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const value = Math.exp(-(i * i) / (2 * sigma * sigma));
    kernel[i + radius] = value;
    sum += value;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] = (kernel[i] ?? 0) / sum;
  return kernel;
}

/** Separable Gaussian blur with edge pixels repeated. */
export function smoothImage(image: GrayImage, sigma: number): Plane {
  const { width, height, pixels } = image;
  const kernel = gaussianKernel(sigma);
  const radius = (kernel.length - 1) / 2;
  // Edges repeat the outermost pixel. Each pass adds the taps in the same order for every
  // pixel (k = -radius .. radius), so the result does not depend on how the loops run; they
  // run over contiguous memory without a bounds clamp per tap.
  const across = new Float32Array(width * height);
  const padded = new Float64Array(width + 2 * radius);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let i = 0; i < padded.length; i++) {
      padded[i] = pixels[row + Math.min(width - 1, Math.max(0, i - radius))] ?? 0;
    }
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < kernel.length; k++) sum += (kernel[k] ?? 0) * (padded[x + k] ?? 0);
      across[row + x] = sum;
    }
  }
  const data = new Float32Array(width * height);
  const sums = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    sums.fill(0);
    for (let k = 0; k < kernel.length; k++) {
      const weight = kernel[k] ?? 0;
      const source = Math.min(height - 1, Math.max(0, y + k - radius)) * width;
      for (let x = 0; x < width; x++) sums[x] = (sums[x] ?? 0) + weight * (across[source + x] ?? 0);
    }
    data.set(sums, y * width);
  }
  return { width, height, data };
}

function at(plane: Plane, x: number, y: number): number {
  const yy = Math.min(plane.height - 1, Math.max(0, y));
  return plane.data[yy * plane.width + x] ?? 0;
}

export function pixelStd(image: GrayImage): number {
  const n = image.width * image.height;
  if (n === 0) return 0;
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const value = image.pixels[i] ?? 0;
    sum += value;
    squares += value * value;
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(0, squares / n - mean * mean));
}

export function median(values: ArrayLike<number>): number {
  // A typed array sorts numerically without a comparator call per step: this runs on
  // whole-image gradient lists, and it was the largest cost of a measurement.
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Valley score per (column, row): how much darker a pixel is than the brighter bone both above and below it. */
function valleyField(
  plane: Plane,
  first: number,
  columns: number,
  top: number,
  bottom: number,
  reach: number,
): Float64Array {
  const field = new Float64Array(columns * plane.height);
  for (let i = 0; i < columns; i++) {
    const x = first + i;
    for (let y = top; y <= bottom; y++) {
      let above = -Infinity;
      let below = -Infinity;
      for (let k = 1; k <= reach; k++) {
        above = Math.max(above, at(plane, x, y - k));
        below = Math.max(below, at(plane, x, y + k));
      }
      field[i * plane.height + y] = Math.min(above, below) - at(plane, x, y);
    }
  }
  return field;
}

/**
 * The joint line: the smooth dark path across the middle 80 % of the columns through the
 * strongest valleys, with a mild preference for the middle rows (where the crops and the
 * localiser put the joint). Returns its median row and the median valley depth along it.
 */
function findJointLine(plane: Plane, scale: number): { row: number; depth: number } {
  const first = Math.round(plane.width * 0.1);
  const columns = Math.round(plane.width * 0.8);
  const top = Math.round(plane.height * JOINT_SEARCH[0]);
  const bottom = Math.round(plane.height * JOINT_SEARCH[1]);
  const reach = Math.max(2, Math.round(VALLEY_REACH * scale));
  const field = valleyField(plane, first, columns, top, bottom, reach);
  const centre = plane.height / 2;
  const typical = positiveMedian(Array.from(field));
  const path = bestPath(
    columns,
    new Int32Array(columns).fill(top),
    new Int32Array(columns).fill(bottom),
    (i, y) =>
      (field[i * plane.height + y] ?? 0) - (typical * Math.abs(y - centre)) / (0.25 * plane.height),
    STEP_PENALTY * typical,
    2,
  );
  const depths = Array.from(path, (y, i) => field[i * plane.height + y] ?? 0);
  return { row: Math.round(median(path)), depth: median(depths) };
}

/**
 * Left and right plateau edges: the outermost columns of the bright run around the middle,
 * from the column profile of a band just below the joint line, thresholded halfway between
 * the darkest soft tissue and the bone.
 */
function findPlateau(
  plane: Plane,
  jointRow: number,
  scale: number,
): { left: number; right: number } | undefined {
  const top = Math.min(plane.height - 1, jointRow + Math.round(6 * scale));
  const bottom = Math.min(plane.height, jointRow + Math.round(22 * scale));
  if (bottom <= top) return undefined;
  const profile = new Float64Array(plane.width);
  for (let x = 0; x < plane.width; x++) {
    let sum = 0;
    for (let y = top; y < bottom; y++) sum += plane.data[y * plane.width + x] ?? 0;
    profile[x] = sum / (bottom - top);
  }
  const sorted = Array.from(profile).sort((a, b) => a - b);
  const low = sorted[Math.floor(sorted.length * 0.05)] ?? 0;
  const high = sorted[Math.floor(sorted.length * 0.8)] ?? 0;
  if (high - low < MIN_VALLEY_DEPTH) return undefined;
  const threshold = (low + high) / 2;
  const middle = Math.floor(plane.width / 2);
  // Start from the brightest column of the central third: the run must contain it.
  let start = middle;
  for (let x = Math.floor(plane.width / 3); x < Math.ceil((2 * plane.width) / 3); x++) {
    if ((profile[x] ?? 0) > (profile[start] ?? 0)) start = x;
  }
  if ((profile[start] ?? 0) < threshold) return undefined;
  let left = start;
  while (left > 0 && (profile[left - 1] ?? 0) >= threshold) left--;
  let right = start;
  while (right < plane.width - 1 && (profile[right + 1] ?? 0) >= threshold) right++;
  return { left, right };
}

/**
 * Dynamic programming over columns: the row path maximising the sum of `score` minus a
 * penalty per row moved, at most `maxStep` rows between neighbouring columns, each row
 * restricted to [low[i], high[i]].
 */
function bestPath(
  columns: number,
  low: Int32Array,
  high: Int32Array,
  score: (column: number, row: number) => number,
  penalty: number,
  maxStep: number,
): Int32Array {
  const rows = Math.max(...Array.from(high)) + 1;
  let previous = new Float64Array(rows).fill(-Infinity);
  const back = new Int32Array(columns * rows).fill(-1);
  for (let y = low[0] ?? 0; y <= (high[0] ?? 0); y++) previous[y] = score(0, y);
  for (let i = 1; i < columns; i++) {
    const current = new Float64Array(rows).fill(-Infinity);
    for (let y = low[i] ?? 0; y <= (high[i] ?? 0); y++) {
      let best = -Infinity;
      let from = -1;
      for (let d = -maxStep; d <= maxStep; d++) {
        const value = (previous[y + d] ?? -Infinity) - penalty * Math.abs(d);
        if (value > best) {
          best = value;
          from = y + d;
        }
      }
      if (from < 0) continue;
      current[y] = best + score(i, y);
      back[i * rows + y] = from;
    }
    previous = current;
  }
  const path = new Int32Array(columns);
  let row = 0;
  let best = -Infinity;
  previous.forEach((value, y) => {
    if (value > best) {
      best = value;
      row = y;
    }
  });
  for (let i = columns - 1; i >= 0; i--) {
    path[i] = row;
    row = back[i * rows + row] ?? row;
  }
  return path;
}

/** Vertical gradient of the smoothed image (central difference), positive for dark-to-bright downwards. */
function gradientY(plane: Plane, x: number, y: number): number {
  return (at(plane, x, y + 1) - at(plane, x, y - 1)) / 2;
}

/** Sub-pixel offset of a peak from the values either side (parabola through three points). */
function parabolaOffset(before: number, peak: number, after: number): number {
  const curvature = before - 2 * peak + after;
  if (curvature >= 0) return 0;
  return Math.max(-0.5, Math.min(0.5, (before - after) / (2 * curvature)));
}

function positiveMedian(values: number[]): number {
  const positive = values.filter((value) => value > 0);
  return positive.length === 0 ? 1 : median(positive);
}

/** Finds the femoral and tibial margins, or says why not. */
export function findMargins(image: GrayImage): MarginResult {
  const { width, height } = image;
  if (Math.min(width, height) < MIN_SIDE) {
    return {
      found: false,
      failure: {
        reason: 'too-small',
        detail: `the image is ${width} x ${height} pixels; at least ${MIN_SIDE} on each side are needed`,
      },
    };
  }
  const std = pixelStd(image);
  if (std < MIN_STD) {
    return {
      found: false,
      failure: {
        reason: 'flat',
        detail: `the image is nearly uniform (pixel standard deviation ${std.toFixed(1)}, at least ${MIN_STD} needed)`,
      },
    };
  }
  const scale = width / REFERENCE_WIDTH;
  const plane = smoothImage(image, SIGMA * scale);

  const joint = findJointLine(plane, scale);
  if (!(joint.depth >= MIN_VALLEY_DEPTH / 2)) {
    return {
      found: false,
      failure: {
        reason: 'no-joint-space',
        detail: `no dark joint line between brighter bone near the middle of the image (valley depth ${Math.max(0, joint.depth).toFixed(1)} grey levels, at least ${MIN_VALLEY_DEPTH} needed)`,
      },
    };
  }

  const plateau = findPlateau(plane, joint.row, scale);
  if (plateau === undefined || plateau.right - plateau.left < width * 0.3) {
    return {
      found: false,
      failure: {
        reason: 'no-plateau',
        detail: 'no tibial plateau of plausible width found below the joint line',
      },
    };
  }
  // The outer rims carry osteophytes and soft-tissue overlap: leave 3 % of the width each side.
  const trim = Math.round((plateau.right - plateau.left) * 0.03);
  const first = plateau.left + trim;
  const last = plateau.right - trim;
  const columns = last - first + 1;

  const band = Math.round(BAND * scale);
  const reach = Math.max(3, Math.round(VALLEY_REACH * scale));
  const top = Math.max(1, joint.row - band);
  const bottom = Math.min(height - 2, joint.row + band);

  const valleys = valleyField(plane, first, columns, top, bottom, reach);
  const gradients: number[] = [];
  for (let i = 0; i < columns; i++) {
    for (let y = top; y <= bottom; y++) gradients.push(Math.abs(gradientY(plane, first + i, y)));
  }
  const gradientNoise = Math.max(0.1, median(gradients));
  const centre = bestPath(
    columns,
    new Int32Array(columns).fill(top),
    new Int32Array(columns).fill(bottom),
    (i, y) => valleys[i * height + y] ?? 0,
    STEP_PENALTY * positiveMedian(Array.from(valleys)),
    2,
  );
  const valleyDepth = median(Array.from(centre, (y, i) => valleys[i * height + y] ?? 0));
  if (!(valleyDepth >= MIN_VALLEY_DEPTH)) {
    return {
      found: false,
      failure: {
        reason: 'no-joint-space',
        detail: `no dark joint space between femur and tibia (median valley depth ${Math.max(0, valleyDepth).toFixed(1)} grey levels along the joint, at least ${MIN_VALLEY_DEPTH} needed)`,
      },
    };
  }

  const marginReach = Math.max(4, Math.round(MARGIN_REACH * scale));
  const edgePenalty = STEP_PENALTY * gradientNoise;
  const femurLow = centre.map((y) => Math.max(1, y - marginReach));
  const femurHigh = centre.map((y) => Math.max(1, y));
  const femurRows = bestPath(
    columns,
    femurLow,
    femurHigh,
    (i, y) => -gradientY(plane, first + i, y),
    edgePenalty,
    2,
  );
  const tibiaLow = centre.map((y, i) => Math.max(y, (femurRows[i] ?? y) + 1));
  const tibiaHigh = centre.map((y, i) =>
    Math.max(tibiaLow[i] ?? y, Math.min(height - 2, y + marginReach)),
  );
  const tibiaRows = bestPath(
    columns,
    tibiaLow,
    tibiaHigh,
    (i, y) => gradientY(plane, first + i, y),
    edgePenalty,
    2,
  );

  const femur = new Float64Array(columns);
  const tibia = new Float64Array(columns);
  const femurEdge = new Float64Array(columns);
  const tibiaEdge = new Float64Array(columns);
  for (let i = 0; i < columns; i++) {
    const x = first + i;
    const yf = femurRows[i] ?? 0;
    const yt = tibiaRows[i] ?? 0;
    const f = [
      -gradientY(plane, x, yf - 1),
      -gradientY(plane, x, yf),
      -gradientY(plane, x, yf + 1),
    ];
    const t = [gradientY(plane, x, yt - 1), gradientY(plane, x, yt), gradientY(plane, x, yt + 1)];
    femur[i] = yf + parabolaOffset(f[0] ?? 0, f[1] ?? 0, f[2] ?? 0);
    tibia[i] = Math.max(femur[i] ?? 0, yt + parabolaOffset(t[0] ?? 0, t[1] ?? 0, t[2] ?? 0));
    femurEdge[i] = f[1] ?? 0;
    tibiaEdge[i] = t[1] ?? 0;
  }

  const edgeRatio = Math.min(median(femurEdge), median(tibiaEdge)) / gradientNoise;
  if (!(edgeRatio >= MIN_EDGE_RATIO)) {
    return {
      found: false,
      failure: {
        reason: 'low-contrast',
        detail: `the femoral and tibial margins are not clear bone edges (median edge ${edgeRatio.toFixed(1)} times the typical gradient, at least ${MIN_EDGE_RATIO} needed)`,
      },
    };
  }

  const tilt = jointTilt(femur, tibia);
  if (!(Math.abs(tilt) <= MAX_TILT)) {
    const degrees = (Math.atan(Math.abs(tilt)) * 180) / Math.PI;
    return {
      found: false,
      failure: {
        reason: 'tilted',
        detail: `the joint line found is tilted by ${degrees.toFixed(0)} degrees (at most ${((Math.atan(MAX_TILT) * 180) / Math.PI).toFixed(0)} is plausible on a frontal view): the margins probably follow something else, such as an implant`,
      },
    };
  }

  return {
    found: true,
    margins: {
      first,
      last,
      femur,
      tibia,
      femurEdge,
      tibiaEdge,
      jointRow: joint.row,
      valleyDepth,
      notch: findNotch(plane, femur, first, plateau),
      plateau,
      gradientNoise,
    },
  };
}

/** Slope (rows per column) of the least-squares line through the joint space's middle. */
function jointTilt(femur: Float64Array, tibia: Float64Array): number {
  const n = femur.length;
  const meanX = (n - 1) / 2;
  let meanY = 0;
  for (let i = 0; i < n; i++) meanY += ((femur[i] ?? 0) + (tibia[i] ?? 0)) / 2 / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const y = ((femur[i] ?? 0) + (tibia[i] ?? 0)) / 2;
    sxy += (i - meanX) * (y - meanY);
    sxx += (i - meanX) ** 2;
  }
  return sxx > 0 ? sxy / sxx : 0;
}

/**
 * The intercondylar notch: in the middle 40 % of the plateau, the column whose band just
 * above the femoral margin is darkest relative to the condyles (the notch is a dark arch
 * between two bright condyles), smoothed over a few columns.
 */
function findNotch(
  plane: Plane,
  femur: Float64Array,
  first: number,
  plateau: { left: number; right: number },
): number | undefined {
  const span = plateau.right - plateau.left;
  const from = Math.round(plateau.left + span * 0.3);
  const to = Math.round(plateau.left + span * 0.7);
  const scale = plane.width / REFERENCE_WIDTH;
  const depth = Math.round(14 * scale);
  const darkness = new Float64Array(to - from + 1);
  // The band sits on the condyles' typical margin row: inside bone for a condyle, in the
  // dark arch for the notch.
  const base = Math.round(median(femur)) - Math.round(2 * scale);
  for (let x = from; x <= to; x++) {
    if (x - first < 0 || x - first >= femur.length) return undefined;
    let sum = 0;
    for (let y = base - depth; y < base; y++) sum += at(plane, x, y);
    darkness[x - from] = -sum / depth;
  }
  const radius = Math.max(1, Math.round(3 * scale));
  let best = -Infinity;
  let column: number | undefined;
  for (let i = 0; i < darkness.length; i++) {
    let sum = 0;
    let count = 0;
    for (let k = -radius; k <= radius; k++) {
      const value = darkness[i + k];
      if (value !== undefined) {
        sum += value;
        count++;
      }
    }
    const mean = sum / Math.max(1, count);
    if (mean > best) {
      best = mean;
      column = from + i;
    }
  }
  return column;
}
