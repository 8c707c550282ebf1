/**
 * The KL grading network on ONNX Runtime: one session per process, reused for
 * every batch. The graph (models/training/export.py) returns calibrated
 * probabilities, raw logits and per-grade class activation maps from one
 * forward pass.
 *
 * A manifest may also list an int8 variant of the graph (`variants.int8`,
 * written by models/training/quantize.py) with its own val figures;
 * `precision: 'int8'` (JOINTSPACE_PRECISION=int8) loads it instead. Its
 * results carry the version `<version>+int8`, so every SR, FHIR resource and
 * stored result says which graph produced it.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { ort } from './onnx-runtime.js';
import { JointspaceError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { fromRoot } from '../paths.js';
import type { InputSpec } from './preprocess.js';

export const GRADES = 5;

/** models/knee-kl/model.json, written by the training script next to the ONNX file. */
export interface ModelManifest {
  name: string;
  version: string;
  file: string;
  sha256: string;
  input: InputSpec & { name: string; channels: number };
  outputs: { probabilities: string; logits: string; cam: string };
  grades: number[];
  temperature: number;
  /** Other builds of the same weights, by precision (models/training/quantize.py). */
  variants?: Partial<Record<Exclude<Precision, 'float32'>, ModelVariant>>;
}

/** A build of the manifest's weights in another precision, with what it costs on val. */
export interface ModelVariant {
  file: string;
  sha256: string;
  /** As quantize.py measured it: agreement with the float graph and the val metrics. */
  val?: Record<string, unknown>;
}

export type Precision = 'float32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['float32', 'int8'];

export type Device = 'cpu' | 'cuda';

export interface ModelOptions {
  directory?: string;
  device?: Device;
  /** Which build of the weights to run; default JOINTSPACE_PRECISION, else float32. */
  precision?: Precision;
  /** Intra-op threads; 0 lets ONNX Runtime use every core. */
  threads?: number;
  logger?: Logger;
}

export interface ClassActivationMaps {
  width: number;
  height: number;
  /** GRADES maps of width x height, one after the other. */
  data: Float32Array;
}

export interface ModelOutput {
  probabilities: number[];
  logits: number[];
  cam: ClassActivationMaps;
}

export function defaultModelDirectory(): string {
  return process.env.JOINTSPACE_MODEL_DIR ?? fromRoot('models', 'knee-kl');
}

/** A setting from the environment: unset or empty gives the first choice. */
function parseChoice<T extends string>(name: string, choices: readonly T[], value?: string): T {
  if (value === undefined || value === '') return choices[0] as T;
  const found = choices.find((choice) => choice === value);
  if (found !== undefined) return found;
  const listed = choices.map((choice) => `"${choice}"`).join(' or ');
  throw new JointspaceError('invalid-argument', `${name} must be ${listed}, got "${value}"`);
}

export function parseDevice(value: string | undefined): Device {
  return parseChoice('JOINTSPACE_DEVICE', ['cpu', 'cuda'] as const, value);
}

export function parsePrecision(value: string | undefined): Precision {
  return parseChoice('JOINTSPACE_PRECISION', PRECISIONS, value);
}

/** The manifest of the graph to load: the float one, or the variant's file under a `+int8` version. */
export function manifestFor(
  manifest: ModelManifest,
  precision: Precision,
  directory: string,
): ModelManifest {
  if (precision === 'float32') return manifest;
  const variant = manifest.variants?.[precision];
  if (variant === undefined) {
    throw new JointspaceError(
      'model-unavailable',
      `${directory}/model.json has no ${precision} variant of ${manifest.name}@${manifest.version}; make one with npm run quantize`,
      { status: 503 },
    );
  }
  return {
    ...manifest,
    file: variant.file,
    sha256: variant.sha256,
    version: `${manifest.version}+${precision}`,
  };
}

async function readManifest(directory: string): Promise<ModelManifest> {
  const path = `${directory}/model.json`;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ModelManifest;
  } catch (cause) {
    throw new JointspaceError('model-unavailable', `cannot read model manifest ${path}`, {
      cause,
      status: 503,
      permanent: false,
    });
  }
}

