/**
 * Knee joint localisation on a frontal radiograph: finds each knee joint (one knee with its
 * long-bone shafts, or both knees of a standing bilateral AP/PA view), names its side, and
 * cuts a square crop of fixed physical size around it, DeepKnee style (about 140 mm), scaled
 * to the model's input size.
 *
 * Classical image analysis, no model:
 *
 * 1. A working copy at most 512 pixels on its longer side, smoothed.
 * 2. Legs: the column profile (mean of each column) is split at its deepest dip in the middle
 *    40 % of the width when the dip is deep enough to be the gap between two legs; each part
 *    holds one leg, whose extent is the bright run of columns around its brightest column.
 * 3. Joint row, coarse: within the leg's central columns, the row profile's deepest valley
 *    (the joint space, darker than the condyles above and the plateau below); the two next
 *    best valleys are kept as fallbacks.
 * 4. Refinement: a square around the candidate is resampled to 224 pixels and handed to the
 *    margin finder of src/measurement/margins.ts; the plateau centre and joint line it finds
 *    give a better centre and the plateau width a better crop size; twice.
 * 5. Centre convention: the knee-kl crops (Chen et al. 2019, from OAI) put the crop centre
 *    about 9.5 % of the plateau width above the joint line and 1.325 plateau widths across;
 *    the localiser reproduces that so that its crops match what the grader was trained on.
 *
 * Size: `cropMm` / Pixel Spacing when the spacing is known; otherwise 1.325 times the plateau
 * width found (a size relative to the bone, said so in `sizeSource` and the notes).
 *
 * Laterality of a bilateral image: radiological convention (the patient's right on the image
 * left) unless Patient Orientation (0020,0020) says the rows run towards the patient's right
 * (a mirrored image). A single knee gets Image Laterality when the caller passes it, else none:
 * the laterality model (laterality.ts) decides then.
 *
 * Limits, stated plainly: validated only on composites built from the knee-kl crops (two knees
 * side by side with synthetic shafts, offsets, scales, small rotations, noise, burned-in
 * marks; scripts/bench-jsw.ts); real full-size radiographs remain to be validated. Rotation is
 * not corrected (crops stay axis-aligned). Lateral views, flexed knees and more than two knees
 * are not handled. Each crop is refused unless the margin finder sees a joint in it and the
 * knee check (knee-check.ts) accepts it: without that check a chest or dental film can offer
 * a dark band between bright structures that looks like a joint. Pure; no I/O.
 */
import { JointspaceError } from '../errors.js';
import { resizeBilinear } from './preprocess.js';
import { checkKnee, type KneeCheckModel, type KneeCheckVerdict } from './knee-check.js';
import { findMargins, median, smoothImage, type Margins } from '../measurement/margins.js';
import type { GrayImage, PixelSpacing } from '../imaging/types.js';

export interface Point {
  x: number;
  y: number;
}

/** A square in image pixels; it may reach past the image edges (padded with black). */
export interface SquareBox {
  x: number;
  y: number;
  size: number;
}

export type LateralitySource =
  'patient-orientation' | 'radiological-convention' | 'image-laterality' | 'unknown';

export interface LocalisedKnee {
  /** Crop centre in image pixels (knee-kl convention, see the module comment). */
  centre: Point;
  box: SquareBox;
  /** The joint line and plateau edges found, image pixels. */
  jointRow: number;
  plateau: { left: number; right: number };
  laterality: 'R' | 'L' | undefined;
  lateralitySource: LateralitySource;
  sizeSource: 'pixel-spacing' | 'bone-width';
  /** The crop, `outputSize` square, ready for the grader and the measurement. */
  crop: GrayImage;
  /** Millimetres per crop pixel when the spacing is known. */
  cropPixelMm: number | undefined;
  /** 0..1: how clear the joint was (valley depth and margin edges). */
  confidence: number;
  /** The knee check of the bone-relative crop (1.325 plateau widths), whatever the crop size. */
  kneeCheck: KneeCheckVerdict;
}

export interface LocaliseRefusal {
  /** Which leg (image order, 0 = image left) or undefined for the whole image. */
  leg: number | undefined;
  reason: 'no-leg' | 'no-joint' | 'not-a-knee';
  detail: string;
}

