/**
 * Joint-space width (JSW) of the tibiofemoral joint on a frontal knee crop: the minimum width
 * of the medial and of the lateral compartment, with the two end points of each minimum, and
 * the width at fixed fractions of the plateau width from the medial edge.
 *
 * The margins come from `margins.ts`; this module splits them into compartments at the
 * intercondylar notch, names the compartments from the laterality, converts to millimetres and
 * decides what is reliable enough to report. Width is measured vertically (along image columns),
 * between the femoral and the tibial margin, as in the fixed-location JSW methods; on a tilted
 * joint that slightly overstates the perpendicular width (by 1 / cos of the tilt: 1.5 % at 10
 * degrees).
 *
 * Medial and lateral: radiological display puts the patient's right on the image left, so on a
 * right knee the medial compartment (towards the body's midline) is on the image right and on
 * a left knee on the image left. src/measurement/README.md gives the evidence on val that the
 * knee-kl crops follow this convention. A caller that knows the image is mirrored (a header
 * saying so) passes `mirrored`.
 *
 * Units: millimetres when the Pixel Spacing is known; otherwise millimetres under an explicitly
 * assumed crop width (reported as an assumption), or pixels. Nothing is ever invented: a
 * compartment whose margins are not clear gets a reason instead of a number. Pure; no I/O.
 */
import { JointspaceError } from '../errors.js';
import type { GrayImage, PixelSpacing } from '../imaging/types.js';
import { resizeBilinear } from '../grading/preprocess.js';
import { findMargins, median, type MarginFailure, type Margins } from './margins.js';

export type Laterality = 'R' | 'L';
export type Compartment = 'medial' | 'lateral';

export interface Point {
  x: number;
  y: number;
}

/** How the pixel size was obtained. */
export type Calibration =
  | { unit: 'mm'; source: 'PixelSpacing' | 'ImagerPixelSpacing'; rowMm: number; columnMm: number }
  | {
      unit: 'mm';
      source: 'assumed-crop-width';
      cropWidthMm: number;
      rowMm: number;
      columnMm: number;
    }
  | { unit: 'px' };

export type RefusalReason =
  MarginFailure['reason'] | 'no-notch' | 'too-narrow' | 'implausible-width';

export interface MeasuredCompartment {
  compartment: Compartment;
  status: 'measured';
  /** Minimum width, in `unit`. */
  minWidth: number;
  /** End points of the minimum: on the femoral margin and on the tibial margin (image pixels). */
  femurPoint: Point;
  tibiaPoint: Point;
  /** Columns measured (inclusive, image pixels). */
  columns: [number, number];
  /** Share of the compartment's columns where both margins are clear edges, 0..1. */
  quality: number;
}

export interface RefusedCompartment {
  compartment: Compartment;
  status: 'refused';
  reason: RefusalReason;
  detail: string;
  quality: number;
}

export type CompartmentWidth = MeasuredCompartment | RefusedCompartment;

export interface PositionWidth {
  /** Fraction of the plateau width from its medial edge (0 = medial edge, 1 = lateral edge). */
  fraction: number;
  compartment: Compartment;
  /** Width in `unit`, or undefined when the margins are not clear at that position. */
  width: number | undefined;
  femurPoint: Point;
  tibiaPoint: Point;
}

export interface JswMeasurement {
  status: 'measured';
  unit: 'mm' | 'px';
  calibration: Calibration;
  laterality: Laterality;
  /** Which side of the image holds the medial compartment. */
  medialSide: 'left' | 'right';
  medial: CompartmentWidth;
  lateral: CompartmentWidth;
  positions: PositionWidth[];
  /** Lower of the two compartment qualities, 0..1; below 0.6 read the numbers with care. */
  quality: number;
  /** Plateau edges and notch column (image pixels), for drawing and review. */
  plateau: { left: number; right: number; notch: number; jointRow: number };
  /** Sentences about how the numbers were obtained (units, assumptions). */
  notes: string[];
}

export interface JswRefusal {
  status: 'refused';
  reason: RefusalReason;
  detail: string;
}

export type JswResult = JswMeasurement | JswRefusal;

