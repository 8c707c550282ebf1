/**
 * The knee check against its requirements: every val knee accepted (>= 99 %), every
 * non-knee DICOM sample refused with a reason naming why (the CR ones by their pixels, even
 * with the Modality header removed or replaced by DX), synthetic negatives refused, mild
 * exposure changes and small shifts accepted, and the TypeScript statistics equal to those
 * of models/training/knee_check.py.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { JointspaceError } from '../../src/errors.js';
import {
  checkKnee,
  kneeStatistics,
  kneeThumbnail,
  loadKneeCheckModel,
  parseKneeCheckModel,
  type KneeCheckModel,
  type KneeCheckVerdict,
} from '../../src/grading/knee-check.js';
import { loadImageFile } from '../../src/imaging/load.js';
import type { DecodedImage, GrayImage, ImageMetadata } from '../../src/imaging/types.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const data = join(root, '..', 'shared', 'data');
const kneeData = join(data, 'knee-kl');
const samples = join(data, 'dicom-samples');
const pixelModelPath = join(root, 'models', 'knee-kl', 'knee-check.json');
const headerRulesPath = join(root, 'mappings', 'knee-check.json');
const systemPython = '/usr/bin/python3';

/** A val knee stored with normal polarity, used for the synthetic cases. */
const referenceKnee = join(kneeData, 'val', '2', '9015402R.png');

let cachedModel: Promise<KneeCheckModel> | undefined;
function model(): Promise<KneeCheckModel> {
  cachedModel ??= loadKneeCheckModel();
  return cachedModel;
}

function png(image: GrayImage, metadata: Partial<ImageMetadata> = {}): DecodedImage {
  return { image, metadata: { format: 'png', ...metadata } };
}

function mapPixels(
  image: GrayImage,
  f: (value: number, x: number, y: number) => number,
): GrayImage {
  const pixels = new Uint8Array(image.width * image.height);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const value = f(image.pixels[y * image.width + x] ?? 0, x, y);
      pixels[y * image.width + x] = Math.min(255, Math.max(0, Math.round(value)));
    }
  }
  return { width: image.width, height: image.height, pixels };
}

function filled(width: number, height: number, f: (x: number, y: number) => number): GrayImage {
  return mapPixels({ width, height, pixels: new Uint8Array(width * height) }, (_v, x, y) =>
    f(x, y),
  );
}

/** Shifted by (dx, dy) pixels, the uncovered border filled with the nearest edge pixel. */
function shifted(image: GrayImage, dx: number, dy: number): GrayImage {
  const clamp = (value: number, size: number) => Math.min(size - 1, Math.max(0, value));
  return mapPixels(
    image,
    (_v, x, y) =>
      image.pixels[clamp(y - dy, image.height) * image.width + clamp(x - dx, image.width)] ?? 0,
  );
}

/** Turned 90 degrees clockwise. */
function quarterTurned(image: GrayImage): GrayImage {
  const { width, height } = image;
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      pixels[x * height + (height - 1 - y)] = image.pixels[y * width + x] ?? 0;
    }
  }
  return { width: height, height: width, pixels };
}

function halfTurned(image: GrayImage): GrayImage {
  return { ...image, pixels: image.pixels.slice().reverse() };
}

/** Deterministic uniform noise (a linear congruential generator). */
function noise(width: number, height: number, seed: number): GrayImage {
  let state = seed >>> 0;
  return filled(width, height, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 24;
  });
}

function failed(verdict: KneeCheckVerdict): string[] {
  return verdict.checks.filter((item) => !item.passed).map((item) => item.name);
}

async function listPngs(folder: string): Promise<string[]> {
  const grades = await readdir(folder);
  const lists = await Promise.all(
    grades.sort().map(async (grade) =>
      (await readdir(join(folder, grade)))
        .filter((name) => name.endsWith('.png'))
        .sort()
        .map((name) => join(folder, grade, name)),
    ),
  );
  return lists.flat();
}

test('the model JSON is the one knee_check.py writes, small and complete', async (t) => {
  const text = await readFile(pixelModelPath, 'utf8');
  t.true((await stat(pixelModelPath)).size < 1024 * 1024, 'under 1 MB');
  const document = JSON.parse(text) as Record<string, unknown>;
  t.is(document.kind, 'jointspace-knee-check');
  t.regex(String(document.version), /^\d+\.\d+\.\d+$/);
  t.like(document.built, { by: 'models/training/knee_check.py', from: 'knee-kl train split only' });
  t.like(document.acceptance, { percentile: 99.5, margin: 1.5, scoreLimit: 0.5 });
  const m = await model();
  t.is(m.thumbnailSize, 32);
  t.is(m.basis.length, m.eigenvalues.length);
  t.true(m.residual.limit > m.residual.median);
  t.true(m.mahalanobis.limit > m.mahalanobis.median);
  t.true(m.correlation.limit < m.correlation.median);
  t.true(m.selfTest.length >= 2);
  t.true(m.header.refusedModalities.has('MR'));
});

