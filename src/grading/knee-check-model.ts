/**
 * The knee check's model: the eigen-knee pixel model (models/knee-kl/knee-check.json, built
 * by models/training/knee_check.py from the train split) and the header rules
 * (mappings/knee-check.json), read and validated once. Every field is checked on load, so a
 * broken or hand-edited file fails with a message naming the field instead of a wrong verdict.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JointspaceError, errorMessage } from '../errors.js';
import { repositoryRoot } from '../paths.js';

export type InvertedPolarityPolicy = 'accept-flagged' | 'refuse';
export type Polarity = 'normal' | 'inverted';

export interface Limit {
  median: number;
  limit: number;
}

interface ModalityRule {
  code: string;
  name: string;
}

interface SopClassRule {
  uid: string;
  name: string;
  reason: string;
}

/** The pixel statistics of an image, as knee_check.py computes them for its self-test. */
export interface KneeStatistics {
  polarity: Polarity;
  residual: number;
  mahalanobis: number;
  correlation: number;
  score: number;
  /** Combined distance turned by 180 degrees / as given; below the model's ratio = upside down. */
  upsideDownRatio: number;
}

/** One reference image with the statistics knee_check.py computed for it (parity tests). */
export interface KneeCheckSelfTest extends KneeStatistics {
  file: string;
}

export interface KneeCheckModel {
  version: string;
  built: Record<string, unknown>;
  thumbnailSize: number;
  minSide: number;
  minStd: number;
  mean: Float64Array;
  /** Principal components, one row of thumbnailSize^2 per component. */
  basis: Float64Array[];
  eigenvalues: Float64Array;
  /** Mean discarded eigenvalue, weighting the residual in the combined distance. */
  rho: number;
  residual: Limit;
  mahalanobis: Limit;
  correlation: Limit;
  scoreLimit: number;
  upsideDownRatio: number;
  selfTest: KneeCheckSelfTest[];
  header: {
    version: string;
    radiographs: ModalityRule[];
    refusedModalities: Map<string, ModalityRule>;
    refuseTemplate: string;
    refusedSopClasses: Map<string, SopClassRule>;
  };
  invertedPolarity: InvertedPolarityPolicy;
}

const PIXEL_MODEL = join('models', 'knee-kl', 'knee-check.json');
const HEADER_RULES = join('mappings', 'knee-check.json');

function invalid(file: string, what: string): JointspaceError {
  return new JointspaceError('model-unavailable', `knee check model ${file}: ${what}`, {
    status: 503,
  });
}

type Json = Record<string, unknown>;

function object(value: unknown, file: string, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(file, `${where} is not an object`);
  }
  return value as Json;
}

function number(value: unknown, file: string, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(file, `${where} is not a finite number`);
  }
  return value;
}

function string(value: unknown, file: string, where: string): string {
  if (typeof value !== 'string' || value === '') {
    throw invalid(file, `${where} is not a non-empty string`);
  }
  return value;
}

function array(value: unknown, file: string, where: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(file, `${where} is not an array`);
  return value as unknown[];
}

function vector(value: unknown, length: number, file: string, where: string): Float64Array {
  const items = array(value, file, where);
  if (items.length !== length) {
    throw invalid(file, `${where} has ${items.length} values, expected ${length}`);
  }
  return Float64Array.from(items, (item, index) => number(item, file, `${where}[${index}]`));
}

function limit(value: unknown, file: string, where: string): Limit {
  const entry = object(value, file, where);
  const result = {
    median: number(entry.median, file, `${where}.median`),
    limit: number(entry.limit, file, `${where}.limit`),
  };
  if (result.median === result.limit) throw invalid(file, `${where} has limit equal to median`);
  return result;
}

function policy(value: unknown, file: string): InvertedPolarityPolicy {
  if (value === 'accept-flagged' || value === 'refuse') return value;
  throw invalid(file, `policy.invertedPolarity must be "accept-flagged" or "refuse"`);
}

/**
 * Validates the two JSON documents (pixel model, header rules) and builds the model.
 * `names` label the documents in error messages.
 */
