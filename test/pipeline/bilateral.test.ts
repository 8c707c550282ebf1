/**
 * An image of both knees (Image Laterality B): each knee is found (src/grading/localise.ts),
 * graded on its own crop and measured; the SR holds both knees with their regions on the one
 * image, and each knee gets an overlay of its own. The image is a composite of two val crops
 * with bone shafts (test/grading/knee-composite.ts); real full-size radiographs are not
 * available here.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadImage } from '../../src/imaging/load.js';
import { buildComposite, seededRandom } from '../grading/knee-composite.js';
import { usePushedService } from '../helpers/pushed-service.js';
import { kneeStudy, valPictures } from './studies.js';
import { upload, waitForStudy, writtenObjects } from './support.js';

const { orthanc, service: running } = await usePushedService(test);
let folder: string | undefined;

test.before(async () => {
  folder = await mkdtemp(join(tmpdir(), 'jointspace-bilateral-'));
});

test.after.always(async () => {
  if (folder !== undefined) await rm(folder, { recursive: true, force: true });
});

test.serial('both knees of one image are graded, measured and written back', async (t) => {
  const service = running();
  if (folder === undefined) throw new Error('not started');
  // Patient's right knee on the image left (radiological convention): a right crop there.
  const right = (await valPictures(2, 40)).find((name) => name.endsWith('R.png'));
  const left = (await valPictures(3, 40)).find((name) => name.endsWith('L.png'));
  if (right === undefined || left === undefined) throw new Error('no val crops of both sides');
  const [rightCrop, leftCrop] = await Promise.all(
    [right, left].map(
      async (file) => (await loadImage(await sharp(file).png().toBuffer(), file)).image,
    ),
  );
  if (rightCrop === undefined || leftCrop === undefined) throw new Error('crops not loaded');
  const composite = buildComposite(
    [
      { image: rightCrop, laterality: 'R' },
      { image: leftCrop, laterality: 'L' },
    ],
    seededRandom(7),
    { scale: [1.2, 1.2], maxRotation: 2, text: true },
  );
  const png = join(folder, 'bilateral.png');
  await sharp(Buffer.from(composite.image.pixels), {
    raw: { width: composite.image.width, height: composite.image.height, channels: 1 },
  })
    .png()
    .toFile(png);
  const pixelMm = composite.truth[0]?.pixelMm ?? 0.5;
  const study = await kneeStudy([{ picture: png, laterality: 'B', pixelSpacing: pixelMm }]);

  const server = await orthanc();
  await upload(server, study);
  const result = await waitForStudy(service, study.studyInstanceUid);

  t.is(result.status, 'graded', JSON.stringify(result.refusals));
  t.deepEqual(result.knees.map((knee) => knee.laterality).sort(), ['L', 'R']);
  const written = await writtenObjects(server, study.studyInstanceUid);
  t.is(written.reports.length, 1);
  t.is(written.overlays.length, 2);
  const body = (await (await service.api(`/api/studies/${study.studyInstanceUid}`)).json()) as {
    knees: { laterality: string; jsw?: { unit: string | null; medialMinMm?: number } }[];
  };
  for (const knee of body.knees) {
    t.truthy(knee.jsw, knee.laterality);
    // The crop's spacing comes from the image's: millimetres, in a plausible range.
    if (knee.jsw?.medialMinMm !== undefined) {
      t.is(knee.jsw.unit, 'mm');
      t.true(knee.jsw.medialMinMm > 0.5 && knee.jsw.medialMinMm < 15, String(knee.jsw.medialMinMm));
    }
  }
});

test.serial(
  'a full radiograph of one knee, with its long bones, is graded on the knee found',
  async (t) => {
    const service = running();
    if (folder === undefined) throw new Error('not started');
    const right = (await valPictures(1, 40)).find((name) => name.endsWith('R.png'));
    if (right === undefined) throw new Error('no right val crop');
    const crop = (await loadImage(await sharp(right).png().toBuffer(), right)).image;
    const composite = buildComposite([{ image: crop, laterality: 'R' }], seededRandom(11), {
      scale: [1.3, 1.3],
      maxRotation: 2,
      text: true,
    });
    const png = join(folder, 'single.png');
    await sharp(Buffer.from(composite.image.pixels), {
      raw: { width: composite.image.width, height: composite.image.height, channels: 1 },
    })
      .png()
      .toFile(png);
    const study = await kneeStudy([
      { picture: png, laterality: 'R', pixelSpacing: composite.truth[0]?.pixelMm ?? 0.5 },
    ]);

    const server = await orthanc();
    await upload(server, study);
    const result = await waitForStudy(service, study.studyInstanceUid);

    t.is(result.status, 'graded', JSON.stringify(result.refusals));
    t.deepEqual(
      result.knees.map((knee) => knee.laterality),
      ['R'],
    );
    t.deepEqual(result.refusals, []);
    const written = await writtenObjects(server, study.studyInstanceUid);
    t.is(written.reports.length, 1);
    t.is(written.overlays.length, 1);
  },
);
