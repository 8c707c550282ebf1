/**
 * Entry point of the imaging package: any supported image file → 8-bit grayscale display
 * image (bone bright) plus header metadata.
 *
 * The format is recognised from the content, never from the file name: PNG signature, JPEG
 * start-of-image marker, "DICM" at byte 128 (DICOM Part 10), or a bare DICOM data set.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { errorMessage, JointspaceError } from '../errors.js';
import { decodeDicom } from './dicom.js';
import { hasPart10Magic, sniffBareDataset } from './dicom-file.js';
import { imagingError } from './fail.js';
import { MAX_FILE_BYTES, MAX_IMAGE_SIDE } from './limits.js';
import { luma } from './luma.js';
import type { DecodedImage } from './types.js';

export type DetectedFormat = 'png' | 'jpeg' | 'dicom';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SOI = [0xff, 0xd8, 0xff];
/** Bytes quoted (as hex) in the error for an unrecognised file. */
const SNIPPET_BYTES = 8;
/** Leading bytes checked to call a file text. */
const SNIFF_TEXT_BYTES = 512;
const PRINTABLE = /^[\x20-\x7e\t\r\n]*$/;
const RGB_CHANNELS = 3;

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((value, index) => bytes[index] === value);
}

/** Recognises the format from the leading bytes, or returns undefined. */
export function detectFormat(bytes: Uint8Array): DetectedFormat | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, JPEG_SOI)) return 'jpeg';
  if (hasPart10Magic(bytes) || sniffBareDataset(bytes) !== undefined) return 'dicom';
  return undefined;
}

/** What an unrecognised file looks like, for the error message (never its text content). */
function describeUnknown(bytes: Uint8Array): string {
  const head = bytes.subarray(0, Math.min(bytes.length, SNIFF_TEXT_BYTES));
  if (PRINTABLE.test(Buffer.from(head).toString('latin1'))) return 'text, not an image';
  const hex = Array.from(bytes.subarray(0, SNIPPET_BYTES), (byte) =>
    byte.toString(16).padStart(2, '0'),
  ).join(' ');
  return `unknown binary content starting ${hex}`;
}

/**
 * Decodes an image held in memory. `label` (a file name, an instance id) prefixes every error
 * message so that the operator can tell which input failed.
 */
export async function loadImage(bytes: Uint8Array, label?: string): Promise<DecodedImage> {
  if (bytes.length === 0) throw imagingError('unreadable-file', label, 'file is empty');
  const format = detectFormat(bytes);
  switch (format) {
    case 'png':
    case 'jpeg':
      return decodeRaster(bytes, format, label);
    case 'dicom':
      return decodeDicom(bytes, label);
    case undefined:
      throw imagingError(
        'unsupported-format',
        label,
        `not a PNG, JPEG or DICOM file (found ${describeUnknown(bytes)}; ${bytes.length} bytes)`,
      );
  }
}

/** Reads and decodes an image file. */
export async function loadImageFile(path: string): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw imagingError('unreadable-file', path, 'not a regular file');
    if (info.size > MAX_FILE_BYTES) {
      throw imagingError(
        'limit-exceeded',
        path,
        `file is ${info.size} bytes; at most ${MAX_FILE_BYTES} are read`,
      );
    }
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof JointspaceError) throw error;
    throw imagingError('unreadable-file', path, `cannot read file: ${errorMessage(error)}`, error);
  }
  return loadImage(bytes, path);
}

/**
 * PNG or JPEG through sharp: EXIF orientation applied, alpha flattened onto black, then
 * luma from sRGB (see `luma.ts`).
 */
async function decodeRaster(
  bytes: Uint8Array,
  format: 'png' | 'jpeg',
  label: string | undefined,
): Promise<DecodedImage> {
  const { data, info } = await sharp(bytes, {
    failOn: 'truncated',
    limitInputPixels: MAX_IMAGE_SIDE * MAX_IMAGE_SIDE,
  })
    .autoOrient()
    .flatten({ background: '#000000' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw rasterError(error, format, label);
    });
  if (info.channels !== RGB_CHANNELS) {
    throw imagingError(
      'decode-failed',
      label,
      `${format.toUpperCase()} decoded to ${info.channels} channels; expected 3`,
    );
  }
  const pixels = new Uint8Array(info.width * info.height);
  for (let i = 0; i < pixels.length; i++) {
    const at = i * RGB_CHANNELS;
    pixels[i] = Math.round(luma(data[at] ?? 0, data[at + 1] ?? 0, data[at + 2] ?? 0));
  }
  return { image: { width: info.width, height: info.height, pixels }, metadata: { format } };
}

function rasterError(
  error: unknown,
  format: 'png' | 'jpeg',
  label: string | undefined,
): JointspaceError {
  const reason = errorMessage(error);
  const name = format.toUpperCase();
  return /pixel limit/i.test(reason)
    ? imagingError(
        'limit-exceeded',
        label,
        `${name} image is larger than ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE} pixels`,
        error,
      )
    : imagingError('decode-failed', label, `${name} could not be decoded: ${reason}`, error);
}