export interface JswOptions {
  laterality: Laterality;
  /** From the DICOM header of the image the crop came from, scaled to the crop. */
  pixelSpacing?: PixelSpacing;
  /**
   * Width of the crop in millimetres when the spacing is unknown but the crop is known to
   * show a fixed field (DeepKnee crops about 140 mm): millimetres reported as an assumption.
   */
  assumedCropWidthMm?: number;
  /** The image is mirrored (medial on the other side than the radiological convention). */
  mirrored?: boolean;
  /**
   * Grey-level polarity from the knee check (src/grading/knee-check.ts): an inverted image
   * (bone dark) is measured on its negative. Default 'normal'.
   */
  polarity?: 'normal' | 'inverted';
}

/** Fractions of the plateau width from the medial edge at which the width is reported. */
export const POSITION_FRACTIONS = [0.15, 0.25, 0.35, 0.65, 0.75, 0.85] as const;

/** Images wider than this are measured on a copy scaled down to it. */
const WORKING_WIDTH = 448;
/** Half-width of the notch region excluded from both compartments, share of the plateau. */
const NOTCH_HALF_WIDTH = 0.07;
/**
 * Shares of each compartment left out of its minimum: the outer rim, where the condyle curves
 * up and the plateau rim and osteophytes meet it, and the inner part beside the notch, where
 * the tibial spines rise towards the femur (a spine is not joint space). Chosen on val (inner
 * 10 -> 20 %, outer 20 -> 15 %): without the inner exclusion, spines growing with OA made the
 * lateral minimum fall with KL almost as much as the medial one.
 */
const OUTER_SHARE = 0.15;
const INNER_SHARE = 0.2;
/** A margin is clear where its edge is this many times the image's typical gradient. */
const CLEAR_EDGE = 2;
/** Below this share of clear columns a compartment is refused. */
const MIN_QUALITY = 0.5;
/** Fewest columns for a compartment, share of the plateau width. */
const MIN_COMPARTMENT_SHARE = 0.2;
/** Largest plausible width, share of the plateau width (about 25 mm on a 80 mm plateau). */
const MAX_WIDTH_SHARE = 0.3;
/** Columns in the running median of the width profile. */
const WIDTH_WINDOW = 5;

function calibrationFor(image: GrayImage, options: JswOptions): Calibration {
  if (options.pixelSpacing !== undefined) {
    const { rowMm, columnMm, source } = options.pixelSpacing;
    if (!(rowMm > 0) || !(columnMm > 0)) {
      throw new JointspaceError(
        'invalid-argument',
        `pixel spacing must be positive millimetres (got ${rowMm} x ${columnMm})`,
      );
    }
    return { unit: 'mm', source, rowMm, columnMm };
  }
  if (options.assumedCropWidthMm !== undefined) {
    if (!(options.assumedCropWidthMm > 0)) {
      throw new JointspaceError(
        'invalid-argument',
        `assumedCropWidthMm must be positive millimetres (got ${options.assumedCropWidthMm})`,
      );
    }
    const mm = options.assumedCropWidthMm / image.width;
    return {
      unit: 'mm',
      source: 'assumed-crop-width',
      cropWidthMm: options.assumedCropWidthMm,
      rowMm: mm,
      columnMm: mm,
    };
  }
  return { unit: 'px' };
}

function calibrationNote(calibration: Calibration): string {
  switch (calibration.unit) {
    case 'px':
      return 'No pixel spacing known: widths are in pixels of the image as given.';
    case 'mm':
      return calibration.source === 'assumed-crop-width'
        ? `No pixel spacing known: millimetres ASSUME the crop is ${calibration.cropWidthMm} mm wide (${calibration.rowMm.toFixed(3)} mm per pixel); not a calibrated measurement.`
        : `Millimetres from ${calibration.source} (${calibration.rowMm} mm per row).`;
  }
}

/** Running median of `values` over `window` entries (shorter at the ends). */
function runningMedian(values: Float64Array, window: number): Float64Array {
  const half = Math.floor(window / 2);
  return values.map((_, i) =>
    median(values.subarray(Math.max(0, i - half), Math.min(values.length, i + half + 1))),
  );
}

