/**
 * Format detection and the PNG/JPEG path of loadImage / loadImageFile, and the errors for
 * empty, truncated, text and missing files.
 */
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { detectFormat, loadImage, loadImageFile } from '../../src/imaging/load.js';
import { samplesDir, withTempDir } from './reference.js';
import { errorOf } from '../helpers/errors.js';

const WIDTH = 64;
const HEIGHT = 48;

/** An RGB test card: left half pure colours in bands, right half a horizontal gray ramp. */
function testCard(): Buffer {
  const data = Buffer.alloc(WIDTH * HEIGHT * 3);
  const colours = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ] as const;
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const at = (y * WIDTH + x) * 3;
      const gray = Math.round((x / (WIDTH - 1)) * 255);
      const colour = colours[Math.floor((y * colours.length) / HEIGHT)] ?? [0, 0, 0];
      const rgb = x < WIDTH / 2 ? colour : [gray, gray, gray];
      data.set(rgb, at);
    }
  }
  return data;
}

const raw = { raw: { width: WIDTH, height: HEIGHT, channels: 3 as const } };

test('PNG: RGB becomes Rec. 601 luma, gray stays gray', async (t) => {
  const png = await sharp(testCard(), raw).png().toBuffer();
  t.is(detectFormat(png), 'png');
  const { image, metadata } = await loadImage(png, 'card.png');
  t.deepEqual(metadata, { format: 'png' });
  t.is(image.width, WIDTH);
  t.is(image.height, HEIGHT);
  const at = (x: number, y: number) => image.pixels[y * WIDTH + x];
  t.is(at(0, 0), 76); // red: 0.299 × 255
  t.is(at(0, HEIGHT / 2), 150); // green: 0.587 × 255
  t.is(at(0, HEIGHT - 1), 29); // blue: 0.114 × 255
  t.is(at(WIDTH - 1, 0), 255);
  t.is(at(WIDTH / 2, 0), Math.round((WIDTH / 2 / (WIDTH - 1)) * 255));
});

test('PNG: 16-bit grayscale is reduced to 8 bits', async (t) => {
  const values = new Uint16Array(WIDTH * HEIGHT).map((_, i) => (i % WIDTH) * 1024);
  const png = await sharp(values, { raw: { width: WIDTH, height: HEIGHT, channels: 1 } })
    .toColourspace('grey16')
    .png()
    .toBuffer();
  const { image } = await loadImage(png);
  t.is(image.pixels[0], 0);
  t.is(image.pixels[WIDTH - 1], 252); // 63 × 1024 / 257
});

test('JPEG: decoded to gray within JPEG error', async (t) => {
  const jpeg = await sharp(testCard(), raw).jpeg({ quality: 95 }).toBuffer();
  t.is(detectFormat(jpeg), 'jpeg');
  const { image, metadata } = await loadImage(jpeg, 'card.jpg');
  t.is(metadata.format, 'jpeg');
  t.is(image.width, WIDTH);
  const right = image.pixels[10 * WIDTH + WIDTH - 2] ?? 0;
  t.true(Math.abs(right - 251) <= 4, `${right}`);
});

test('truncated PNG: decode-failed naming the format and the file', async (t) => {
  const png = await sharp(testCard(), raw).png().toBuffer();
  const error = await errorOf(loadImage(png.subarray(0, png.length / 2), 'half.png'));
  t.is(error.code, 'decode-failed');
  t.regex(error.message, /^half\.png: PNG could not be decoded/);
});

test('empty file: unreadable-file', async (t) => {
  const error = await errorOf(loadImage(new Uint8Array(0), 'empty.dcm'));
  t.is(error.code, 'unreadable-file');
  t.is(error.message, 'empty.dcm: file is empty');
});

test('text file: unsupported-format saying it is text', async (t) => {
  const text = new TextEncoder().encode('Patient list\nname,grade\n');
  const error = await errorOf(loadImage(text, 'notes.txt'));
  t.is(error.code, 'unsupported-format');
  t.regex(error.message, /^notes\.txt: not a PNG, JPEG or DICOM file \(found text, not an image/);
  t.false(error.message.includes('Patient list'));
});

test('unknown binary: unsupported-format quoting the first bytes', async (t) => {
  const error = await errorOf(
    loadImage(Uint8Array.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0xff])),
  );
  t.is(error.code, 'unsupported-format');
  t.regex(error.message, /starting 47 49 46 38 39 61 01 00/);
});

test('truncated DICOM (first 1000 bytes): clear invalid-dicom error', async (t) => {
  const bytes = await readFile(join(samplesDir, 'cr-lower-leg-j2k-lossless.dcm'));
  const error = await errorOf(loadImage(bytes.subarray(0, 1000), 'cut.dcm'));
  t.is(error.code, 'invalid-dicom');
  t.regex(error.message, /^cut\.dcm: .*truncated/);
});

test('truncated DICOM inside Pixel Data: decode-failed', async (t) => {
  const bytes = await readFile(join(samplesDir, 'cr-lower-leg-j2k-lossless.dcm'));
  const error = await errorOf(loadImage(bytes.subarray(0, bytes.length - 5000), 'cut.dcm'));
  t.is(error.code, 'decode-failed');
  t.regex(error.message, /truncated/);
});

test('DICOM without preamble but with File Meta Information is recognised', async (t) => {
  const bytes = await readFile(join(samplesDir, 'mr-with-overlays.dcm'));
  const { image } = await loadImage(bytes.subarray(132), 'nopreamble.dcm');
  t.is(image.width, 484);
});

test('loadImageFile: missing file and directory are unreadable-file', async (t) => {
  await withTempDir(async (dir) => {
    const missing = await errorOf(loadImageFile(join(dir, 'nope.dcm')));
    t.is(missing.code, 'unreadable-file');
    t.true(missing.message.startsWith(join(dir, 'nope.dcm')));
    const directory = await errorOf(loadImageFile(dir));
    t.is(directory.code, 'unreadable-file');
    t.regex(directory.message, /not a regular file/);
  });
});

test('loadImageFile: reads a PNG from disk', async (t) => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'card.png');
    await writeFile(path, await sharp(testCard(), raw).png().toBuffer());
    const { image } = await loadImageFile(path);
    t.is(image.width, WIDTH);
  });
});