test('TypeScript statistics equal those of knee_check.py (self-test files)', async (t) => {
  const m = await model();
  for (const entry of m.selfTest) {
    const decoded = await loadImageFile(join(kneeData, entry.file));
    const stats = kneeStatistics(decoded.image, m);
    if (stats === undefined) {
      t.fail(`${entry.file}: no statistics`);
      continue;
    }
    t.is(stats.polarity, entry.polarity, entry.file);
    for (const key of [
      'residual',
      'mahalanobis',
      'correlation',
      'score',
      'upsideDownRatio',
    ] as const) {
      const expected = entry[key];
      t.true(
        Math.abs(stats[key] - expected) <= 1e-4 * Math.max(1, Math.abs(expected)),
        `${entry.file} ${key}: ${stats[key]} vs ${expected}`,
      );
    }
  }
});

test('thumbnail equals the Python area average for shrinking, enlarging and non-square', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-knee-check-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const m = await model();
  const files: string[] = [];
  for (const [width, height] of [
    [224, 224],
    [300, 260],
    [97, 131],
    [20, 25],
  ] as const) {
    const target = join(dir, `knee-${width}x${height}.png`);
    await sharp(referenceKnee)
      .resize(width, height, { fit: 'fill' })
      .grayscale()
      .png()
      .toFile(target);
    files.push(target);
  }
  const { stdout } = await run(
    systemPython,
    [join(root, 'models/training/knee_check.py'), '--thumbnail', ...files],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const expected = JSON.parse(stdout) as Record<string, number[]>;
  for (const file of files) {
    const thumbnail = kneeThumbnail((await loadImageFile(file)).image, m.thumbnailSize);
    const reference = expected[file] ?? [];
    t.is(reference.length, thumbnail.length);
    let worst = 0;
    thumbnail.forEach((value, index) => {
      worst = Math.max(worst, Math.abs(value - (reference[index] ?? Number.NaN)));
    });
    t.true(worst < 1e-9, `${file}: max difference ${worst}`);
  }
});

test('every val knee is accepted (>= 99 %)', async (t) => {
  const m = await model();
  const files = await listPngs(join(kneeData, 'val'));
  t.is(files.length, 826);
  const refused: string[] = [];
  const refusedWhenInvertedRefused: string[] = [];
  let inverted = 0;
  let lowest = 1;
  for (const file of files) {
    const decoded = await loadImageFile(file);
    const verdict = checkKnee(decoded, m);
    lowest = Math.min(lowest, verdict.score);
    if (verdict.polarity === 'inverted') inverted++;
    if (!verdict.accepted) refused.push(`${file}: ${verdict.reason}`);
    const strict = checkKnee(decoded, m, { invertedPolarity: 'refuse' });
    if (!strict.accepted) {
      refusedWhenInvertedRefused.push(file);
      t.regex(strict.reason, /appears inverted/);
    }
  }
  const rate = 1 - refused.length / files.length;
  const strictRate = 1 - refusedWhenInvertedRefused.length / files.length;
  t.log(
    `val acceptance ${(rate * 100).toFixed(2)} % (${files.length - refused.length}/${files.length}); lowest knee-likeness ${lowest.toFixed(3)}`,
  );
  t.log(
    `${inverted} val knees are stored inverted; with policy "refuse" the acceptance is ${(strictRate * 100).toFixed(2)} %`,
  );
  for (const line of refused) t.log(`refused: ${line}`);
  t.true(rate >= 0.99, `val acceptance ${rate}`);
});

