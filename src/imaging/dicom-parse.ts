/**
 * Attribute parsing with dcmjs, behind a small typed accessor.
 *
 * dcmjs only ever sees the part of the data set in front of Pixel Data, rewrapped as a Part 10
 * file (see `dicom-wrap.ts`), so pixel bytes never go through the attribute parser.
 */
import { createRequire } from 'node:module';
import { errorMessage } from '../errors.js';
import type { TagKey } from './dicom-tags.js';
import { imagingError } from './fail.js';
import { wrapAsPart10, type ParseInput } from './dicom-wrap.js';

interface DcmjsElement {
  vr?: string;
  Value?: unknown[];
}

type DcmjsDict = Record<string, DcmjsElement | undefined>;

interface DcmjsLogger {
  getLevel(): number;
  setLevel(level: number, persist?: boolean): void;
  getLogger(name: string): DcmjsLogger;
}

interface DcmjsModule {
  data: {
    DicomMessage: {
      readFile(buffer: ArrayBuffer, options: Record<string, unknown>): { dict: DcmjsDict };
    };
    DicomMetaDictionary: {
      dictionary: Record<string, { vr?: string } | undefined>;
      sopClassNamesByUID: Record<string, string | undefined>;
    };
  };
  log: DcmjsLogger;
}

// dcmjs ships no type declarations; the few members used here are typed above.
const require = createRequire(import.meta.url);
const dcmjs = require('dcmjs') as DcmjsModule;

const LOGLEVEL_SILENT = 5;
const DCMJS_LOGGERS = ['validation.dcmjs'];
const MAX_CAUSE_MESSAGE = 200;

/** Whether the data dictionary gives VR SQ for a tag (needed to walk implicit VR data sets). */
export function isSequenceTag(tag: number): boolean {
  return lookupVr(tag) === 'SQ';
}

function lookupVr(tag: number): string | undefined {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return dcmjs.data.DicomMetaDictionary.dictionary[`(${hex.slice(0, 4)},${hex.slice(4)})`]?.vr;
}

/** The dcmjs keyword of a SOP Class (e.g. "CTImage"), for messages. */
export function sopClassName(uid: string): string | undefined {
  return dcmjs.data.DicomMetaDictionary.sopClassNamesByUID[uid];
}

/** Typed, read-only access to a dcmjs data set dictionary. */
export class DicomDataset {
  readonly #dict: DcmjsDict;

  constructor(dict: DcmjsDict) {
    this.#dict = dict;
  }

  has(tag: TagKey): boolean {
    return this.#dict[tag] !== undefined;
  }

  vr(tag: TagKey): string | undefined {
    return this.#dict[tag]?.vr;
  }

  /** First value as trimmed text, or undefined when absent or empty. */
  string(tag: TagKey): string | undefined {
    const value = this.#dict[tag]?.Value?.[0];
    if (typeof value !== 'string') return undefined;
    const trimmed = value.replace(/\0/g, '').trim();
    return trimmed === '' ? undefined : trimmed;
  }

  /** All values as finite numbers (DS and IS strings are parsed); non-numbers are dropped. */
  numbers(tag: TagKey): number[] {
    const values = this.#dict[tag]?.Value ?? [];
    const numbers: number[] = [];
    for (const value of values) {
      const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof number === 'number' && Number.isFinite(number)) numbers.push(number);
    }
    return numbers;
  }

  number(tag: TagKey, index = 0): number | undefined {
    return this.numbers(tag)[index];
  }

  /** Items of a sequence. */
  items(tag: TagKey): DicomDataset[] {
    const values = this.#dict[tag]?.Value ?? [];
    return values.filter(isDict).map((item) => new DicomDataset(item));
  }

  /** A binary value (OB, OW, UN) as bytes, its fragments joined. */
  bytes(tag: TagKey): Uint8Array | undefined {
    const values = this.#dict[tag]?.Value ?? [];
    const parts = values.filter((value): value is ArrayBuffer => value instanceof ArrayBuffer);
    if (parts.length === 0) return undefined;
    const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
    const joined = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      joined.set(new Uint8Array(part), offset);
      offset += part.byteLength;
    }
    return joined;
  }
}

function isDict(value: unknown): value is DcmjsDict {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof ArrayBuffer) &&
    !Array.isArray(value)
  );
}

/** Parses the attributes in front of Pixel Data with dcmjs. */
export function parseAttributes(input: ParseInput, label: string | undefined): DicomDataset {
  const buffer = wrapAsPart10(input);
  try {
    const message = withDcmjsSilenced(() =>
      dcmjs.data.DicomMessage.readFile(buffer, {
        ignoreErrors: false,
        untilTag: null,
        includeUntilTagValue: false,
        noCopy: true,
        forceStoreRaw: false,
      }),
    );
    return new DicomDataset(message.dict);
  } catch (error) {
    if (error instanceof RangeError) {
      throw imagingError(
        'invalid-dicom',
        label,
        `data set could not be parsed (${error.message})`,
        error,
      );
    }
    const reason = errorMessage(error)
      .replace(/[^\x20-\x7e]/g, '?')
      .slice(0, MAX_CAUSE_MESSAGE);
    throw imagingError('invalid-dicom', label, `data set could not be parsed: ${reason}`, error);
  }
}

/** Runs `action` with dcmjs's validation logging off: it would write to stdout/stderr. */
function withDcmjsSilenced<T>(action: () => T): T {
  const loggers = DCMJS_LOGGERS.map((name) => dcmjs.log.getLogger(name));
  const all = [dcmjs.log, ...loggers];
  const levels = all.map((logger) => logger.getLevel());
  for (const logger of all) logger.setLevel(LOGLEVEL_SILENT, false);
  try {
    return action();
  } finally {
    all.forEach((logger, index) => {
      logger.setLevel(levels[index] ?? LOGLEVEL_SILENT, false);
    });
  }
}
