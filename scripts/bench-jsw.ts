/**
 * `node --import tsx scripts/bench-jsw.ts`: evidence for the joint-space width measurement
 * (src/measurement/) and the knee localiser (src/grading/localise.ts) on the knee-kl val split.
 *
 *   1. JSW on every val crop: how many measured and refused (with reasons), median medial and
 *      lateral minimum JSW per KL grade, Spearman rank correlation with KL per compartment.
 *   2. Side check: per file laterality, which image side is narrower and falls with KL, and a
 *      fibula proxy (the brighter lower outer corner), to confirm medial/lateral assignment.
 *   3. Repeatability on a seeded subset: horizontal flip with laterality swapped, and sub-pixel
 *      shifts of up to 2.5 pixels (median and 90th percentile absolute change).
 *   4. Localiser: centred val crops (centre error), synthetic composites (two knees side by
 *      side, or one knee with long shafts; offsets, scales, rotations, noise, burned-in marks)
 *      with and without pixel spacing (centre error, IoU, laterality), and the non-knee DICOM
 *      samples (must yield no knee).
 *   5. Time per image, and test-artifacts/jsw/contact-sheet.png: 25 seeded random val knees
 *      with the margins, the two minimum widths and the values drawn.
 *
 * The val crops have no pixel spacing (their README says so): widths are in pixels; the
 * millimetres printed beside them ASSUME DeepKnee's 140 mm crop width (0.625 mm per pixel)
 * and are labelled so. It measures and reports; it asserts nothing and exits 0.
 *
 *   node --import tsx scripts/bench-jsw.ts [--limit N] [--subset 200] [--composites 40]
 *     [--seed 20261203] [--val-dir DIR] [--out test-artifacts/jsw]
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { checkKnee, loadKneeCheckModel, type KneeCheckModel } from '../src/grading/knee-check.js';
import { localiseKnees } from '../src/grading/localise.js';
import { loadImageFile } from '../src/imaging/load.js';
import type { GrayImage } from '../src/imaging/types.js';
import { findMargins, median } from '../src/measurement/margins.js';
import {
  measureJointSpace,
  type CompartmentWidth,
  type JswMeasurement,
  type Laterality,
} from '../src/measurement/jsw.js';
import { fromRoot } from '../src/paths.js';
import { buildComposite, seededRandom, squareIoU } from '../test/grading/knee-composite.js';

const ASSUMED_CROP_MM = 140;
const GRADES = [0, 1, 2, 3, 4] as const;

const { values: args } = parseArgs({
  options: {
    limit: { type: 'string' },
    subset: { type: 'string', default: '200' },
    composites: { type: 'string', default: '40' },
    seed: { type: 'string', default: '20261203' },
    'val-dir': { type: 'string', default: fromRoot('..', 'shared', 'data', 'knee-kl', 'val') },
    'dicom-dir': { type: 'string', default: fromRoot('..', 'shared', 'data', 'dicom-samples') },
    out: { type: 'string', default: fromRoot('test-artifacts', 'jsw') },
  },
});

const print = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

// ---------------------------------------------------------------------------
// Statistics

function ranks(values: readonly number[]): number[] {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value);
  const result = new Array<number>(values.length).fill(0);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]?.value === order[i]?.value) j++;
    for (let k = i; k <= j; k++) result[order[k]?.index ?? 0] = (i + j) / 2;
    i = j + 1;
  }
  return result;
}

/** Spearman's rho: Pearson correlation of the ranks (ties get their mean rank). */
function spearman(x: readonly number[], y: readonly number[]): number {
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  rx.forEach((value, i) => {
    const dy = (ry[i] ?? 0) - my;
    sxy += (value - mx) * dy;
    sxx += (value - mx) ** 2;
    syy += dy * dy;
  });
  return sxy / Math.sqrt(sxx * syy);
}

function quantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] ?? Number.NaN;
}

const fixed = (value: number, digits = 2): string =>
  Number.isFinite(value) ? value.toFixed(digits) : '-';
const assumedMm = (pixels: number): string => fixed((pixels * ASSUMED_CROP_MM) / 224, 2);

// ---------------------------------------------------------------------------
// Images

interface ValKnee {
  path: string;
  name: string;
  grade: number;
  laterality: Laterality;
}