test('non-knee DICOM samples are refused with a reason naming why', async (t) => {
  const m = await model();
  const names = (await readdir(samples)).filter((name) => name.endsWith('.dcm')).sort();
  t.true(names.length >= 7);
  for (const name of names) {
    const decoded = await loadImageFile(join(samples, name));
    const verdict = checkKnee(decoded, m);
    t.log(`${name}: score ${verdict.score.toFixed(3)}; ${verdict.reason}`);
    t.false(verdict.accepted, name);
    if (decoded.metadata.modality === 'MR') {
      t.regex(
        verdict.reason,
        /^Not a knee radiograph: Modality is MR \(magnetic resonance\); only radiographs \(CR, DX, RG\) can be graded\.$/,
      );
      t.deepEqual(failed(verdict).slice(0, 1), ['modality']);
    } else {
      t.is(decoded.metadata.modality, 'CR', name);
      t.regex(
        verdict.reason,
        /^Not a knee radiograph: the image does not resemble a knee joint \(knee-likeness (0\.\d\d|< 0\.01), at least 0\.50 required[;)]/,
      );
      t.deepEqual(failed(verdict), ['knee-likeness'], name);
    }
    // Without the header's help the pixels alone must refuse every sample, MR included.
    for (const modality of [undefined, 'DX']) {
      const withoutHeader: DecodedImage = {
        image: decoded.image,
        metadata: { format: 'dicom', modality, bodyPartExamined: 'KNEE' },
      };
      const blind = checkKnee(withoutHeader, m);
      t.false(blind.accepted, `${name} with Modality ${String(modality)}`);
      t.regex(
        blind.reason,
        /does not resemble a knee joint \(knee-likeness [^;]*; although Body Part Examined says KNEE\)\.$/,
      );
    }
  }
});

