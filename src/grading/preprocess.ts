/**
 * Model input from a grayscale image, identical to models/training/data.py
 * `preprocess`: resize to size x size with Pillow's BILINEAR filter (a
 * triangle filter widened when shrinking, applied horizontally then
 * vertically in 8-bit fixed point), then (value / 255 - mean) / std in
 * float32. test/grading/parity.test.ts holds the two implementations to the
 * same tensor.
 */
import type { GrayImage } from '../imaging/types.js';

export interface InputSpec {
  size: number;
  mean: number;
  std: number;
}

/** Fixed-point precision of Pillow's 8-bit resampler. */
const PRECISION_BITS = 32 - 8 - 2;
const FIXED_ONE = 2 ** PRECISION_BITS;

interface Taps {
  start: number[];
  count: number[];
  weights: number[][];
}

function triangle(x: number): number {
  const distance = Math.abs(x);
  return distance < 1 ? 1 - distance : 0;
}

/** Integer filter taps for resampling `inSize` samples to `outSize`. */
function bilinearTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const taps: Taps = { start: [], count: [], weights: [] };

  for (let out = 0; out < outSize; out++) {
    const centre = (out + 0.5) * scale;
    const first = Math.max(Math.trunc(centre - support + 0.5), 0);
    const count = Math.min(Math.trunc(centre + support + 0.5), inSize) - first;
    const inverseScale = 1 / filterScale;
    const raw: number[] = [];
    let total = 0;
    for (let k = 0; k < count; k++) {
      const weight = triangle((k + first - centre + 0.5) * inverseScale);
      raw.push(weight);
      total += weight;
    }
    const fixed = raw.map((weight) => {
      const normalised = total === 0 ? weight : weight / total;
      return normalised < 0
        ? Math.trunc(-0.5 + normalised * FIXED_ONE)
        : Math.trunc(0.5 + normalised * FIXED_ONE);
    });
    taps.start.push(first);
    taps.count.push(count);
    taps.weights.push(fixed);
  }
  return taps;
}

function clip8(accumulator: number): number {
  const value = Math.floor(accumulator / FIXED_ONE);
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

function resampleRows(image: GrayImage, outWidth: number): GrayImage {
  const taps = bilinearTaps(image.width, outWidth);
  const pixels = new Uint8Array(outWidth * image.height);
  for (let y = 0; y < image.height; y++) {
    const row = y * image.width;
    for (let x = 0; x < outWidth; x++) {
      const start = taps.start[x] ?? 0;
      const weights = taps.weights[x] ?? [];
      let accumulator = FIXED_ONE / 2;
      for (let k = 0; k < weights.length; k++) {
        accumulator += (image.pixels[row + start + k] ?? 0) * (weights[k] ?? 0);
      }
      pixels[y * outWidth + x] = clip8(accumulator);
    }
  }
  return { width: outWidth, height: image.height, pixels };
}

function resampleColumns(image: GrayImage, outHeight: number): GrayImage {
  const taps = bilinearTaps(image.height, outHeight);
  const pixels = new Uint8Array(image.width * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const start = taps.start[y] ?? 0;
    const weights = taps.weights[y] ?? [];
    for (let x = 0; x < image.width; x++) {
      let accumulator = FIXED_ONE / 2;
      for (let k = 0; k < weights.length; k++) {
        accumulator += (image.pixels[(start + k) * image.width + x] ?? 0) * (weights[k] ?? 0);
      }
      pixels[y * image.width + x] = clip8(accumulator);
    }
  }
  return { width: image.width, height: outHeight, pixels };
}

/** Pillow-compatible BILINEAR resize of an 8-bit image (PIL.Image.resize). */
export function resizeBilinear(image: GrayImage, width: number, height: number): GrayImage {
  const horizontal = image.width === width ? image : resampleRows(image, width);
  return horizontal.height === height ? horizontal : resampleColumns(horizontal, height);
}

/** Normalised float32 tensor of shape (1, size, size), as the ONNX input expects. */
export function toModelInput(image: GrayImage, spec: InputSpec): Float32Array {
  const resized = resizeBilinear(image, spec.size, spec.size);
  const tensor = new Float32Array(spec.size * spec.size);
  const mean = Math.fround(spec.mean);
  const std = Math.fround(spec.std);
  for (let i = 0; i < tensor.length; i++) {
    const unit = Math.fround((resized.pixels[i] ?? 0) / 255);
    tensor[i] = Math.fround(Math.fround(unit - mean) / std);
  }
  return tensor;
}
