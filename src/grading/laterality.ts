/**
 * Which knee a frontal knee image shows, from the pixels: the laterality model
 * (models/knee-kl/laterality.onnx, trained by models/training/laterality.py). The pipeline
 * asks it only when the header has neither Image Laterality nor Laterality.
 *
 * An answer below the confidence floor is no answer: the image is then refused with a reason
 * instead of being filed under the wrong knee.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ort } from './onnx-runtime.js';
import { JointspaceError } from '../errors.js';
import type { GrayImage } from '../imaging/types.js';
import { defaultModelDirectory } from './model.js';
import { toModelInput, type InputSpec } from './preprocess.js';

export interface LateralityManifest {
  name: string;
  version: string;
  file: string;
  sha256: string;
  input: InputSpec & { name: string };
  /** Output order, e.g. ["L", "R"]. */
  labels: string[];
  val: { n: number; accuracy: number; accuracyFlipped: number };
}

export interface LateralityEstimate {
  laterality: 'R' | 'L';
  /** Probability of that side. */
  confidence: number;
}

/** Below this, the side is taken as unknown. */
export const LATERALITY_MIN_CONFIDENCE = 0.9;

export class LateralityModel {
  private constructor(
    readonly manifest: LateralityManifest,
    private readonly session: ort.InferenceSession,
    private readonly rightIndex: number,
  ) {}

  static async load(directory = defaultModelDirectory()): Promise<LateralityModel> {
    const manifestPath = join(directory, 'laterality.json');
    let manifest: LateralityManifest;
    let bytes: Uint8Array;
    try {
      manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as LateralityManifest;
      bytes = await readFile(join(directory, manifest.file));
    } catch (cause) {
      throw new JointspaceError(
        'model-unavailable',
        `cannot read the laterality model in ${directory}`,
        {
          cause,
          status: 503,
        },
      );
    }
    if (createHash('sha256').update(bytes).digest('hex') !== manifest.sha256) {
      throw new JointspaceError(
        'model-unavailable',
        `${manifest.file} does not match the SHA-256 in laterality.json (corrupt or replaced)`,
        { status: 503 },
      );
    }
    const rightIndex = manifest.labels.indexOf('R');
    if (rightIndex < 0 || manifest.labels.length !== 2 || !manifest.labels.includes('L')) {
      throw new JointspaceError(
        'model-unavailable',
        'laterality.json: labels must be "L" and "R"',
        {
          status: 503,
        },
      );
    }
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    return new LateralityModel(manifest, session, rightIndex);
  }

  /** One estimate per image, in order. */
  async estimate(images: readonly GrayImage[]): Promise<LateralityEstimate[]> {
    if (images.length === 0) return [];
    const { size } = this.manifest.input;
    const plane = size * size;
    const batch = new Float32Array(images.length * plane);
    images.forEach((image, index) => {
      batch.set(toModelInput(image, this.manifest.input), index * plane);
    });
    const outputs = await this.session.run({
      [this.manifest.input.name]: new ort.Tensor('float32', batch, [images.length, 1, size, size]),
    });
    const probabilities = outputs.probabilities?.data as Float32Array | undefined;
    if (probabilities?.length !== images.length * 2) {
      throw new JointspaceError('model-unavailable', 'laterality model: unexpected output shape');
    }
    return images.map((_, index) => {
      const right = probabilities[index * 2 + this.rightIndex] ?? 0;
      return right >= 0.5
        ? { laterality: 'R', confidence: right }
        : { laterality: 'L', confidence: 1 - right };
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