test('synthetic negatives are refused with the matching reason', async (t) => {
  const m = await model();
  const knee = (await loadImageFile(referenceKnee)).image;
  t.true(checkKnee(png(knee), m).accepted, 'the reference knee itself is accepted');

  const blank = checkKnee(png(filled(224, 224, () => 128)), m);
  t.false(blank.accepted);
  t.is(blank.score, 0);
  t.regex(blank.reason, /blank or nearly uniform/);

  const static_ = checkKnee(png(noise(224, 224, 7)), m);
  t.false(static_.accepted);
  t.regex(static_.reason, /does not resemble a knee joint/);

  for (const [label, image] of [
    ['horizontal gradient', filled(224, 224, (x) => x)],
    ['vertical gradient', filled(224, 224, (_x, y) => y)],
    ['radial gradient', filled(224, 224, (x, y) => 255 - Math.hypot(x - 112, y - 112))],
  ] as const) {
    const verdict = checkKnee(png(image), m);
    t.false(verdict.accepted, label);
    t.regex(verdict.reason, /^Not (a knee radiograph|gradable)/, label);
  }

  const rotated = checkKnee(png(quarterTurned(knee)), m);
  t.false(rotated.accepted);
  t.regex(rotated.reason, /rotated by 90 degrees/);
  const rotatedBack = checkKnee(png(quarterTurned(quarterTurned(quarterTurned(knee)))), m);
  t.false(rotatedBack.accepted);

  const upsideDown = checkKnee(png(halfTurned(knee)), m);
  t.false(upsideDown.accepted);
  t.regex(upsideDown.reason, /upside down/);

  const tiny = checkKnee(png({ width: 80, height: 80, pixels: new Uint8Array(6400).fill(90) }), m);
  t.false(tiny.accepted);
  t.regex(tiny.reason, /too small \(80 x 80 pixels/);
  const empty = checkKnee(png({ width: 0, height: 0, pixels: new Uint8Array(0) }), m);
  t.false(empty.accepted);
});

test('an inverted knee is named as inverted: flagged by default, refused under "refuse"', async (t) => {
  const m = await model();
  const knee = (await loadImageFile(referenceKnee)).image;
  const inverted = png(mapPixels(knee, (value) => 255 - value));
  const strict = checkKnee(inverted, m, { invertedPolarity: 'refuse' });
  t.false(strict.accepted);
  t.is(
    strict.reason,
    'Not gradable: the image appears inverted (bone dark; MONOCHROME1 handled wrongly?).',
  );
  t.deepEqual(failed(strict), ['polarity']);

  const flagged = checkKnee(inverted, m);
  t.is(m.invertedPolarity, 'accept-flagged');
  t.true(flagged.accepted);
  t.is(flagged.polarity, 'inverted');
  t.regex(
    flagged.reason,
    /^Knee radiograph, but displayed inverted .*MONOCHROME1 handled wrongly\?/,
  );
  t.true(flagged.score > 0.5);
});

test('mild exposure changes, small shifts and other sizes of a knee are accepted', async (t) => {
  const m = await model();
  const knee = (await loadImageFile(referenceKnee)).image;
  const variants: [string, GrayImage][] = [
    ['brighter, more contrast', mapPixels(knee, (value) => value * 1.1 + 12)],
    ['darker, less contrast', mapPixels(knee, (value) => value * 0.85 - 5)],
    ['gamma 0.85', mapPixels(knee, (value) => 255 * (value / 255) ** 0.85)],
    ['shifted right and down', shifted(knee, 8, 6)],
    ['shifted left and up', shifted(knee, -10, -8)],
    ['shifted and brighter', mapPixels(shifted(knee, 6, -6), (value) => value * 1.05 + 8)],
  ];
  const { data: big, info } = await sharp(referenceKnee)
    .resize(512, 480, { fit: 'fill' })
    .grayscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  variants.push([
    'enlarged to 512 x 480',
    { width: info.width, height: info.height, pixels: new Uint8Array(big) },
  ]);
  for (const [label, image] of variants) {
    const verdict = checkKnee(png(image), m);
    t.true(verdict.accepted, `${label}: ${verdict.reason}`);
    t.regex(verdict.reason, /^Knee radiograph: knee-likeness \d\.\d\d, at least 0\.50 required\.$/);
  }
});

test('header rules: decisive modality and SOP class refuse, others defer to the pixels', async (t) => {
  const m = await model();
  const knee = (await loadImageFile(referenceKnee)).image;
  const dicom = (metadata: Partial<ImageMetadata>) =>
    checkKnee({ image: knee, metadata: { format: 'dicom', ...metadata } }, m);

  t.true(dicom({ modality: 'DX' }).accepted);
  t.true(dicom({ modality: 'CR', sopClassUid: '1.2.840.10008.5.1.4.1.1.1' }).accepted);
  t.true(dicom({ modality: 'OT' }).accepted, 'a generic modality is decided by the pixels');
  const ct = dicom({ modality: 'ct' });
  t.false(ct.accepted);
  t.is(
    ct.reason,
    'Not a knee radiograph: Modality is CT (computed tomography); only radiographs (CR, DX, RG) can be graded.',
  );
  const sr = dicom({ modality: 'DX', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.22' });
  t.false(sr.accepted);
  t.is(sr.reason, 'Not an image: the file is a structured report.');
  const forProcessing = dicom({ modality: 'DX', sopClassUid: '1.2.840.10008.5.1.4.1.1.1.1.1' });
  t.false(forProcessing.accepted);
  t.regex(forProcessing.reason, /for processing/);

  // Body Part Examined never decides; it only adds a note.
  const chestTag = dicom({ modality: 'DX', bodyPartExamined: 'CHEST' });
  t.true(chestTag.accepted);
  t.regex(chestTag.reason, /note: Body Part Examined says CHEST/);
});

test('the loader resolves the repository from its own location and rejects broken files', async (t) => {
  const here = process.cwd();
  process.chdir(tmpdir());
  try {
    const m = await loadKneeCheckModel();
    t.true(m.basis.length > 0);
  } finally {
    process.chdir(here);
  }
  const dir = await mkdtemp(join(tmpdir(), 'jointspace-knee-check-model-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const error = await t.throwsAsync(loadKneeCheckModel(dir), { instanceOf: JointspaceError });
  t.is(error.code, 'model-unavailable');

  const pixel = JSON.parse(await readFile(pixelModelPath, 'utf8')) as Record<string, unknown>;
  const header = JSON.parse(await readFile(headerRulesPath, 'utf8')) as unknown;
  const truncated = { ...pixel, subspace: { ...(pixel.subspace as object), mean: [0, 1] } };
  const invalid = t.throws(() => parseKneeCheckModel(truncated, header), {
    instanceOf: JointspaceError,
  });
  t.regex(invalid.message, /subspace\.mean has 2 values, expected 1024/);

  await mkdir(join(dir, 'models', 'knee-kl'), { recursive: true });
  await mkdir(join(dir, 'mappings'));
  await writeFile(join(dir, 'models', 'knee-kl', 'knee-check.json'), '{');
  await writeFile(join(dir, 'mappings', 'knee-check.json'), JSON.stringify(header));
  const broken = await t.throwsAsync(loadKneeCheckModel(dir), { instanceOf: JointspaceError });
  t.regex(broken.message, /not valid JSON/);
});

test('checkKnee is fast: under 2 ms per 224 x 224 crop', async (t) => {
  const m = await model();
  const files = (await listPngs(join(kneeData, 'val'))).slice(0, 40);
  const images = await Promise.all(files.map(async (file) => loadImageFile(file)));
  for (const decoded of images) checkKnee(decoded, m);
  // The fastest of several rounds: other work on the machine only ever slows a round down.
  let perImage = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const start = process.hrtime.bigint();
    for (const decoded of images) checkKnee(decoded, m);
    perImage = Math.min(perImage, Number(process.hrtime.bigint() - start) / 1e6 / images.length);
  }
  t.log(`checkKnee: ${perImage.toFixed(3)} ms per image`);
  t.true(perImage < 2);
});