async function valKnees(directory: string): Promise<ValKnee[]> {
  const knees: ValKnee[] = [];
  for (const grade of GRADES) {
    const names = (await readdir(join(directory, String(grade)))).filter((n) => n.endsWith('.png'));
    for (const name of names.sort()) {
      const side = /([LR])\.png$/.exec(name)?.[1];
      if (side !== 'L' && side !== 'R') continue;
      knees.push({ path: join(directory, String(grade), name), name, grade, laterality: side });
    }
  }
  return knees;
}

function flipped(image: GrayImage): GrayImage {
  const pixels = new Uint8Array(image.pixels.length);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      pixels[y * image.width + x] = image.pixels[y * image.width + image.width - 1 - x] ?? 0;
    }
  }
  return { ...image, pixels };
}

/**
 * Shifted by (dx, dy) pixels with bilinear interpolation (a whole-pixel shift would give back
 * the same numbers by construction), the uncovered border repeating the nearest edge pixel.
 */
function shifted(image: GrayImage, dx: number, dy: number): GrayImage {
  const { width, height } = image;
  const pixels = new Uint8Array(image.pixels.length);
  const value = (x: number, y: number): number => {
    const cx = Math.min(width - 1, Math.max(0, x));
    const cy = Math.min(height - 1, Math.max(0, y));
    return image.pixels[cy * width + cx] ?? 0;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = x - dx;
      const sy = y - dy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const top = value(x0, y0) * (1 - fx) + value(x0 + 1, y0) * fx;
      const bottom = value(x0, y0 + 1) * (1 - fx) + value(x0 + 1, y0 + 1) * fx;
      pixels[y * width + x] = Math.round(top * (1 - fy) + bottom * fy);
    }
  }
  return { ...image, pixels };
}

const widthOf = (c: CompartmentWidth): number | undefined =>
  c.status === 'measured' ? c.minWidth : undefined;

function sample<T>(items: readonly T[], count: number, random: () => number): T[] {
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, count);
}

// ---------------------------------------------------------------------------
// 1-3. Joint-space width

interface Measured {
  knee: ValKnee;
  image: GrayImage;
  polarity: 'normal' | 'inverted';
  result: ReturnType<typeof measureJointSpace>;
  ms: number;
}

async function measureAll(knees: ValKnee[], model: KneeCheckModel): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const [index, knee] of knees.entries()) {
    const { image } = await loadImageFile(knee.path);
    const polarity = checkKnee({ image, metadata: { format: 'png' } }, model).polarity;
    const start = performance.now();
    const result = measureJointSpace(image, { laterality: knee.laterality, polarity });
    out.push({ knee, image, polarity, result, ms: performance.now() - start });
    if ((index + 1) % 100 === 0) progress(`measured ${index + 1}/${knees.length}`);
  }
  return out;
}

