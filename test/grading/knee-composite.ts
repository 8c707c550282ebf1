/**
 * Synthetic full radiographs built from knee-kl crops, for the localiser (no public full knee
 * radiographs with joint annotations are available here): one or two crops, each extended
 * into a leg by synthetic bone shafts above and below (the crop's top and bottom rows
 * narrowed progressively towards the shaft width, with soft tissue around), placed on a dark
 * background at random offsets, scales and small rotations, with Gaussian noise and burned-in
 * side markers and digits. The truth is where the crop's centre and square land.
 *
 * A proxy only: real radiographs have real shafts, patella, positioning devices and exposure
 * gradients. Deterministic for a given seed.
 */
import type { GrayImage } from '../../src/imaging/types.js';

export interface CompositeTruth {
  /** Where the crop centre lands, composite pixels. */
  centre: { x: number; y: number };
  /** Side of the square the crop covers, composite pixels (axis-aligned; rotation ignored). */
  size: number;
  laterality: 'R' | 'L';
  /** Millimetres per composite pixel if the crop shows 140 mm. */
  pixelMm: number;
}

export interface Composite {
  image: GrayImage;
  truth: CompositeTruth[];
}

export interface CompositeOptions {
  width?: number;
  height?: number;
  /** Range of crop scales (composite pixels per crop pixel). */
  scale?: [number, number];
  /** Largest rotation, degrees. */
  maxRotation?: number;
  noise?: number;
  text?: boolean;
}

/** Mulberry32: a small seeded generator, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Grey level of a crop pixel with clamped coordinates. */
function pixel(image: GrayImage, x: number, y: number): number {
  const cx = Math.min(image.width - 1, Math.max(0, x));
  const cy = Math.min(image.height - 1, Math.max(0, y));
  return image.pixels[cy * image.width + cx] ?? 0;
}

const BACKGROUND = 18;
/** Shaft length above and below the crop, in crop heights. */
const SHAFT = 1.2;
/** How much narrower than the crop the far end of a shaft is. */
const SHAFT_NARROWING = 0.45;

/**
 * Grey level of the extended leg at crop coordinates (u, v), v may be outside the crop: then
 * the nearest edge row, squeezed towards the centre as the shaft narrows, soft tissue fading
 * to the background at the sides.
 */
function legValue(crop: GrayImage, u: number, v: number): number {
  const w = crop.width;
  const h = crop.height;
  if (u < -8 || u > w + 8) return BACKGROUND;
  if (v >= 0 && v <= h - 1) {
    const fade = u < 0 ? (u + 8) / 8 : u > w - 1 ? (w + 7 - u) / 8 : 1;
    return BACKGROUND + fade * (pixel(crop, Math.round(u), Math.round(v)) - BACKGROUND);
  }
  const distance = v < 0 ? -v : v - (h - 1);
  if (distance > SHAFT * h) return BACKGROUND;
  const squeeze = 1 - SHAFT_NARROWING * Math.min(1, distance / (0.6 * h));
  const fromCentre = (u - w / 2) / squeeze;
  const source = w / 2 + fromCentre;
  if (source < -8 || source > w + 8) return BACKGROUND;
  const row = v < 0 ? 0 : h - 1;
  const fade = source < 0 ? (source + 8) / 8 : source > w - 1 ? (w + 7 - source) / 8 : 1;
  return BACKGROUND + fade * (pixel(crop, Math.round(source), row) - BACKGROUND);
}

/** A 3 x 5 block font for the burned-in marks. */
const GLYPHS: Record<string, string[]> = {
  R: ['110', '101', '110', '101', '101'],
  L: ['100', '100', '100', '100', '111'],
  '0': ['111', '101', '101', '101', '111'],
  '1': ['010', '110', '010', '010', '111'],
  '2': ['111', '001', '111', '100', '111'],
  '7': ['111', '001', '010', '010', '010'],
};