interface Scaled {
  margins: Margins;
  /** Image pixels per working pixel, horizontally and vertically. */
  sx: number;
  sy: number;
}

function marginsOnWorkingCopy(image: GrayImage): Scaled | MarginFailure {
  let working = image;
  if (image.width > WORKING_WIDTH) {
    const height = Math.max(1, Math.round((image.height * WORKING_WIDTH) / image.width));
    working = resizeBilinear(image, WORKING_WIDTH, height);
  }
  const result = findMargins(working);
  if (!result.found) return result.failure;
  return {
    margins: result.margins,
    sx: image.width / working.width,
    sy: image.height / working.height,
  };
}

interface Side {
  compartment: Compartment;
  /** Working-copy columns, inclusive. */
  from: number;
  to: number;
  outerOnLeft: boolean;
}

function measureCompartment(
  side: Side,
  scaled: Scaled,
  widths: Float64Array,
  clear: boolean[],
  calibration: Calibration,
): CompartmentWidth {
  const { margins, sx, sy } = scaled;
  const span = margins.plateau.right - margins.plateau.left;
  const count = side.to - side.from + 1;
  const indices = Array.from(
    { length: Math.max(0, count) },
    (_, k) => side.from + k - margins.first,
  );
  const quality =
    indices.length === 0 ? 0 : indices.filter((i) => clear[i] === true).length / indices.length;
  const refused = (reason: RefusalReason, detail: string): RefusedCompartment => ({
    compartment: side.compartment,
    status: 'refused',
    reason,
    detail,
    quality,
  });
  if (count < span * MIN_COMPARTMENT_SHARE) {
    return refused(
      'too-narrow',
      `the ${side.compartment} compartment spans ${Math.max(0, count)} columns, fewer than ${Math.ceil(span * MIN_COMPARTMENT_SHARE)} (a fifth of the plateau)`,
    );
  }
  if (quality < MIN_QUALITY) {
    return refused(
      'low-contrast',
      `the ${side.compartment} margins are clear edges in ${Math.round(quality * 100)} % of the columns (at least ${MIN_QUALITY * 100} % needed)`,
    );
  }
  // Columns run left to right; the outer rim is on the left for the image-left compartment.
  const outer = Math.round(count * OUTER_SHARE);
  const inner = Math.round(count * INNER_SHARE);
  const interior = side.outerOnLeft
    ? indices.slice(outer, indices.length - inner)
    : indices.slice(inner, indices.length - outer);
  // Ties (a flat stretch of the running median) go to the column nearest the middle of the
  // interior, so that a mirrored image gives the mirrored point.
  const middle = ((interior[0] ?? 0) + (interior[interior.length - 1] ?? 0)) / 2;
  let best = -1;
  for (const i of interior) {
    if (clear[i] !== true) continue;
    const value = widths[i] ?? Infinity;
    const current = widths[best] ?? Infinity;
    const nearer = Math.abs(i - middle) < Math.abs(best - middle);
    if (best < 0 || value < current || (value === current && nearer)) best = i;
  }
  if (best < 0) {
    return refused(
      'low-contrast',
      `no clear column in the middle of the ${side.compartment} compartment`,
    );
  }
  const widthPx = widths[best] ?? 0;
  if (widthPx > span * MAX_WIDTH_SHARE) {
    return refused(
      'implausible-width',
      `the ${side.compartment} minimum width is ${Math.round((widthPx / span) * 100)} % of the plateau width (at most ${MAX_WIDTH_SHARE * 100} % is plausible)`,
    );
  }
  const x = (margins.first + best + 0.5) * sx - 0.5;
  const femurY = ((margins.femur[best] ?? 0) + 0.5) * sy - 0.5;
  return {
    compartment: side.compartment,
    status: 'measured',
    minWidth: toUnit(widthPx * sy, calibration),
    femurPoint: { x, y: femurY },
    tibiaPoint: { x, y: femurY + widthPx * sy },
    columns: [(side.from + 0.5) * sx - 0.5, (side.to + 0.5) * sx - 0.5],
    quality,
  };
}

function negative(image: GrayImage): GrayImage {
  return { ...image, pixels: image.pixels.map((value) => 255 - value) };
}