function reportWidths(measured: Measured[]): void {
  const ok = measured.filter(
    (m): m is Measured & { result: JswMeasurement } => m.result.status === 'measured',
  );
  const reasons = new Map<string, number>();
  for (const m of measured) {
    const r = m.result;
    if (r.status === 'refused')
      reasons.set(`knee: ${r.reason}`, (reasons.get(`knee: ${r.reason}`) ?? 0) + 1);
    else {
      for (const c of [r.medial, r.lateral]) {
        if (c.status === 'refused') {
          const key = `${c.compartment}: ${c.reason}`;
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
        }
      }
    }
  }
  const medialN = ok.filter((m) => m.result.medial.status === 'measured').length;
  const lateralN = ok.filter((m) => m.result.lateral.status === 'measured').length;
  const inverted = measured.filter((m) => m.polarity === 'inverted').length;
  print(
    `## 1. Minimum JSW on val (${measured.length} crops; no pixel spacing: pixels, mm ASSUME a ${ASSUMED_CROP_MM} mm crop)`,
  );
  print(
    `measured: knee ${ok.length}/${measured.length}, medial ${medialN}, lateral ${lateralN} (${inverted} crops stored inverted, measured on their negative)`,
  );
  print(
    `refused: ${reasons.size === 0 ? 'none' : [...reasons].map(([k, v]) => `${k} ${v}`).join('; ')}`,
  );
  print('');
  print('| KL | n | medial min px (mm*) | lateral min px (mm*) | medial < lateral |');
  print('|----|---|---------------------|----------------------|------------------|');
  for (const grade of GRADES) {
    const rows = ok.filter((m) => m.knee.grade === grade);
    const med = rows.flatMap((m) => widthOf(m.result.medial) ?? []);
    const lat = rows.flatMap((m) => widthOf(m.result.lateral) ?? []);
    const both = rows.filter(
      (m) => widthOf(m.result.medial) !== undefined && widthOf(m.result.lateral) !== undefined,
    );
    const narrower = both.filter(
      (m) => (widthOf(m.result.medial) ?? 0) < (widthOf(m.result.lateral) ?? 0),
    ).length;
    print(
      `| ${grade} | ${rows.length} | ${fixed(median(med))} (${assumedMm(median(med))}) | ${fixed(median(lat))} (${assumedMm(median(lat))}) | ${Math.round((100 * narrower) / Math.max(1, both.length))} % |`,
    );
  }
  for (const compartment of ['medial', 'lateral'] as const) {
    const rows = ok.flatMap((m) => {
      const w = widthOf(m.result[compartment]);
      return w === undefined ? [] : [{ w, g: m.knee.grade }];
    });
    print(
      `Spearman rho (${compartment} min JSW vs KL): ${fixed(
        spearman(
          rows.map((r) => r.w),
          rows.map((r) => r.g),
        ),
        3,
      )} (n ${rows.length})`,
    );
  }
  const narrowest = ok.flatMap((m) => {
    const a = widthOf(m.result.medial);
    const b = widthOf(m.result.lateral);
    return a === undefined || b === undefined ? [] : [{ w: Math.min(a, b), g: m.knee.grade }];
  });
  print(
    `Spearman rho (narrower compartment vs KL, for reference): ${fixed(
      spearman(
        narrowest.map((r) => r.w),
        narrowest.map((r) => r.g),
      ),
      3,
    )} (n ${narrowest.length})`,
  );
  const qualities = ok.map((m) => m.result.quality);
  print(
    `quality (share of clear columns, lower compartment): median ${fixed(median(qualities))}, p5 ${fixed(quantile(qualities, 0.05))}`,
  );
  print('');
}

/** Mean grey level of the lower outer corners (bottom 25 % of rows, outer 20 % of columns). */
function brighterLowerCorner(image: GrayImage): 'left' | 'right' {
  const { width, height, pixels } = image;
  let left = 0;
  let right = 0;
  for (let y = Math.floor(height * 0.75); y < height; y++) {
    for (let x = 0; x < Math.floor(width * 0.2); x++) {
      left += pixels[y * width + x] ?? 0;
      right += pixels[y * width + width - 1 - x] ?? 0;
    }
  }
  return left > right ? 'left' : 'right';
}

function reportSides(measured: Measured[]): void {
  print('## 2. Which image side is medial (evidence)');
  print(
    'Convention used: R knee -> medial on the image right; L knee -> medial on the image left.',
  );
  print(
    '| file side | image side | n | median min px KL0-1 | median min px KL3-4 | Spearman vs KL |',
  );
  print(
    '|-----------|------------|---|---------------------|---------------------|----------------|',
  );
  for (const side of ['R', 'L'] as const) {
    const rows = measured.filter(
      (m) => m.knee.laterality === side && m.result.status === 'measured',
    );
    for (const imageSide of ['left', 'right'] as const) {
      const values = rows.flatMap((m) => {
        const r = m.result as JswMeasurement;
        const c = r.medialSide === imageSide ? r.medial : r.lateral;
        const w = widthOf(c);
        return w === undefined ? [] : [{ w, g: m.knee.grade }];
      });
      const early = values.filter((v) => v.g <= 1).map((v) => v.w);
      const late = values.filter((v) => v.g >= 3).map((v) => v.w);
      print(
        `| ${side} | ${imageSide} | ${values.length} | ${fixed(median(early))} | ${fixed(median(late))} | ${fixed(
          spearman(
            values.map((v) => v.w),
            values.map((v) => v.g),
          ),
          3,
        )} |`,
      );
    }
  }
  for (const side of ['R', 'L'] as const) {
    const rows = measured.filter((m) => m.knee.laterality === side && m.polarity === 'normal');
    const left = rows.filter((m) => brighterLowerCorner(m.image) === 'left').length;
    print(
      `fibula proxy (${side} files): lower outer corner brighter on the image left in ${left}/${rows.length} (${Math.round((100 * left) / Math.max(1, rows.length))} %)`,
    );
  }
  print('');
}