export interface LocaliseResult {
  knees: LocalisedKnee[];
  refusals: LocaliseRefusal[];
  notes: string[];
}

export interface LocaliseOptions {
  pixelSpacing?: PixelSpacing;
  /** Patient Orientation (0020,0020): row direction then column direction, e.g. ['L', 'F']. */
  patientOrientation?: readonly string[];
  /** Image Laterality (0020,0062) of a single-knee image. */
  imageLaterality?: 'R' | 'L';
  /** Physical crop size; default 140 mm. */
  cropMm?: number;
  /** Crop side in pixels; default 224. */
  outputSize?: number;
}

export const DEFAULT_CROP_MM = 140;
/** Crop side over plateau width in the knee-kl crops (val median 224 / 169). */
export const CROP_OVER_PLATEAU = 1.325;
/** Crop centre above the joint line, share of the plateau width (val median 16 / 169). */
export const CENTRE_ABOVE_JOINT = 0.095;

const WORKING_SIDE = 512;
const REFINE_SIZE = 224;
/** A dip this deep (share of the profile's range) between two bright runs separates two legs. */
const LEG_GAP_DEPTH = 0.25;
/** Smallest leg, share of the working width. */
const MIN_LEG_SHARE = 0.08;
const CANDIDATES = 3;
const REFINE_STEPS = 4;
/** First crop side over the knee's bright run (bone and some soft tissue). */
const INITIAL_OVER_RUN = 1.4;

/**
 * Cuts `box` and resamples it to `size` x `size`. Outside the image: black (as DeepKnee pads),
 * or the nearest edge pixel with `pad: 'edge'` (no artificial edge for the margin finder).
 */
export function cropSquare(
  image: GrayImage,
  box: SquareBox,
  size: number,
  pad: 'black' | 'edge' = 'black',
): GrayImage {
  const side = Math.max(1, Math.round(box.size));
  const x0 = Math.round(box.x);
  const y0 = Math.round(box.y);
  const pixels = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) {
    let sy = y0 + y;
    const rowInside = sy >= 0 && sy < image.height;
    if (!rowInside && pad === 'black') continue;
    sy = Math.min(image.height - 1, Math.max(0, sy));
    for (let x = 0; x < side; x++) {
      let sx = x0 + x;
      if ((sx < 0 || sx >= image.width) && pad === 'black') continue;
      sx = Math.min(image.width - 1, Math.max(0, sx));
      pixels[y * side + x] = image.pixels[sy * image.width + sx] ?? 0;
    }
  }
  return resizeBilinear({ width: side, height: side, pixels }, size, size);
}

/**
 * A point on a knee's crop (pixel-index coordinates, as src/measurement/jsw.ts returns them)
 * mapped back to the source image, e.g. to write a JSW line into the SR.
 */
export function cropPointToImage(point: Point, knee: Pick<LocalisedKnee, 'box' | 'crop'>): Point {
  const x0 = Math.round(knee.box.x);
  const y0 = Math.round(knee.box.y);
  const unit = Math.max(1, Math.round(knee.box.size)) / knee.crop.width;
  return { x: x0 + (point.x + 0.5) * unit - 0.5, y: y0 + (point.y + 0.5) * unit - 0.5 };
}

function workingCopy(image: GrayImage): { image: GrayImage; scale: number } {
  const longer = Math.max(image.width, image.height);
  if (longer <= WORKING_SIDE) return { image, scale: 1 };
  const scale = WORKING_SIDE / longer;
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  return { image: resizeBilinear(image, width, height), scale: width / image.width };
}

function gaussianSmooth1d(values: Float64Array, sigma: number): Float64Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  return values.map((_, i) => {
    let sum = 0;
    let weights = 0;
    for (let k = -radius; k <= radius; k++) {
      const value = values[i + k];
      if (value === undefined) continue;
      const weight = Math.exp(-(k * k) / (2 * sigma * sigma));
      sum += weight * value;
      weights += weight;
    }
    return sum / weights;
  });
}

interface Run {
  /** Working-copy columns of a bright run, inclusive. */
  left: number;
  right: number;
}

