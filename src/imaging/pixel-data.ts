/**
 * From Pixel Data bytes to the samples of the first frame.
 *
 * Native data (PS3.5 8.1) is read directly; encapsulated data (PS3.5 8.2, A.4) is split into
 * frames, its codestream header checked against the Image Pixel Module, then handed to a codec.
 */
import { codecOutputIsRgb, decodeCompressed } from './compressed.js';
import type { ElementSyntax, PixelDataLocation } from './dicom-scan.js';
import { firstFrameBytes } from './encapsulated.js';
import { imagingError } from './fail.js';
import { frameBytes, type PixelModule } from './pixel-module.js';
import { decodeRle, RleError } from './rle.js';
import type { TransferSyntaxInfo } from './transfer-syntax.js';

/** Samples of one frame and how to read them into stored values. */
export interface FrameSamples {
  samples: Uint8Array | Uint16Array | Int16Array | Uint32Array;
  /** Values are already signed numbers; otherwise they are bit patterns (PS3.5 8.1.1). */
  signed: boolean;
  /** Bits to shift right before masking to Bits Stored: High Bit + 1 − Bits Stored for native and RLE. */
  shift: number;
  planar: boolean;
  /** Colour samples: already RGB (decoders convert YCbCr), or as the header says. */
  colorAsRgb: boolean;
}

const BITS_PER_BYTE = 8;

/** Decodes the first frame of the Pixel Data. */
export async function decodeFirstFrame(
  bytes: Uint8Array,
  location: PixelDataLocation,
  module: PixelModule,
  syntax: TransferSyntaxInfo & ElementSyntax,
  label: string | undefined,
): Promise<FrameSamples> {
  const shift = module.highBit + 1 - module.bitsStored;
  if (syntax.pixels === 'native') {
    if (location.kind !== 'native') {
      throw imagingError(
        'invalid-dicom',
        label,
        `Pixel Data is encapsulated but the transfer syntax ${syntax.uid} (${syntax.name}) is native`,
      );
    }
    const samples = readNative(
      bytes,
      location.offset,
      location.length,
      module,
      syntax.littleEndian,
      label,
    );
    return { samples, signed: false, shift, planar: module.planar, colorAsRgb: false };
  }
  if (location.kind !== 'encapsulated') {
    throw imagingError(
      'invalid-dicom',
      label,
      `transfer syntax ${syntax.uid} (${syntax.name}) needs encapsulated Pixel Data, but it has a defined length`,
    );
  }
  const frame = firstFrameBytes(bytes, location, module.numberOfFrames, syntax, label);
  if (syntax.pixels === 'rle') {
    return {
      samples: decodeRleFrame(frame, module, label),
      signed: false,
      shift,
      planar: false,
      colorAsRgb: false,
    };
  }
  const { decoded, codec } = await decodeCompressed(frame, module, syntax, label);
  return {
    samples: decoded.samples,
    signed: decoded.signed,
    shift: 0,
    planar: decoded.planar,
    colorAsRgb: codecOutputIsRgb(codec, module.photometric),
  };
}

/** Reads one native frame, converting byte order to the host's (little endian). */
function readNative(
  bytes: Uint8Array,
  offset: number,
  length: number,
  module: PixelModule,
  littleEndian: boolean,
  label: string | undefined,
): Uint8Array | Uint16Array | Uint32Array {
  const needed = frameBytes(module);
  if (length < needed) {
    throw imagingError(
      'invalid-dicom',
      label,
      `Pixel Data holds ${length} bytes but Rows (${module.rows}) × Columns (${module.columns}) × Samples per Pixel ` +
        `(${module.samplesPerPixel}) × Bits Allocated (${module.bitsAllocated})/8 needs ${needed} for one frame`,
    );
  }
  const copy = new Uint8Array(bytes.subarray(offset, offset + needed)); // own, aligned buffer
  const width = module.bitsAllocated / BITS_PER_BYTE;
  if (width === 1) return copy;
  if (!littleEndian) swapBytes(copy, width);
  return width === 2 ? new Uint16Array(copy.buffer) : new Uint32Array(copy.buffer);
}

/** Reverses the bytes of each `width`-byte sample in place (big endian to little endian). */
function swapBytes(data: Uint8Array, width: number): void {
  for (let i = 0; i + width <= data.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const byte = data[a] ?? 0;
      data[a] = data[b] ?? 0;
      data[b] = byte;
    }
  }
}

function decodeRleFrame(
  frame: Uint8Array,
  module: PixelModule,
  label: string | undefined,
): Uint8Array | Uint16Array | Uint32Array {
  try {
    return decodeRle(frame, module);
  } catch (error) {
    if (error instanceof RleError) throw imagingError('decode-failed', label, error.message, error);
    throw error;
  }
}