function reportRepeatability(measured: Measured[], random: () => number, count: number): void {
  const subset = sample(
    measured.filter((m) => m.result.status === 'measured'),
    count,
    random,
  );
  const changes = {
    flipMedial: [] as number[],
    flipLateral: [] as number[],
    shiftMedial: [] as number[],
    shiftLateral: [] as number[],
  };
  let flipRefused = 0;
  for (const m of subset) {
    const base = m.result as JswMeasurement;
    const swapped: Laterality = m.knee.laterality === 'R' ? 'L' : 'R';
    const flip = measureJointSpace(flipped(m.image), { laterality: swapped, polarity: m.polarity });
    if (flip.status === 'refused') flipRefused++;
    else {
      push(changes.flipMedial, base.medial, flip.medial);
      push(changes.flipLateral, base.lateral, flip.lateral);
    }
    for (const [dx, dy] of [
      [2.5, 0],
      [-1.5, 1.5],
      [0.5, -2.5],
    ] as const) {
      const moved = measureJointSpace(shifted(m.image, dx, dy), {
        laterality: m.knee.laterality,
        polarity: m.polarity,
      });
      if (moved.status === 'refused') continue;
      push(changes.shiftMedial, base.medial, moved.medial);
      push(changes.shiftLateral, base.lateral, moved.lateral);
    }
  }
  print(
    `## 3. Repeatability (${subset.length} measured val crops, seeded; absolute change in pixels)`,
  );
  print(`| perturbation | compartment | n | median | p90 |`);
  print(`|--------------|-------------|---|--------|-----|`);
  for (const [label, values] of [
    ['flip + side swapped', changes.flipMedial],
    ['flip + side swapped', changes.flipLateral],
    ['sub-pixel shift <= 2.5 px', changes.shiftMedial],
    ['sub-pixel shift <= 2.5 px', changes.shiftLateral],
  ] as const) {
    const compartment =
      values === changes.flipMedial || values === changes.shiftMedial ? 'medial' : 'lateral';
    print(
      `| ${label} | ${compartment} | ${values.length} | ${fixed(median(values))} | ${fixed(quantile(values, 0.9))} |`,
    );
  }
  print(`flipped images refused: ${flipRefused}`);
  print('');
}

function push(into: number[], a: CompartmentWidth, b: CompartmentWidth): void {
  const x = widthOf(a);
  const y = widthOf(b);
  if (x !== undefined && y !== undefined) into.push(Math.abs(x - y));
}

// ---------------------------------------------------------------------------
// 4. Localiser