function burnText(image: GrayImage, text: string, x0: number, y0: number, cell: number): void {
  Array.from(text).forEach((char, index) => {
    const glyph = GLYPHS[char];
    if (glyph === undefined) return;
    glyph.forEach((line, gy) => {
      Array.from(line).forEach((bit, gx) => {
        if (bit !== '1') return;
        for (let y = 0; y < cell; y++) {
          for (let x = 0; x < cell; x++) {
            const px = x0 + (index * 4 + gx) * cell + x;
            const py = y0 + gy * cell + y;
            if (px >= 0 && py >= 0 && px < image.width && py < image.height) {
              image.pixels[py * image.width + px] = 250;
            }
          }
        }
      });
    });
  });
}

/**
 * Builds a composite: `knees` in image order (image left first), each with its laterality.
 * Two knees go side by side; one knee is centred horizontally with long shafts.
 */
export function buildComposite(
  knees: { image: GrayImage; laterality: 'R' | 'L' }[],
  random: () => number,
  options: CompositeOptions = {},
): Composite {
  const width = options.width ?? (knees.length === 2 ? 900 : 520);
  const height = options.height ?? 1000;
  const [minScale, maxScale] = options.scale ?? [0.8, 1.5];
  const maxRotation = ((options.maxRotation ?? 5) * Math.PI) / 180;
  const noise = options.noise ?? 4;
  const pixels = new Float64Array(width * height).fill(BACKGROUND);
  const truth: CompositeTruth[] = [];

  knees.forEach(({ image: crop, laterality }, index) => {
    const scale = minScale + (maxScale - minScale) * random();
    const angle = (2 * random() - 1) * maxRotation;
    const slot = knees.length === 2 ? (index === 0 ? 0.28 : 0.72) : 0.5;
    const cx = width * slot + (random() - 0.5) * width * 0.08;
    const cy = height * (0.4 + 0.2 * random());
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const reach = crop.width * scale * 0.75;
    const x0 = Math.max(0, Math.floor(cx - reach));
    const x1 = Math.min(width, Math.ceil(cx + reach));
    for (let y = 0; y < height; y++) {
      for (let x = x0; x < x1; x++) {
        // Composite pixel to crop coordinates: undo the rotation and scale about the centre.
        const dx = x - cx;
        const dy = y - cy;
        const u = (cos * dx + sin * dy) / scale + crop.width / 2;
        const v = (-sin * dx + cos * dy) / scale + crop.height / 2;
        const value = legValue(crop, u, v);
        const at = y * width + x;
        pixels[at] = Math.max(pixels[at] ?? 0, value);
      }
    }
    truth.push({
      centre: { x: cx, y: cy },
      size: crop.width * scale,
      laterality,
      pixelMm: 140 / (crop.width * scale),
    });
  });

  const image: GrayImage = {
    width,
    height,
    pixels: Uint8Array.from(pixels, (value) =>
      Math.min(255, Math.max(0, Math.round(value + noise * gaussian(random)))),
    ),
  };
  if (options.text !== false) {
    burnText(image, knees.length === 2 ? 'R' : (knees[0]?.laterality ?? 'R'), 20, 20, 8);
    burnText(image, '2017', Math.round(width * 0.55), height - 60, 5);
  }
  return { image, truth };
}

/** Intersection over union of two axis-aligned squares given by centre and side. */
export function squareIoU(
  a: { centre: { x: number; y: number }; size: number },
  b: { centre: { x: number; y: number }; size: number },
): number {
  const overlap = (ac: number, as: number, bc: number, bs: number): number =>
    Math.max(0, Math.min(ac + as / 2, bc + bs / 2) - Math.max(ac - as / 2, bc - bs / 2));
  const inter =
    overlap(a.centre.x, a.size, b.centre.x, b.size) *
    overlap(a.centre.y, a.size, b.centre.y, b.size);
  return inter / (a.size * a.size + b.size * b.size - inter);
}
