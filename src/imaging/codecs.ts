/**
 * In-process decoders for encapsulated Pixel Data (PS3.5 8.2, A.4):
 * - JPEG baseline/extended 8-bit: @cornerstonejs/codec-libjpeg-turbo-8bit (WASM)
 * - JPEG-LS: @cornerstonejs/codec-charls (WASM)
 * - JPEG 2000: @cornerstonejs/codec-openjpeg (WASM)
 * - HTJ2K: @cornerstonejs/codec-openjph (WASM)
 * - JPEG lossless (process 14): jpeg-lossless-decoder-js (JavaScript)
 *
 * The WASM packages are Emscripten builds shipped as CommonJS factories. Each is instantiated
 * once, lazily, with its console output captured; a module whose decode throws is dropped and
 * instantiated afresh next time, because an aborted Emscripten module cannot be reused.
 */
import { createRequire } from 'node:module';

export interface DecodedFrame {
  width: number;
  height: number;
  components: number;
  bitsPerSample: number;
  /** Samples, component-interleaved unless `planar`. */
  samples: Uint8Array | Uint16Array | Int16Array;
  /** True when sample values are already signed numbers (not bit patterns to sign-extend). */
  signed: boolean;
  planar: boolean;
}

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getInterleaveMode?: () => number;
  delete(): void;
}

interface WasmModule {
  [member: string]: unknown;
  /** Present in builds that export it (CharLS): the message of a thrown C++ exception. */
  getExceptionMessage?: (exception: number) => unknown;
}
type WasmFactory = (moduleArg: Record<string, unknown>) => Promise<WasmModule>;

interface WasmCodec {
  /** Package export of the decode-only Emscripten factory. */
  entry: string;
  /** Embind class of the decoder. */
  className: string;
  loaded?: Promise<{ module: WasmModule; messages: string[] }>;
}

const codecs = {
  libjpegTurbo: {
    entry: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs',
    className: 'JPEGDecoder',
  },
  charls: { entry: '@cornerstonejs/codec-charls/decodewasmjs', className: 'JpegLSDecoder' },
  openjpeg: { entry: '@cornerstonejs/codec-openjpeg/decodewasmjs', className: 'J2KDecoder' },
  openjph: { entry: '@cornerstonejs/codec-openjph/wasmjs', className: 'HTJ2KDecoder' },
} satisfies Record<string, WasmCodec>;

export type WasmCodecName = keyof typeof codecs;

const require = createRequire(import.meta.url);
const MAX_MESSAGES = 20;
const BITS_PER_BYTE = 8;
/** CharLS interleave mode "none": one plane per component. */
const CHARLS_INTERLEAVE_NONE = 0;

/** Thrown for any failure inside a codec; the message is the codec's own, when it gave one. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

function load(codec: WasmCodec): Promise<{ module: WasmModule; messages: string[] }> {
  codec.loaded ??= (async () => {
    const factory = require(codec.entry) as WasmFactory;
    const messages: string[] = [];
    const keep = (text: unknown) => {
      messages.push(String(text));
      if (messages.length > MAX_MESSAGES) messages.shift();
    };
    const module = await factory({ print: keep, printErr: keep });
    return { module, messages };
  })();
  return codec.loaded;
}

/** Decodes one frame with a WASM codec; copies the result out of the WASM heap. */
export async function decodeWithWasm(
  name: WasmCodecName,
  encoded: Uint8Array,
): Promise<DecodedFrame> {
  const codec: WasmCodec = codecs[name];
  let loaded;
  try {
    loaded = await load(codec);
  } catch (error) {
    codec.loaded = undefined;
    throw new CodecError(`${name} codec could not be loaded`, { cause: error });
  }
  const { module, messages } = loaded;
  const Decoder = module[codec.className];
  if (typeof Decoder !== 'function')
    throw new CodecError(`${name} codec has no ${codec.className}`);
  messages.length = 0;
  let decoder: WasmDecoder | undefined;
  try {
    decoder = new (Decoder as new () => WasmDecoder)();
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    const bytes = new Uint8Array(decoder.getDecodedBuffer()); // copy out of the WASM heap
    const planar =
      decoder.getInterleaveMode?.() === CHARLS_INTERLEAVE_NONE && info.componentCount > 1;
    return toFrame(info, bytes, planar);
  } catch (error) {
    codec.loaded = undefined;
    throw new CodecError(describeFailure(module, error, messages), { cause: error });
  } finally {
    try {
      decoder?.delete();
    } catch {
      codec.loaded = undefined; // the module is in an unknown state; start afresh next time
    }
  }
}

/**
 * The codec's own words for a failure: what it printed, the message of a JavaScript error, or
 * of a C++ exception (thrown into JavaScript as a bare pointer).
 */
function describeFailure(module: WasmModule, error: unknown, messages: string[]): string {
  const printed = messages.at(-1);
  if (printed !== undefined) return printed;
  if (error instanceof Error) return error.message;
  if (typeof error === 'number') {
    const text = module.getExceptionMessage?.(error);
    if (typeof text === 'string' && text !== '') return text;
    if (Array.isArray(text)) return text.map(String).join(': ');
    return 'the codec rejected the data';
  }
  return String(error);
}

function toFrame(info: FrameInfo, bytes: Uint8Array, planar: boolean): DecodedFrame {
  const { width, height, bitsPerSample, componentCount } = info;
  const signed = info.isSigned === true;
  const count = width * height * componentCount;
  const wide = bitsPerSample > BITS_PER_BYTE;
  const needed = count * (wide ? 2 : 1);
  if (count <= 0 || bytes.length < needed) {
    throw new CodecError(
      `decoder returned ${bytes.length} bytes for a ${width}x${height}x${componentCount} frame`,
    );
  }
  const samples = wide
    ? signed
      ? new Int16Array(bytes.buffer, 0, count)
      : new Uint16Array(bytes.buffer, 0, count)
    : bytes.subarray(0, count);
  return { width, height, components: componentCount, bitsPerSample, samples, signed, planar };
}

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number): Uint8Array | Uint16Array;
  xDim: number;
  yDim: number;
  numComp: number;
  precision: number;
}

interface LosslessModule {
  Decoder: new () => LosslessDecoder;
}

/** Decodes a JPEG lossless (process 14, any predictor) frame. */
export function decodeJpegLossless(encoded: Uint8Array): DecodedFrame {
  const { Decoder } = require('jpeg-lossless-decoder-js') as LosslessModule;
  const decoder = new Decoder();
  let samples: Uint8Array | Uint16Array;
  try {
    const copy = new Uint8Array(encoded); // own buffer at offset 0, as the decoder expects
    samples = decoder.decode(copy.buffer, 0, copy.length);
  } catch (error) {
    throw new CodecError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const { xDim: width, yDim: height, numComp: components, precision } = decoder;
  if (samples.length < width * height * components) {
    throw new CodecError(
      `decoder returned ${samples.length} samples for a ${width}x${height}x${components} frame`,
    );
  }
  return {
    width,
    height,
    components,
    bitsPerSample: precision,
    samples,
    signed: false,
    planar: false,
  };
}