async function reportLocaliser(
  knees: ValKnee[],
  model: KneeCheckModel,
  random: () => number,
  composites: number,
  dicomDirectory: string,
): Promise<void> {
  print('## 4. Localiser');
  const centred = sample(knees, 100, random);
  const errors: number[] = [];
  const sizes: number[] = [];
  let missed = 0;
  for (const knee of centred) {
    const { image } = await loadImageFile(knee.path);
    const found = localiseKnees(image, model, { imageLaterality: knee.laterality });
    const first = found.knees[0];
    if (found.knees.length !== 1 || first === undefined) {
      missed++;
      continue;
    }
    errors.push(Math.hypot(first.centre.x - 111.5, first.centre.y - 111.5));
    sizes.push(first.box.size);
  }
  print(
    `centred val crops (${centred.length}): one knee found in ${errors.length}, missed ${missed}; centre error px median ${fixed(median(errors), 1)}, p95 ${fixed(quantile(errors, 0.95), 1)}; crop side median ${fixed(median(sizes), 0)} px (224 expected)`,
  );

  const rights = knees.filter((k) => k.laterality === 'R');
  const lefts = knees.filter((k) => k.laterality === 'L');
  for (const withSpacing of [false, true]) {
    for (const layout of ['bilateral', 'single'] as const) {
      const centreErrors: number[] = [];
      const ious: number[] = [];
      let expected = 0;
      let missing = 0;
      let wrongSide = 0;
      let extra = 0;
      const times: number[] = [];
      const count = layout === 'bilateral' ? composites : Math.ceil(composites / 2);
      for (let i = 0; i < count; i++) {
        const pick = (pool: ValKnee[]): ValKnee =>
          pool[Math.floor(random() * pool.length)] ?? (pool[0] as ValKnee);
        const chosen =
          layout === 'bilateral'
            ? [pick(rights), pick(lefts)]
            : [pick(random() < 0.5 ? rights : lefts)];
        const images = await Promise.all(
          chosen.map(async (k) => ({
            image: (await loadImageFile(k.path)).image,
            laterality: k.laterality,
          })),
        );
        const composite = buildComposite(images, random);
        const spacing = composite.truth[0]?.pixelMm ?? 1;
        const start = performance.now();
        const found = localiseKnees(composite.image, model, {
          ...(withSpacing
            ? {
                pixelSpacing: {
                  rowMm: spacing,
                  columnMm: spacing,
                  source: 'PixelSpacing' as const,
                },
              }
            : {}),
          ...(layout === 'single' ? { imageLaterality: chosen[0]?.laterality ?? 'R' } : {}),
        });
        times.push(performance.now() - start);
        expected += composite.truth.length;
        let matched = 0;
        for (const truth of composite.truth) {
          const hit = found.knees.find(
            (k) =>
              Math.abs(k.centre.x - truth.centre.x) < truth.size / 2 &&
              Math.abs(k.centre.y - truth.centre.y) < truth.size / 2,
          );
          if (hit === undefined) {
            missing++;
            continue;
          }
          matched++;
          // In crop pixels: the error as it would appear on a 224-pixel crop.
          centreErrors.push(
            (Math.hypot(hit.centre.x - truth.centre.x, hit.centre.y - truth.centre.y) * 224) /
              truth.size,
          );
          ious.push(squareIoU({ centre: hit.centre, size: hit.box.size }, truth));
          if (hit.laterality !== truth.laterality) wrongSide++;
        }
        extra += found.knees.length - matched;
      }
      print(
        `composites ${layout}, ${withSpacing ? 'spacing known (140 mm crop)' : 'no spacing (bone-width size)'}: ${expected - missing}/${expected} knees found, ${extra} extra, wrong side ${wrongSide}; centre error (224-px crop units) median ${fixed(median(centreErrors), 1)}, p95 ${fixed(quantile(centreErrors, 0.95), 1)}; IoU median ${fixed(median(ious))}, p5 ${fixed(quantile(ious, 0.05))}; ${fixed(median(times), 0)} ms per image`,
      );
    }
  }

  const names = (await readdir(dicomDirectory)).filter((n) => n.endsWith('.dcm')).sort();
  const verdicts: string[] = [];
  for (const name of names) {
    try {
      const { image, metadata } = await loadImageFile(join(dicomDirectory, name));
      const found = localiseKnees(
        image,
        model,
        metadata.pixelSpacing === undefined ? {} : { pixelSpacing: metadata.pixelSpacing },
      );
      verdicts.push(
        `${name}: ${found.knees.length === 0 ? 'no knee' : `${found.knees.length} KNEE(S)`} (${[...new Set(found.refusals.map((r) => r.reason))].join(', ')})`,
      );
    } catch (error) {
      verdicts.push(
        `${name}: not decoded (${error instanceof Error ? error.message.slice(0, 60) : 'error'})`,
      );
    }
  }
  print(`non-knee DICOM samples: ${verdicts.join('; ')}`);
  print('');
}

// ---------------------------------------------------------------------------
// 5. Contact sheet

const TILE = 2;

function svgLine(a: { x: number; y: number }, b: { x: number; y: number }, colour: string): string {
  const s = (v: number): string => ((v + 0.5) * TILE).toFixed(1);
  return `<line x1="${s(a.x)}" y1="${s(a.y)}" x2="${s(b.x)}" y2="${s(b.y)}" stroke="${colour}" stroke-width="2"/>`;
}