interface Leg extends Run {
  /** The part of the image (working columns, [from, to)) that holds this leg. */
  from: number;
  to: number;
}

/** The bright run of `profile` around its brightest entry in [from, to). */
function brightRun(profile: Float64Array, from: number, to: number): Run | undefined {
  let peak = from;
  let low = Infinity;
  for (let x = from; x < to; x++) {
    if ((profile[x] ?? 0) > (profile[peak] ?? 0)) peak = x;
    low = Math.min(low, profile[x] ?? 0);
  }
  const threshold = (low + (profile[peak] ?? 0)) / 2;
  if (!((profile[peak] ?? 0) > low)) return undefined;
  let left = peak;
  while (left > from && (profile[left - 1] ?? 0) >= threshold) left--;
  let right = peak;
  while (right < to - 1 && (profile[right + 1] ?? 0) >= threshold) right++;
  return { left, right };
}

function findLegs(plane: { width: number; height: number; data: Float32Array }): Leg[] {
  const { width, height, data } = plane;
  const raw = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    let sum = 0;
    for (let y = 0; y < height; y++) sum += data[y * width + x] ?? 0;
    raw[x] = sum / height;
  }
  const profile = gaussianSmooth1d(raw, Math.max(1, width * 0.02));
  let gap = Math.round(width * 0.3);
  for (let x = gap; x <= Math.round(width * 0.7); x++) {
    if ((profile[x] ?? 0) < (profile[gap] ?? 0)) gap = x;
  }
  const high = Math.max(...profile);
  const low = Math.min(...profile);
  const leftPeak = Math.max(...profile.subarray(0, gap));
  const rightPeak = Math.max(...profile.subarray(gap));
  const depth = Math.min(leftPeak, rightPeak) - (profile[gap] ?? 0);
  const parts: [number, number][] =
    high > low && depth > LEG_GAP_DEPTH * (high - low)
      ? [
          [0, gap],
          [gap, width],
        ]
      : [[0, width]];
  return parts.flatMap(([from, to]) => {
    const run = brightRun(profile, from, to);
    return run !== undefined && run.right - run.left >= width * MIN_LEG_SHARE
      ? [{ ...run, from, to }]
      : [];
  });
}

/** The knee's bright run in a band of rows around `row`, within the leg's part of the image. */
function kneeRun(
  plane: { width: number; height: number; data: Float32Array },
  leg: Leg,
  row: number,
): Run {
  const half = Math.max(2, Math.round(plane.height * 0.02));
  const top = Math.max(0, row - half);
  const bottom = Math.min(plane.height, row + half + 1);
  const profile = new Float64Array(plane.width);
  for (let x = leg.from; x < leg.to; x++) {
    let sum = 0;
    for (let y = top; y < bottom; y++) sum += plane.data[y * plane.width + x] ?? 0;
    profile[x] = sum / (bottom - top);
  }
  return brightRun(gaussianSmooth1d(profile, 1), leg.from, leg.to) ?? leg;
}

/** Up to `count` rows of the deepest valleys of the leg's central row profile, best first. */
function jointCandidates(
  plane: { width: number; height: number; data: Float32Array },
  leg: Leg,
  count: number,
): number[] {
  const span = leg.right - leg.left;
  const from = Math.round(leg.left + span * 0.2);
  const to = Math.max(from + 1, Math.round(leg.right - span * 0.2));
  const profile = new Float64Array(plane.height);
  for (let y = 0; y < plane.height; y++) {
    let sum = 0;
    for (let x = from; x < to; x++) sum += plane.data[y * plane.width + x] ?? 0;
    profile[y] = sum / (to - from);
  }
  const reach = Math.max(3, Math.round(span * 0.06));
  const scores: { row: number; score: number }[] = [];
  for (let y = reach; y < plane.height - reach; y++) {
    let above = -Infinity;
    let below = -Infinity;
    for (let k = 1; k <= reach; k++) {
      above = Math.max(above, profile[y - k] ?? -Infinity);
      below = Math.max(below, profile[y + k] ?? -Infinity);
    }
    scores.push({ row: y, score: Math.min(above, below) - (profile[y] ?? 0) });
  }
  scores.sort((a, b) => b.score - a.score);
  const picked: number[] = [];
  for (const candidate of scores) {
    if (picked.length >= count || candidate.score <= 0) break;
    if (picked.every((row) => Math.abs(row - candidate.row) > span * 0.4))
      picked.push(candidate.row);
  }
  return picked;
}