export function parseKneeCheckModel(
  pixelDocument: unknown,
  headerDocument: unknown,
  names: { pixel: string; header: string } = { pixel: PIXEL_MODEL, header: HEADER_RULES },
): KneeCheckModel {
  const p = names.pixel;
  const root = object(pixelDocument, p, 'document');
  if (root.kind !== 'jointspace-knee-check') throw invalid(p, 'kind is not jointspace-knee-check');
  const thumbnail = object(root.thumbnail, p, 'thumbnail');
  const size = number(thumbnail.size, p, 'thumbnail.size');
  if (!Number.isInteger(size) || size < 4)
    throw invalid(p, 'thumbnail.size is not an integer >= 4');
  const dims = size * size;
  const pixels = object(root.pixels, p, 'pixels');
  const subspace = object(root.subspace, p, 'subspace');
  const components = number(subspace.components, p, 'subspace.components');
  const basisRows = array(subspace.basis, p, 'subspace.basis');
  if (!Number.isInteger(components) || components < 1 || basisRows.length !== components) {
    throw invalid(p, 'subspace.components does not match subspace.basis');
  }
  const eigenvalues = vector(subspace.eigenvalues, components, p, 'subspace.eigenvalues');
  if (eigenvalues.some((value) => value <= 0)) throw invalid(p, 'eigenvalues must be positive');
  const rho = number(subspace.rho, p, 'subspace.rho');
  if (rho <= 0) throw invalid(p, 'subspace.rho must be positive');
  const statistics = object(root.statistics, p, 'statistics');
  const acceptance = object(root.acceptance, p, 'acceptance');

  const h = names.header;
  const header = object(headerDocument, h, 'document');
  const modalities = object(header.modalities, h, 'modalities');
  const modalityRule = (value: unknown, where: string): ModalityRule => {
    const entry = object(value, h, where);
    return {
      code: string(entry.code, h, `${where}.code`).toUpperCase(),
      name: string(entry.name, h, `${where}.name`),
    };
  };
  const radiographs = array(modalities.radiograph, h, 'modalities.radiograph').map((entry, i) =>
    modalityRule(entry, `modalities.radiograph[${i}]`),
  );
  const refused = array(modalities.refuse, h, 'modalities.refuse').map((entry, i) =>
    modalityRule(entry, `modalities.refuse[${i}]`),
  );
  const sopClasses = object(header.sopClasses, h, 'sopClasses');
  const refusedSop = array(sopClasses.refuse, h, 'sopClasses.refuse').map((value, i) => {
    const entry = object(value, h, `sopClasses.refuse[${i}]`);
    return {
      uid: string(entry.uid, h, `sopClasses.refuse[${i}].uid`),
      name: string(entry.name, h, `sopClasses.refuse[${i}].name`),
      reason: string(entry.reason, h, `sopClasses.refuse[${i}].reason`),
    };
  });
  const headerPolicy = object(header.policy, h, 'policy');

  return {
    version: string(root.version, p, 'version'),
    built: object(root.built, p, 'built'),
    thumbnailSize: size,
    minSide: number(pixels.minSide, p, 'pixels.minSide'),
    minStd: number(pixels.minStd, p, 'pixels.minStd'),
    mean: vector(subspace.mean, dims, p, 'subspace.mean'),
    basis: basisRows.map((row, i) => vector(row, dims, p, `subspace.basis[${i}]`)),
    eigenvalues,
    rho,
    residual: limit(statistics.residual, p, 'statistics.residual'),
    mahalanobis: limit(statistics.mahalanobis, p, 'statistics.mahalanobis'),
    correlation: limit(statistics.correlation, p, 'statistics.correlation'),
    scoreLimit: number(acceptance.scoreLimit, p, 'acceptance.scoreLimit'),
    upsideDownRatio: number(acceptance.upsideDownRatio, p, 'acceptance.upsideDownRatio'),
    selfTest: array(root.selfTest ?? [], p, 'selfTest').map((value, i) => {
      const entry = object(value, p, `selfTest[${i}]`);
      return {
        file: string(entry.file, p, `selfTest[${i}].file`),
        polarity: entry.polarity === 'inverted' ? 'inverted' : 'normal',
        residual: number(entry.residual, p, `selfTest[${i}].residual`),
        mahalanobis: number(entry.mahalanobis, p, `selfTest[${i}].mahalanobis`),
        correlation: number(entry.correlation, p, `selfTest[${i}].correlation`),
        score: number(entry.score, p, `selfTest[${i}].score`),
        upsideDownRatio: number(entry.upsideDownRatio, p, `selfTest[${i}].upsideDownRatio`),
      };
    }),
    header: {
      version: string(header.version, h, 'version'),
      radiographs,
      refusedModalities: new Map(refused.map((rule) => [rule.code, rule])),
      refuseTemplate: string(modalities.refuseTemplate, h, 'modalities.refuseTemplate'),
      refusedSopClasses: new Map(refusedSop.map((rule) => [rule.uid, rule])),
    },
    invertedPolarity: policy(headerPolicy.invertedPolarity, h),
  };
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new JointspaceError('model-unavailable', `knee check model ${path} cannot be read`, {
      cause: error,
      status: 503,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid(path, `not valid JSON (${errorMessage(error)})`);
  }
}

/**
 * Loads models/knee-kl/knee-check.json and mappings/knee-check.json below `dir`, the
 * repository root by default (found from this module's location, not the working directory).
 */
export async function loadKneeCheckModel(dir: string = repositoryRoot): Promise<KneeCheckModel> {
  const pixelPath = join(dir, PIXEL_MODEL);
  const headerPath = join(dir, HEADER_RULES);
  const [pixel, header] = await Promise.all([readJson(pixelPath), readJson(headerPath)]);
  return parseKneeCheckModel(pixel, header, { pixel: pixelPath, header: headerPath });
}