async function contactTile(m: Measured): Promise<Buffer> {
  const size = m.image.width * TILE;
  const parts: string[] = [];
  const margins = findMargins(
    m.polarity === 'inverted'
      ? { ...m.image, pixels: m.image.pixels.map((v) => 255 - v) }
      : m.image,
  );
  if (margins.found) {
    const { femur, tibia, first } = margins.margins;
    const points = (rows: Float64Array): string =>
      Array.from(
        rows,
        (y, i) => `${((first + i + 0.5) * TILE).toFixed(1)},${((y + 0.5) * TILE).toFixed(1)}`,
      ).join(' ');
    parts.push(
      `<polyline points="${points(femur)}" fill="none" stroke="#ffb000" stroke-width="1" opacity="0.7"/>`,
    );
    parts.push(
      `<polyline points="${points(tibia)}" fill="none" stroke="#00d0ff" stroke-width="1" opacity="0.7"/>`,
    );
  }
  let caption = `KL${m.knee.grade} ${m.knee.laterality}`;
  const r = m.result;
  if (r.status === 'refused') caption += ` refused: ${r.reason}`;
  else {
    for (const c of [r.medial, r.lateral]) {
      const colour = c.compartment === 'medial' ? '#ff3030' : '#30ff30';
      if (c.status === 'measured') {
        parts.push(svgLine(c.femurPoint, c.tibiaPoint, colour));
        caption += ` ${c.compartment === 'medial' ? 'M' : 'L'} ${c.minWidth.toFixed(1)}px`;
      } else caption += ` ${c.compartment === 'medial' ? 'M' : 'L'} -`;
    }
    parts.push(
      `<line x1="${((r.plateau.notch + 0.5) * TILE).toFixed(1)}" y1="${((r.plateau.jointRow - 30) * TILE).toFixed(1)}" x2="${((r.plateau.notch + 0.5) * TILE).toFixed(1)}" y2="${((r.plateau.jointRow + 30) * TILE).toFixed(1)}" stroke="#8080ff" stroke-width="1" stroke-dasharray="4 4"/>`,
    );
  }
  parts.push(`<rect x="0" y="0" width="${size}" height="22" fill="black" opacity="0.6"/>`);
  parts.push(
    `<text x="4" y="16" font-family="sans-serif" font-size="14" fill="white">${caption}</text>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${parts.join('')}</svg>`;
  return sharp(Buffer.from(m.image.pixels), {
    raw: { width: m.image.width, height: m.image.height, channels: 1 },
  })
    .resize(size, size, { kernel: 'nearest' })
    .toColourspace('srgb')
    .composite([{ input: Buffer.from(svg) }])
    .png()
    .toBuffer();
}

async function contactSheet(
  measured: Measured[],
  random: () => number,
  directory: string,
): Promise<string> {
  const chosen = sample(measured, 25, random);
  const tiles = await Promise.all(chosen.map(contactTile));
  const side = 224 * TILE;
  await mkdir(directory, { recursive: true });
  const path = join(directory, 'contact-sheet.png');
  await sharp({ create: { width: side * 5, height: side * 5, channels: 3, background: '#000000' } })
    .composite(
      tiles.map((input, i) => ({ input, left: (i % 5) * side, top: Math.floor(i / 5) * side })),
    )
    .png()
    .toFile(path);
  return path;
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const seed = Number(args.seed);
  const model = await loadKneeCheckModel();
  let knees = await valKnees(args['val-dir']);
  if (args.limit !== undefined) knees = sample(knees, Number(args.limit), seededRandom(seed));
  print(`# JSW and localiser benchmark (seed ${seed}, ${knees.length} val crops)`);
  print('');
  const measured = await measureAll(knees, model);
  reportWidths(measured);
  reportSides(measured);
  reportRepeatability(measured, seededRandom(seed + 1), Number(args.subset));
  await reportLocaliser(
    knees,
    model,
    seededRandom(seed + 2),
    Number(args.composites),
    args['dicom-dir'],
  );
  const times = measured.map((m) => m.ms);
  print(
    `## 5. Time: JSW ${fixed(median(times), 1)} ms per 224 x 224 crop (median; p95 ${fixed(quantile(times, 0.95), 1)})`,
  );
  const sheet = await contactSheet(measured, seededRandom(seed + 3), args.out);
  print(`contact sheet: ${sheet}`);
}

await main();
