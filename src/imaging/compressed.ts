/**
 * Compressed frames (PS3.5 8.2): the codestream header is read and checked against the Image
 * Pixel Module, the stream must end with its end marker, and the codec is chosen from the
 * frame itself, since files are sometimes labelled with the wrong JPEG process.
 */
import {
  CodecError,
  decodeJpegLossless,
  decodeWithWasm,
  type DecodedFrame,
  type WasmCodecName,
} from './codecs.js';
import {
  hasEndMarker,
  readJ2kHeader,
  readJpegHeader,
  type CodestreamHeader,
} from './codestream.js';
import { imagingError } from './fail.js';
import type { Photometric, PixelModule } from './pixel-module.js';
import type { PixelEncoding, TransferSyntaxInfo } from './transfer-syntax.js';

export type CodecName = WasmCodecName | 'jpeg-lossless';

const JPEG_BASELINE_PRECISION = 8;

/** Names for messages. */
const KIND: Record<PixelEncoding, string> = {
  native: 'native',
  rle: 'RLE',
  'jpeg-baseline': 'JPEG',
  'jpeg-lossless': 'JPEG lossless',
  'jpeg-ls': 'JPEG-LS',
  jpeg2000: 'JPEG 2000',
  htj2k: 'HTJ2K',
};

/** Decodes one compressed frame and checks its size against the header. */
export async function decodeCompressed(
  frame: Uint8Array,
  module: PixelModule,
  syntax: TransferSyntaxInfo,
  label: string | undefined,
): Promise<{ decoded: DecodedFrame; codec: CodecName }> {
  const isJ2k = syntax.pixels === 'jpeg2000' || syntax.pixels === 'htj2k';
  const header = isJ2k ? readJ2kHeader(frame) : readJpegHeader(frame);
  const kind = KIND[syntax.pixels];
  if (typeof header === 'string')
    throw imagingError('decode-failed', label, `${kind} frame: ${header}`);
  checkHeader(header, module, kind, label);
  if (!hasEndMarker(frame)) {
    throw imagingError(
      'decode-failed',
      label,
      `${kind} codestream has no end marker (FFD9): the frame is truncated`,
    );
  }
  const run = codecFor(header, syntax, label);
  let decoded: DecodedFrame;
  try {
    decoded =
      run.name === 'jpeg-lossless'
        ? decodeJpegLossless(frame)
        : await decodeWithWasm(run.name, frame);
  } catch (error) {
    if (error instanceof CodecError) {
      throw imagingError(
        'decode-failed',
        label,
        `${kind} decoding failed (${run.name}): ${error.message}`,
        error,
      );
    }
    throw error;
  }
  if (
    decoded.width !== module.columns ||
    decoded.height !== module.rows ||
    decoded.components !== module.samplesPerPixel
  ) {
    throw imagingError(
      'decode-failed',
      label,
      `${run.name} decoded ${decoded.width}x${decoded.height}x${decoded.components}; expected ${module.columns}x${module.rows}x${module.samplesPerPixel}`,
    );
  }
  return { decoded, codec: run.name };
}

/**
 * Whether a codec hands back RGB for colour frames: libjpeg converts YCbCr itself, and
 * OpenJPEG/OpenJPH undo the multi-component transform of YBR_RCT/YBR_ICT; other YBR data
 * comes back as YBR.
 */
export function codecOutputIsRgb(codec: CodecName, photometric: Photometric): boolean {
  if (codec === 'libjpegTurbo') return true;
  if (codec === 'openjpeg' || codec === 'openjph')
    return photometric !== 'YBR_FULL' && photometric !== 'YBR_FULL_422';
  return photometric === 'RGB';
}

/** The frame header must agree with Rows, Columns and Samples per Pixel. */
function checkHeader(
  header: CodestreamHeader,
  module: PixelModule,
  kind: string,
  label: string | undefined,
): void {
  if (
    header.width !== module.columns ||
    header.height !== module.rows ||
    header.components !== module.samplesPerPixel
  ) {
    throw imagingError(
      'invalid-dicom',
      label,
      `${kind} frame is ${header.width}x${header.height} with ${header.components} component(s), but Columns × Rows × ` +
        `Samples per Pixel are ${module.columns}x${module.rows}x${module.samplesPerPixel}`,
    );
  }
}

/** Chooses the codec from the frame itself: files are sometimes labelled with the wrong JPEG process. */
function codecFor(
  header: CodestreamHeader,
  syntax: TransferSyntaxInfo,
  label: string | undefined,
): { name: CodecName } {
  if (syntax.pixels === 'jpeg2000') return { name: 'openjpeg' };
  if (syntax.pixels === 'htj2k') return { name: 'openjph' };
  switch (header.process) {
    case 'dct':
      if (header.precision !== JPEG_BASELINE_PRECISION) {
        throw imagingError(
          'unsupported-transfer-syntax',
          label,
          `${header.precision}-bit JPEG (extended, process 4) is not supported; only 8-bit JPEG baseline/extended is decoded`,
        );
      }
      return { name: 'libjpegTurbo' };
    case 'lossless':
      return { name: 'jpeg-lossless' };
    case 'jpeg-ls':
      return { name: 'charls' };
    case 'other':
    case undefined:
      throw imagingError(
        'unsupported-transfer-syntax',
        label,
        `JPEG frame uses a process other than baseline, extended, lossless or JPEG-LS (progressive, hierarchical or arithmetic coding are not supported)`,
      );
  }
}