function toUnit(pixels: number, calibration: Calibration): number {
  return calibration.unit === 'mm' ? pixels * calibration.rowMm : pixels;
}

/**
 * Measures the joint-space width on a frontal knee crop centred on the joint. Returns a
 * refusal with a reason when the joint cannot be found; a compartment whose margins are
 * not clear is refused on its own.
 */
export function measureJointSpace(image: GrayImage, options: JswOptions): JswResult {
  const calibration = calibrationFor(image, options);
  const inverted = options.polarity === 'inverted';
  const scaled = marginsOnWorkingCopy(inverted ? negative(image) : image);
  if ('reason' in scaled)
    return { status: 'refused', reason: scaled.reason, detail: scaled.detail };
  const { margins, sx, sy } = scaled;
  if (margins.notch === undefined) {
    return {
      status: 'refused',
      reason: 'no-notch',
      detail: 'the intercondylar notch (which separates the compartments) was not found',
    };
  }
  const notch = margins.notch;

  const raw = margins.tibia.map((t, i) => t - (margins.femur[i] ?? t));
  const widths = runningMedian(raw, WIDTH_WINDOW);
  const floor = CLEAR_EDGE * margins.gradientNoise;
  const clear = Array.from(
    widths,
    (_, i) => (margins.femurEdge[i] ?? 0) >= floor && (margins.tibiaEdge[i] ?? 0) >= floor,
  );

  const span = margins.plateau.right - margins.plateau.left;
  const gap = Math.round(span * NOTCH_HALF_WIDTH);
  const leftSide = { from: margins.first, to: notch - gap, outerOnLeft: true };
  const rightSide = { from: notch + gap, to: margins.last, outerOnLeft: false };
  const medialRight = (options.laterality === 'R') !== (options.mirrored === true);
  const medialSide: Side = { compartment: 'medial', ...(medialRight ? rightSide : leftSide) };
  const lateralSide: Side = { compartment: 'lateral', ...(medialRight ? leftSide : rightSide) };
  const medial = measureCompartment(medialSide, scaled, widths, clear, calibration);
  const lateral = measureCompartment(lateralSide, scaled, widths, clear, calibration);

  const positions = POSITION_FRACTIONS.map((fraction): PositionWidth => {
    const offset = fraction * span;
    const column = Math.round(
      medialRight ? margins.plateau.right - offset : margins.plateau.left + offset,
    );
    const i = Math.min(margins.femur.length - 1, Math.max(0, column - margins.first));
    const compartment: Compartment = fraction < 0.5 ? 'medial' : 'lateral';
    const refused = (compartment === 'medial' ? medial : lateral).status === 'refused';
    const widthPx = widths[i] ?? 0;
    const usable = clear[i] === true && !refused && widthPx <= span * MAX_WIDTH_SHARE;
    const femurY = ((margins.femur[i] ?? 0) + 0.5) * sy - 0.5;
    const x = (margins.first + i + 0.5) * sx - 0.5;
    return {
      fraction,
      compartment,
      width: usable ? toUnit(widthPx * sy, calibration) : undefined,
      femurPoint: { x, y: femurY },
      tibiaPoint: { x, y: femurY + widthPx * sy },
    };
  });

  const notes = [calibrationNote(calibration)];
  if (inverted) notes.push('Measured on the negative of the image (stored with bone dark).');
  if (Math.abs(sx - 1) > 1e-9)
    notes.push(`Measured on a copy scaled to ${WORKING_WIDTH} pixels wide.`);
  return {
    status: 'measured',
    unit: calibration.unit,
    calibration,
    laterality: options.laterality,
    medialSide: medialRight ? 'right' : 'left',
    medial,
    lateral,
    positions,
    quality: Math.min(medial.quality, lateral.quality),
    plateau: {
      left: (margins.plateau.left + 0.5) * sx - 0.5,
      right: (margins.plateau.right + 0.5) * sx - 0.5,
      notch: (notch + 0.5) * sx - 0.5,
      jointRow: (margins.jointRow + 0.5) * sy - 0.5,
    },
    notes,
  };
}