interface Refined {
  centre: Point;
  size: number;
  jointRow: number;
  plateau: { left: number; right: number };
  margins: Margins;
}

/** One refinement step: margins on a square around `centre`, mapped back to image pixels. */
function refine(image: GrayImage, centre: Point, size: number): Refined | undefined {
  const box = { x: centre.x - size / 2, y: centre.y - size / 2, size };
  const found = findMargins(cropSquare(image, box, REFINE_SIZE, 'edge'));
  if (!found.found) return undefined;
  const { margins } = found;
  const unit = Math.round(box.size) / REFINE_SIZE;
  const toX = (column: number): number => Math.round(box.x) + (column + 0.5) * unit;
  const toY = (row: number): number => Math.round(box.y) + (row + 0.5) * unit;
  const left = toX(margins.plateau.left);
  const right = toX(margins.plateau.right);
  const plateauWidth = right - left;
  const jointRow = toY(margins.jointRow);
  return {
    centre: { x: (left + right) / 2, y: jointRow - CENTRE_ABOVE_JOINT * plateauWidth },
    size: CROP_OVER_PLATEAU * plateauWidth,
    jointRow,
    plateau: { left, right },
    margins,
  };
}

function confidenceOf(margins: Margins): number {
  const edge =
    Math.min(median(margins.femurEdge), median(margins.tibiaEdge)) / margins.gradientNoise;
  const clamp = (value: number): number => Math.max(0, Math.min(1, value));
  return clamp((edge - 2.75) / 4) * 0.5 + clamp(margins.valleyDepth / 15) * 0.5;
}

/** Which side the image-left knee is, from Patient Orientation or the convention. */
function bilateralSides(orientation: readonly string[] | undefined): {
  left: 'R' | 'L';
  source: LateralitySource;
  note?: string;
} {
  const rows = orientation?.[0]?.trim().toUpperCase().charAt(0);
  if (rows === 'L') return { left: 'R', source: 'patient-orientation' };
  if (rows === 'R') return { left: 'L', source: 'patient-orientation' };
  return {
    left: 'R',
    source: 'radiological-convention',
    note:
      rows === undefined || rows === ''
        ? 'No Patient Orientation: sides follow the radiological convention (patient right on the image left).'
        : `Patient Orientation rows run ${rows}, not left or right: sides follow the radiological convention.`,
  };
}

/**
 * Finds the knee joints of a frontal radiograph and crops each. Knees come back in image
 * order (image left first); what could not be found is listed in `refusals` with a reason.
 */
export function localiseKnees(
  image: GrayImage,
  kneeCheck: KneeCheckModel,
  options: LocaliseOptions = {},
): LocaliseResult {
  const cropMm = options.cropMm ?? DEFAULT_CROP_MM;
  const outputSize = options.outputSize ?? 224;
  if (!(cropMm > 0) || !(outputSize >= 16)) {
    throw new JointspaceError(
      'invalid-argument',
      `cropMm must be positive and outputSize at least 16 (got ${cropMm}, ${outputSize})`,
    );
  }
  const notes: string[] = [];
  const refusals: LocaliseRefusal[] = [];
  const spacing = options.pixelSpacing;
  const spacingMm = spacing === undefined ? undefined : Math.sqrt(spacing.rowMm * spacing.columnMm);
  if (spacingMm === undefined) {
    notes.push(
      'No pixel spacing: crop size taken relative to the tibial plateau width (1.325 plateau widths), not 140 mm.',
    );
  }

  const working = workingCopy(image);
  const plane = smoothImage(working.image, 1.5);
  const legs = findLegs(plane);
  if (legs.length === 0) {
    return {
      knees: [],
      refusals: [
        { leg: undefined, reason: 'no-leg', detail: 'no bright limb found across the image' },
      ],
      notes,
    };
  }

  const found: { knee: Omit<LocalisedKnee, 'laterality' | 'lateralitySource'>; leg: number }[] = [];
  legs.forEach((leg, index) => {
    const result = locateInLeg(image, working, plane, leg, {
      cropMm,
      outputSize,
      spacingMm,
      kneeCheck,
    });
    if ('reason' in result) refusals.push({ leg: index, ...result });
    else found.push({ knee: result, leg: index });
  });

  let knees: LocalisedKnee[];
  if (legs.length === 2) {
    const sides = bilateralSides(options.patientOrientation);
    if (sides.note !== undefined) notes.push(sides.note);
    knees = found.map(({ knee, leg }) => ({
      ...knee,
      laterality: leg === 0 ? sides.left : sides.left === 'R' ? 'L' : 'R',
      lateralitySource: sides.source,
    }));
  } else {
    knees = found.map(({ knee }) => ({
      ...knee,
      laterality: options.imageLaterality,
      lateralitySource: options.imageLaterality === undefined ? 'unknown' : 'image-laterality',
    }));
  }
  return { knees, refusals, notes };
}

