/**
 * Every sample in ../shared/data/dicom-samples decodes to the same picture as DCMTK (and GDCM
 * for JPEG 2000). Compared in modality values, so the VOI choice does not matter: DCMTK's
 * unwindowed 16-bit rendering is a linear map of the modality values (decreasing for
 * MONOCHROME1), so ours must fit it linearly, exactly for lossless syntaxes.
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeDicom, readDicomModality } from '../../src/imaging/dicom.js';
import { loadImageFile } from '../../src/imaging/load.js';
import type { ImageMetadata } from '../../src/imaging/types.js';
import { dcmtkReference, hostileDir, linearFit, patientNameOf, samplesDir } from './reference.js';

const JPEG2000 = new Set(['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91']);
const LOSSY = new Set([
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.51',
  '1.2.840.10008.1.2.4.81',
  '1.2.840.10008.1.2.4.91',
]);
/** DCMTK rounds to 16-bit output levels: an exact decode fits within one level. */
const LOSSLESS_MAX_RESIDUAL = 1;
const LOSSY_MIN_CORRELATION = 0.999;
const LOSSY_MEAN_RESIDUAL_OF_RANGE = 0.005;

const ALLOWED_METADATA = new Set<keyof ImageMetadata>([
  'format',
  'modality',
  'sopClassUid',
  'bodyPartExamined',
  'imageLaterality',
  'viewPosition',
  'photometricInterpretation',
  'transferSyntaxUid',
  'bitsStored',
  'pixelSpacing',
  'studyInstanceUid',
  'seriesInstanceUid',
  'sopInstanceUid',
]);

const samples = readdirSync(samplesDir)
  .filter((name) => name.endsWith('.dcm'))
  .map((name) => join(samplesDir, name));
// bad-sequence.dcm is filed as hostile but is a valid CT image that DCMTK and GDCM decode.
const decodableHostile = [join(hostileDir, 'bad-sequence.dcm')];

for (const path of [...samples, ...decodableHostile]) {
  const name = path.slice(samplesDir.length + 1);

  test(`${name}: modality values match DCMTK`, async (t) => {
    const ours = await readDicomModality(await readFile(path), name);
    const syntax = ours.metadata.transferSyntaxUid ?? '';
    const reference = await dcmtkReference(path, { jpeg2000: JPEG2000.has(syntax) });
    t.is(ours.width, reference.width);
    t.is(ours.height, reference.height);
    const fit = linearFit(ours.values, reference.values);
    t.log(
      `${syntax} ${ours.module.photometric}: slope ${fit.slope.toFixed(3)}, r ${fit.correlation.toFixed(6)}, max residual ${fit.maxResidual.toFixed(2)}`,
    );
    // DCMTK shows MONOCHROME1 inverted: its output falls as our modality values rise.
    if (ours.module.photometric === 'MONOCHROME1') t.true(fit.slope < 0);
    else t.true(fit.slope > 0);
    if (LOSSY.has(syntax)) {
      t.true(Math.abs(fit.correlation) > LOSSY_MIN_CORRELATION);
      t.true(fit.meanResidual < LOSSY_MEAN_RESIDUAL_OF_RANGE * fit.referenceRange);
    } else {
      t.true(fit.maxResidual <= LOSSLESS_MAX_RESIDUAL);
    }
  });

  test(`${name}: display image and metadata`, async (t) => {
    const bytes = await readFile(path);
    const { image, metadata } = await loadImageFile(path);
    t.is(image.pixels.length, image.width * image.height);
    t.is(metadata.format, 'dicom');
    for (const key of Object.keys(metadata))
      t.true(ALLOWED_METADATA.has(key as keyof ImageMetadata), key);
    const name = patientNameOf(bytes);
    if (name !== undefined && name.length > 2) t.false(JSON.stringify(metadata).includes(name));
    // A usable picture spreads over the gray range rather than collapsing to one level.
    const levels = new Set(image.pixels);
    t.true(levels.size > 32, `${levels.size} gray levels`);
  });
}

test('MONOCHROME1 is shown inverted (bone bright), like DCMTK through the same window', async (t) => {
  const path = join(samplesDir, 'cr-chest-mono1-10bit-implicit-nometa.dcm');
  const { image, metadata } = await decodeDicom(await readFile(path), 'chest');
  t.is(metadata.photometricInterpretation, 'MONOCHROME1');
  const reference = await dcmtkReference(path, { window: true });
  let maxDifference = 0;
  for (let i = 0; i < image.pixels.length; i++) {
    const ours = image.pixels[i] ?? 0;
    const theirs = Math.round((reference.values[i] ?? 0) / 257);
    maxDifference = Math.max(maxDifference, Math.abs(ours - theirs));
  }
  t.true(maxDifference <= 1, `max difference ${maxDifference}`);
  // The modality values themselves are not inverted: the display step does it.
  const modality = await readDicomModality(await readFile(path), 'chest');
  const fit = linearFit(modality.values, Uint16Array.from(image.pixels));
  t.true(fit.slope < 0);
});

test('metadata of the samples', async (t) => {
  const leg = (await loadImageFile(join(samplesDir, 'cr-lower-leg-j2k-lossless.dcm'))).metadata;
  t.like(leg, {
    format: 'dicom',
    modality: 'CR',
    bodyPartExamined: 'EXTREMITY',
    imageLaterality: 'R',
    viewPosition: 'AP',
    photometricInterpretation: 'MONOCHROME1',
    transferSyntaxUid: '1.2.840.10008.1.2.4.90',
    bitsStored: 10,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.1',
  });
  t.truthy(leg.studyInstanceUid);
  t.truthy(leg.seriesInstanceUid);
  t.truthy(leg.sopInstanceUid);

  const chest = (await loadImageFile(join(samplesDir, 'cr-chest-mono1-jpeg-baseline.dcm')))
    .metadata;
  t.deepEqual(chest.pixelSpacing, { rowMm: 0.175, columnMm: 0.175, source: 'PixelSpacing' });

  // Pixel Spacing 0\0 is no spacing at all.
  const lossy = (await loadImageFile(join(samplesDir, 'cr-chest-j2k-lossy-15bit.dcm'))).metadata;
  t.is(lossy.pixelSpacing, undefined);
  t.is(lossy.bitsStored, 15);

  // Enhanced MR: spacing and laterality come from the functional groups.
  const knee = (await loadImageFile(join(samplesDir, 'mr-knee.dcm'))).metadata;
  t.deepEqual(knee.pixelSpacing, { rowMm: 0.625, columnMm: 0.625, source: 'PixelSpacing' });
  t.is(knee.imageLaterality, 'R');
  t.is(knee.modality, 'MR');

  const nometa = (await loadImageFile(join(samplesDir, 'cr-chest-mono1-10bit-implicit-nometa.dcm')))
    .metadata;
  t.is(nometa.transferSyntaxUid, '1.2.840.10008.1.2');
});

test('the Modality LUT Sequence is applied (dental sample)', async (t) => {
  const path = join(samplesDir, 'cr-dental-jpeg-lossless-modality-lut.dcm');
  const ours = await readDicomModality(await readFile(path), 'dental');
  t.is(ours.modalityTransform.kind, 'lut');
  let max = 0;
  for (const value of ours.values) max = Math.max(max, value);
  // The LUT maps 10-bit stored values to a smaller output range.
  t.true(max < 1024);
});