async function createSession(
  bytes: Uint8Array,
  device: Device,
  threads: number,
  logger?: Logger,
): Promise<{ session: ort.InferenceSession; device: Device }> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  if (device === 'cuda') {
    try {
      const session = await ort.InferenceSession.create(bytes, {
        ...options,
        executionProviders: ['cuda'],
      });
      return { session, device: 'cuda' };
    } catch (error) {
      logger?.warn('model.cuda-unavailable', {
        message: 'CUDA execution provider not available; falling back to CPU',
        error: errorMessage(error),
      });
    }
  }
  const session = await ort.InferenceSession.create(bytes, {
    ...options,
    executionProviders: ['cpu'],
  });
  return { session, device: 'cpu' };
}

export class KneeModel {
  readonly manifest: ModelManifest;
  readonly device: Device;
  readonly precision: Precision;
  readonly loadMs: number;
  private readonly session: ort.InferenceSession;

  private constructor(
    manifest: ModelManifest,
    session: ort.InferenceSession,
    device: Device,
    precision: Precision,
    loadMs: number,
  ) {
    this.manifest = manifest;
    this.session = session;
    this.device = device;
    this.precision = precision;
    this.loadMs = loadMs;
  }

  /** Loads the manifest and the ONNX graph, checking the graph's SHA-256 against the manifest. */
  static async load(options: ModelOptions = {}): Promise<KneeModel> {
    const started = performance.now();
    const directory = options.directory ?? defaultModelDirectory();
    const precision = options.precision ?? parsePrecision(process.env.JOINTSPACE_PRECISION);
    const manifest = manifestFor(await readManifest(directory), precision, directory);
    const path = `${directory}/${manifest.file}`;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (cause) {
      throw new JointspaceError('model-unavailable', `cannot read model file ${path}`, {
        cause,
        status: 503,
        permanent: false,
      });
    }
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== manifest.sha256) {
      throw new JointspaceError(
        'model-unavailable',
        `model file ${path} does not match the SHA-256 in model.json (corrupt or replaced)`,
        { status: 503 },
      );
    }
    const device = options.device ?? parseDevice(process.env.JOINTSPACE_DEVICE);
    const created = await createSession(bytes, device, options.threads ?? 0, options.logger);
    return new KneeModel(
      manifest,
      created.session,
      created.device,
      precision,
      performance.now() - started,
    );
  }

  /** `${name}@${version}`, the identity written into every result. */
  get id(): string {
    return `${this.manifest.name}@${this.manifest.version}`;
  }

  /** Runs one batch of preprocessed inputs (each size x size floats). */
  async run(inputs: Float32Array[]): Promise<ModelOutput[]> {
    if (inputs.length === 0) return [];
    const size = this.manifest.input.size;
    const plane = size * size;
    const batch = new Float32Array(inputs.length * plane);
    inputs.forEach((input, index) => {
      if (input.length !== plane) {
        throw new JointspaceError(
          'invalid-argument',
          `model input ${index} has ${input.length} values, expected ${plane}`,
        );
      }
      batch.set(input, index * plane);
    });
    const feeds = {
      [this.manifest.input.name]: new ort.Tensor('float32', batch, [inputs.length, 1, size, size]),
    };
    const outputs = await this.session.run(feeds);
    return splitOutputs(outputs, this.manifest, inputs.length);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function outputTensor(outputs: ort.InferenceSession.ReturnType, name: string): ort.Tensor {
  const tensor = outputs[name];
  if (tensor === undefined) {
    throw new JointspaceError('model-unavailable', `model has no output named "${name}"`);
  }
  return tensor;
}

function splitOutputs(
  outputs: ort.InferenceSession.ReturnType,
  manifest: ModelManifest,
  count: number,
): ModelOutput[] {
  const probabilities = outputTensor(outputs, manifest.outputs.probabilities).data as Float32Array;
  const logits = outputTensor(outputs, manifest.outputs.logits).data as Float32Array;
  const camTensor = outputTensor(outputs, manifest.outputs.cam);
  const camData = camTensor.data as Float32Array;
  const height = Number(camTensor.dims[2]);
  const width = Number(camTensor.dims[3]);
  const camStride = GRADES * width * height;

  return Array.from({ length: count }, (_, index) => ({
    probabilities: Array.from(probabilities.subarray(index * GRADES, (index + 1) * GRADES)),
    logits: Array.from(logits.subarray(index * GRADES, (index + 1) * GRADES)),
    cam: {
      width,
      height,
      data: camData.slice(index * camStride, (index + 1) * camStride),
    },
  }));
}
