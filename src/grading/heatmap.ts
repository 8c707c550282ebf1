/**
 * Class activation map (Zhou et al. 2016) of the predicted grade, upsampled
 * to the picture and blended over it as a colour heat map.
 */
import sharp from 'sharp';
import type { GrayImage } from '../imaging/types.js';
import type { ClassActivationMaps } from './model.js';

/** The CAM of one grade, positive part only, scaled to 0..1 by its maximum. */
export function activationFor(cam: ClassActivationMaps, grade: number): Float32Array {
  const plane = cam.width * cam.height;
  const map = cam.data.slice(grade * plane, (grade + 1) * plane);
  let maximum = 0;
  for (let i = 0; i < map.length; i++) {
    const value = Math.max(0, map[i] ?? 0);
    map[i] = value;
    maximum = Math.max(maximum, value);
  }
  if (maximum > 0) for (let i = 0; i < map.length; i++) map[i] = (map[i] ?? 0) / maximum;
  return map;
}

/** Bilinear upsampling with pixel centres aligned (align_corners = false). */
export function upsample(
  map: Float32Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  const out = new Float32Array(outWidth * outHeight);
  const at = (x: number, y: number) =>
    map[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))] ?? 0;
  for (let y = 0; y < outHeight; y++) {
    const sy = ((y + 0.5) * height) / outHeight - 0.5;
    const y0 = Math.floor(sy);
    const fy = sy - y0;
    for (let x = 0; x < outWidth; x++) {
      const sx = ((x + 0.5) * width) / outWidth - 0.5;
      const x0 = Math.floor(sx);
      const fx = sx - x0;
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
      const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      out[y * outWidth + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Blue → cyan → yellow → red ramp for a value in 0..1. */
export function heatColour(value: number): [number, number, number] {
  const v = Math.min(1, Math.max(0, value));
  const stops: [number, number, number][] = [
    [0, 0, 160],
    [0, 200, 255],
    [255, 230, 0],
    [230, 20, 0],
  ];
  const position = v * (stops.length - 1);
  const index = Math.min(stops.length - 2, Math.floor(position));
  const t = position - index;
  const a = stops[index] ?? [0, 0, 0];
  const b = stops[index + 1] ?? a;
  return [
    Math.round(a[0] + (b[0] - a[0]) * t),
    Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t),
  ];
}

/** RGB pixels of the picture with the activation blended in; weak activation stays transparent. */
export function blendHeatmap(image: GrayImage, activation: Float32Array, maxAlpha = 0.55): Buffer {
  const rgb = Buffer.alloc(image.width * image.height * 3);
  for (let i = 0; i < image.width * image.height; i++) {
    const gray = image.pixels[i] ?? 0;
    const value = activation[i] ?? 0;
    const alpha = maxAlpha * Math.min(1, Math.max(0, (value - 0.15) / 0.5));
    const [r, g, b] = heatColour(value);
    rgb[i * 3] = Math.round(gray * (1 - alpha) + r * alpha);
    rgb[i * 3 + 1] = Math.round(gray * (1 - alpha) + g * alpha);
    rgb[i * 3 + 2] = Math.round(gray * (1 - alpha) + b * alpha);
  }
  return rgb;
}

/** PNG of the picture with the CAM of `grade` blended in. */
export async function heatmapPng(
  image: GrayImage,
  cam: ClassActivationMaps,
  grade: number,
): Promise<Buffer> {
  const activation = upsample(
    activationFor(cam, grade),
    cam.width,
    cam.height,
    image.width,
    image.height,
  );
  const rgb = blendHeatmap(image, activation);
  return sharp(rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
}
