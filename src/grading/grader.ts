/**
 * Grading of decoded images: knee check, preprocessing, batched inference.
 * One Grader holds one ONNX session and is reused for every image.
 */
import type { Logger } from '../log.js';
import type { DecodedImage } from '../imaging/types.js';
import {
  checkKnee,
  loadKneeCheckModel,
  type KneeCheckModel,
  type KneeCheckVerdict,
} from './knee-check.js';
import { KneeModel, type ClassActivationMaps, type ModelOptions } from './model.js';
import { toModelInput } from './preprocess.js';

export interface GradedImage {
  status: 'graded';
  /** Most probable Kellgren–Lawrence grade, 0..4. */
  klGrade: number;
  /** Calibrated probabilities of grades 0..4; they sum to 1. */
  probabilities: number[];
  /** Probability of the reported grade. */
  confidence: number;
  kneeCheck: KneeCheckVerdict;
  cam: ClassActivationMaps;
  model: string;
}

export interface RefusedImage {
  status: 'refused';
  kneeCheck: KneeCheckVerdict;
  model: string;
}

export type GradeOutcome = GradedImage | RefusedImage;

export interface GraderOptions extends ModelOptions {
  batchSize?: number;
  logger?: Logger;
}

export interface GradeOptions {
  /** Grade even what the knee check refuses (evaluation on known knee crops). */
  gradeRefused?: boolean;
}

export class Grader {
  readonly model: KneeModel;
  readonly kneeCheckModel: KneeCheckModel;
  readonly batchSize: number;

  private constructor(model: KneeModel, kneeCheckModel: KneeCheckModel, batchSize: number) {
    this.model = model;
    this.kneeCheckModel = kneeCheckModel;
    this.batchSize = batchSize;
  }

  static async create(options: GraderOptions = {}): Promise<Grader> {
    const [model, kneeCheckModel] = await Promise.all([
      KneeModel.load(options),
      loadKneeCheckModel(),
    ]);
    options.logger?.info('model.loaded', {
      model: model.id,
      device: model.device,
      precision: model.precision,
      loadMs: Math.round(model.loadMs),
    });
    return new Grader(model, kneeCheckModel, options.batchSize ?? 16);
  }

  /** Outcomes in the order of `images`; batches of `batchSize` go through the network together. */
  async grade(images: DecodedImage[], options: GradeOptions = {}): Promise<GradeOutcome[]> {
    const verdicts = images.map((decoded) => checkKnee(decoded, this.kneeCheckModel));
    const outcomes: (GradeOutcome | undefined)[] = new Array<GradeOutcome | undefined>(
      images.length,
    );
    const queue: number[] = [];
    verdicts.forEach((verdict, index) => {
      if (verdict.accepted || options.gradeRefused === true) queue.push(index);
      else outcomes[index] = { status: 'refused', kneeCheck: verdict, model: this.model.id };
    });

    for (let start = 0; start < queue.length; start += this.batchSize) {
      const indices = queue.slice(start, start + this.batchSize);
      const inputs = indices.map((i) =>
        toModelInput(images[i]?.image ?? missing(i), this.model.manifest.input),
      );
      const results = await this.model.run(inputs);
      results.forEach((result, k) => {
        const index = indices[k] ?? missing(k);
        const klGrade = argmax(result.probabilities);
        outcomes[index] = {
          status: 'graded',
          klGrade,
          probabilities: result.probabilities,
          confidence: result.probabilities[klGrade] ?? 0,
          kneeCheck: verdicts[index] ?? missing(index),
          cam: result.cam,
          model: this.model.id,
        };
      });
    }
    return outcomes.map((outcome, index) => outcome ?? missing(index));
  }

  async close(): Promise<void> {
    await this.model.release();
  }
}

function argmax(values: number[]): number {
  return values.reduce((best, value, index) => (value > (values[best] ?? -1) ? index : best), 0);
}

function missing(index: number): never {
  throw new Error(`internal: no entry at index ${index}`);
}
