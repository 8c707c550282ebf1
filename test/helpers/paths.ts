import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const sharedData = join(repoRoot, '..', 'shared', 'data');
export const kneeVal = join(sharedData, 'knee-kl', 'val');
export const dicomSamples = join(sharedData, 'dicom-samples');

/** Debian's Python with torch, torchvision, onnx and PIL; the python3 on PATH may be another one. */
export const systemPython = '/usr/bin/python3';

/** The first `count` images of each grade folder of val, sorted by name. */
export function valImages(countPerGrade: number): { path: string; grade: number }[] {
  return [0, 1, 2, 3, 4].flatMap((grade) =>
    readdirSync(join(kneeVal, String(grade)))
      .filter((name) => name.endsWith('.png'))
      .sort()
      .slice(0, countPerGrade)
      .map((name) => ({ path: join(kneeVal, String(grade), name), grade })),
  );
}