interface LegOptions {
  cropMm: number;
  outputSize: number;
  spacingMm: number | undefined;
  kneeCheck: KneeCheckModel;
}

function locateInLeg(
  image: GrayImage,
  working: { image: GrayImage; scale: number },
  plane: { width: number; height: number; data: Float32Array },
  leg: Leg,
  options: LegOptions,
): Omit<LocalisedKnee, 'laterality' | 'lateralitySource'> | Omit<LocaliseRefusal, 'leg'> {
  let refusal: Omit<LocaliseRefusal, 'leg'> = {
    reason: 'no-joint',
    detail:
      'no knee joint space (dark line between femoral condyles and tibial plateau) found in the limb',
  };
  for (const row of jointCandidates(plane, leg, CANDIDATES)) {
    const knee = kneeRun(plane, leg, row);
    // Refined on the working copy (fast, enough for a centre); cropped from the full image.
    let refined: Refined | undefined;
    let centre = { x: (knee.left + knee.right + 1) / 2, y: row + 0.5 };
    let size = INITIAL_OVER_RUN * (Math.max(knee.right - knee.left, leg.right - leg.left) + 1);
    for (let step = 0; step < REFINE_STEPS; step++) {
      const next = refine(working.image, centre, size);
      if (next === undefined) break;
      refined = next;
      centre = next.centre;
      // Damped: a plateau misjudged once must not collapse or blow up the crop.
      size = Math.sqrt(size * next.size);
    }
    if (refined === undefined) continue;
    const scale = working.scale;
    const found = {
      centre: { x: refined.centre.x / scale, y: refined.centre.y / scale },
      size: refined.size / scale,
      jointRow: refined.jointRow / scale,
      plateau: { left: refined.plateau.left / scale, right: refined.plateau.right / scale },
    };

    const sizeSource = options.spacingMm === undefined ? 'bone-width' : 'pixel-spacing';
    const side = options.spacingMm === undefined ? found.size : options.cropMm / options.spacingMm;
    const box = { x: found.centre.x - side / 2, y: found.centre.y - side / 2, size: side };
    const crop = cropSquare(image, box, options.outputSize, 'edge');
    // The knee check looks at the bone-relative crop: a 140 mm crop of a bilateral view can
    // take in the other knee's edge, which the check (built on single-knee crops) dislikes.
    const checked =
      sizeSource === 'bone-width'
        ? crop
        : cropSquare(
            image,
            {
              x: found.centre.x - found.size / 2,
              y: found.centre.y - found.size / 2,
              size: found.size,
            },
            options.outputSize,
            'edge',
          );
    const kneeCheck = checkKnee({ image: checked, metadata: { format: 'png' } }, options.kneeCheck);
    if (!kneeCheck.accepted) {
      refusal = {
        reason: 'not-a-knee',
        detail: `the region found is not a knee joint: ${kneeCheck.reason}`,
      };
      continue;
    }
    return {
      centre: found.centre,
      box,
      jointRow: found.jointRow,
      plateau: found.plateau,
      sizeSource,
      crop,
      cropPixelMm:
        options.spacingMm === undefined ? undefined : options.cropMm / options.outputSize,
      confidence: confidenceOf(refined.margins),
      kneeCheck,
    };
  }
  return refusal;
}
