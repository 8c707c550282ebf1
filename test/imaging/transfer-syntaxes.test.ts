/**
 * Each transfer syntax path against the uncompressed decode of the same image: variants are
 * made with DCMTK (dcmcrle, dcmcjpls, dcmcjpeg, dcmconv, dcmdjpeg, img2dcm) in a temp folder.
 */
import test from 'ava';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { readDicomModality } from '../../src/imaging/dicom.js';
import { loadImage } from '../../src/imaging/load.js';
import { samplesDir, tool, withTempDir } from './reference.js';

interface Variant {
  name: string;
  command: string;
  args: string[];
  syntax: string;
  /** Largest difference allowed from the source values (0: lossless). */
  tolerance: number;
}

const variants: Variant[] = [
  {
    name: 'RLE Lossless',
    command: 'dcmcrle',
    args: [],
    syntax: '1.2.840.10008.1.2.5',
    tolerance: 0,
  },
  {
    name: 'JPEG-LS Lossless',
    command: 'dcmcjpls',
    args: [],
    syntax: '1.2.840.10008.1.2.4.80',
    tolerance: 0,
  },
  {
    name: 'JPEG-LS Near-Lossless',
    command: 'dcmcjpls',
    args: ['+en'],
    syntax: '1.2.840.10008.1.2.4.81',
    tolerance: 2,
  },
  {
    name: 'JPEG Lossless SV1',
    command: 'dcmcjpeg',
    args: ['+e1'],
    syntax: '1.2.840.10008.1.2.4.70',
    tolerance: 0,
  },
  {
    name: 'JPEG Lossless process 14',
    command: 'dcmcjpeg',
    args: ['+el'],
    syntax: '1.2.840.10008.1.2.4.57',
    tolerance: 0,
  },
  {
    name: 'Explicit VR Big Endian',
    command: 'dcmconv',
    args: ['+tb'],
    syntax: '1.2.840.10008.1.2.2',
    tolerance: 0,
  },
  {
    name: 'Deflated Explicit VR',
    command: 'dcmconv',
    args: ['+td'],
    syntax: '1.2.840.10008.1.2.1.99',
    tolerance: 0,
  },
  {
    name: 'Implicit VR',
    command: 'dcmconv',
    args: ['+ti'],
    syntax: '1.2.840.10008.1.2',
    tolerance: 0,
  },
];

const sources = [
  { name: 'MONOCHROME2 12-bit MR', file: 'mr-with-overlays.dcm' },
  { name: 'MONOCHROME1 10-bit CR', file: 'cr-chest-mono1-10bit-implicit-nometa.dcm' },
];

function maxDifference(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

for (const source of sources) {
  test(`${source.name}: every transfer syntax decodes to the uncompressed values`, async (t) => {
    await withTempDir(async (dir) => {
      // The tools need a Part 10 file; the CR sample has no meta header.
      const input = join(dir, 'source.dcm');
      await tool('dcmconv', ['+te', join(samplesDir, source.file), input]);
      const expected = await readDicomModality(await readFile(input), 'source');
      for (const variant of variants) {
        const output = join(dir, `${variant.command}-${variant.args.join('')}.dcm`);
        await tool(variant.command, [...variant.args, input, output]);
        const decoded = await readDicomModality(await readFile(output), variant.name);
        t.is(decoded.metadata.transferSyntaxUid, variant.syntax, variant.name);
        const difference = maxDifference(decoded.values, expected.values);
        t.true(difference <= variant.tolerance, `${variant.name}: max difference ${difference}`);
        t.is(decoded.module.photometric, expected.module.photometric);
      }
    });
  });
}

test('colour: JPEG baseline YBR_FULL_422, RGB, planar RGB, RLE RGB and YBR_FULL give the same luma', async (t) => {
  await withTempDir(async (dir) => {
    const width = 64;
    const height = 48;
    const rgb = Buffer.alloc(width * height * 3);
    // Moderate colours: saturated ones clip when YCbCr goes back to RGB, and Y ≠ luma there.
    for (let i = 0; i < width * height; i++)
      rgb.set([64 + ((i * 7) % 128), 64 + ((i * 3) % 128), 64 + ((i >> 4) % 128)], 3 * i);
    const jpegPath = join(dir, 'colour.jpg');
    await writeFile(
      jpegPath,
      await sharp(rgb, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 95 })
        .toBuffer(),
    );
    const files = {
      jpeg: join(dir, 'jpeg.dcm'),
      rgb: join(dir, 'rgb.dcm'),
      planar: join(dir, 'planar.dcm'),
      rle: join(dir, 'rle.dcm'),
      ybr: join(dir, 'ybr.dcm'),
    };
    await tool('img2dcm', [jpegPath, files.jpeg]);
    await tool('dcmdjpeg', [files.jpeg, files.rgb]);
    await tool('dcmdjpeg', ['+pl', files.jpeg, files.planar]);
    await tool('dcmcrle', [files.rgb, files.rle]);
    await tool('dcmdjpeg', ['+cn', files.jpeg, files.ybr]);
    const decode = async (path: string) =>
      (await loadImage(await readFile(path), path)).image.pixels;
    const reference = await decode(files.rgb);
    t.is(reference.length, width * height);
    t.is(maxDifference(await decode(files.planar), reference), 0, 'planar RGB');
    t.is(maxDifference(await decode(files.rle), reference), 0, 'RLE RGB');
    t.true(
      maxDifference(await decode(files.jpeg), reference) <= 2,
      'JPEG YBR_FULL_422 (decoder rounding)',
    );
    t.true(maxDifference(await decode(files.ybr), reference) <= 2, 'YBR_FULL Y against RGB luma');
    // The same picture as a plain JPEG file gives the same gray levels.
    t.true(
      maxDifference((await loadImage(await readFile(jpegPath))).image.pixels, reference) <= 2,
      'JPEG file',
    );
    const metadata = (await loadImage(await readFile(files.jpeg))).metadata;
    t.is(metadata.photometricInterpretation, 'YBR_FULL_422');
  });
});

test('a bare data set (no preamble, no meta header) in explicit VR is recognised', async (t) => {
  await withTempDir(async (dir) => {
    const explicit = join(dir, 'explicit.dcm');
    const bare = join(dir, 'bare.dcm');
    await copyFile(join(samplesDir, 'mr-with-overlays.dcm'), explicit);
    await tool('dcmconv', ['-F', '+te', explicit, bare]);
    const bytes = await readFile(bare);
    t.not(bytes.subarray(128, 132).toString('latin1'), 'DICM');
    const decoded = await readDicomModality(bytes, 'bare');
    const expected = await readDicomModality(await readFile(explicit), 'explicit');
    t.is(maxDifference(decoded.values, expected.values), 0);
  });
});
