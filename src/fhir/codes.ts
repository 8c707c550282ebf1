/**
 * The code table of the FHIR patient reader, mappings/fhir-codes.json: which LOINC codes are
 * pain, BMI, weight, height and KOOS scores; which SNOMED CT and ICD-10 codes are the
 * conditions that change treatment; which ATC, RxNorm and SNOMED CT codes are the treatments
 * already tried; the units, limits and look-back periods. Read and validated once.
 *
 * FHIR R4 Coding (https://hl7.org/fhir/R4/datatypes.html#Coding): a concept is a system URI and
 * a code. Matching is by listed concept only (no subsumption, as there is no terminology
 * server); prefix entries stand for a whole ICD-10 category or ATC group.
 */
import type { CodeableConcept, Coding } from '@medplum/fhirtypes';
import {
  CONDITION_CODES,
  TREATMENT_CODES,
  type ConditionCode,
  type TreatmentCode,
} from '../care/facts.js';
import { loadMapping } from '../mappings.js';
import { fromRoot } from '../paths.js';
import { FieldReader, type JsonObject } from './fields.js';

export const OBSERVATION_KINDS = [
  'pain',
  'bmi',
  'bodyWeight',
  'bodyHeight',
  'koosJr',
  'koosPain',
  'koosSymptoms',
  'koosAdl',
  'koosSportRec',
  'koosQol',
] as const;
export type ObservationKind = (typeof OBSERVATION_KINDS)[number];

export const ROUTES = ['oral', 'topical', 'intra-articular'] as const;
export type Route = (typeof ROUTES)[number];

const LIMITS = ['pain', 'koos', 'bmi', 'bodyWeightKg', 'bodyHeightM'] as const;
const LOOKBACKS = ['bmi', 'bodyWeight', 'koos'] as const;

export interface Range {
  min: number;
  max: number;
}

/** One listed concept, or a whole group of codes sharing a prefix. */
export interface CodeEntry {
  system: string;
  code?: string;
  prefix?: string;
  display: string;
}

/** A set of listed concepts that a Coding is looked up in. */
export class CodeSet {
  private readonly exact = new Set<string>();
  private readonly prefixes: { system: string; prefix: string }[] = [];

  constructor(readonly entries: readonly CodeEntry[]) {
    for (const entry of entries) {
      if (entry.code !== undefined) this.exact.add(key(entry.system, entry.code));
      if (entry.prefix !== undefined) {
        this.prefixes.push({ system: entry.system, prefix: normalisePrefixed(entry.prefix) });
      }
    }
  }

  has(coding: Coding): boolean {
    const { system, code } = coding;
    if (system === undefined || code === undefined) return false;
    if (this.exact.has(key(system, code))) return true;
    const normalised = normalisePrefixed(code);
    return this.prefixes.some((p) => p.system === system && normalised.startsWith(p.prefix));
  }

  /** Whether any coding of the concept is in the set. */
  matches(concept: CodeableConcept | undefined): boolean {
    return (concept?.coding ?? []).some((coding) => this.has(coding));
  }

  /** `system|code` of every exact entry: the value of a token search for the set. */
  searchTokens(): string[] {
    return this.entries.flatMap((e) => (e.code === undefined ? [] : [`${e.system}|${e.code}`]));
  }
}

export interface ConditionCodes {
  codes: CodeSet;
  /** Whether a resolved or inactive Condition still counts (a past GI bleed does). */
  countResolved: boolean;
}

export interface MedicationCodes {
  codes: CodeSet;
  /** The treatment whatever the route. */
  treatment?: TreatmentCode;
  /** The treatment by route, when the code alone does not say (an ingredient). */
  byRoute?: Partial<Record<Route, TreatmentCode>>;
}

export interface FhirCodes {
  version: string;
  status: 'draft' | 'approved';
  observations: Record<ObservationKind, CodeSet>;
  units: {
    /** UCUM code to the factor that gives kilograms. */
    mass: ReadonlyMap<string, number>;
    /** UCUM code to the factor that gives metres. */
    length: ReadonlyMap<string, number>;
    /** UCUM code to the factor that gives kg/m². */
    bmi: ReadonlyMap<string, number>;
    score: ReadonlySet<string>;
  };
  limits: Record<(typeof LIMITS)[number], Range>;
  lookbackMonths: Record<(typeof LOOKBACKS)[number], number>;
  conditions: ReadonlyMap<ConditionCode, ConditionCodes>;
  routes: ReadonlyMap<Route, CodeSet>;
  medications: readonly MedicationCodes[];
  procedures: ReadonlyMap<TreatmentCode, CodeSet>;
}

export const FHIR_CODES_PATH = fromRoot('mappings', 'fhir-codes.json');

/** The table of mappings/fhir-codes.json (or `path`), read and validated once. */
export function fhirCodes(path = FHIR_CODES_PATH): FhirCodes {
  return loadMapping(path, 'FHIR codes', (json) => parseFhirCodes(json, path));
}

/** Validates every field, so a hand-edited file fails with a message naming the field. */
export function parseFhirCodes(json: unknown, source = 'FHIR codes'): FhirCodes {
  const read = new FieldReader(source);
  const root = read.object(json, 'the document');
  read.only(root, '', [
    'kind',
    'version',
    'status',
    'about',
    'observations',
    'units',
    'limits',
    'lookbackMonths',
    'conditions',
    'routes',
    'medications',
    'procedures',
  ]);
  if (root.kind !== 'jointspace-fhir-codes') read.fail('kind', '"jointspace-fhir-codes"');

  return {
    version: read.version(root.version, 'version'),
    status: read.choice(root.status, 'status', ['draft', 'approved'] as const),
    observations: readObservations(read, root.observations),
    units: readUnits(read, root.units),
    limits: readLimits(read, root.limits),
    lookbackMonths: readLookbacks(read, root.lookbackMonths),
    conditions: readConditions(read, root.conditions),
    routes: readKeyed(read, root.routes, 'routes', ROUTES, true),
    medications: readMedications(read, root.medications),
    procedures: readKeyed(read, root.procedures, 'procedures', TREATMENT_CODES, false),
  };
}

function readCodeSet(read: FieldReader, value: unknown, field: string): CodeSet {
  const entries = read.list(value, field).map((entry, index): CodeEntry => {
    const at = `${field}[${index}]`;
    const item = read.object(entry, at);
    read.only(item, at, ['system', 'code', 'prefix', 'display']);
    const system = read.uri(item.system, `${at}.system`);
    const display = read.text(item.display, `${at}.display`);
    if ((item.code === undefined) === (item.prefix === undefined)) {
      read.fail(at, 'an entry with either "code" or "prefix"');
    }
    return item.code === undefined
      ? { system, prefix: read.text(item.prefix, `${at}.prefix`), display }
      : { system, code: read.text(item.code, `${at}.code`), display };
  });
  if (entries.length === 0) read.fail(field, 'a non-empty array');
  return new CodeSet(entries);
}

function readObservations(read: FieldReader, value: unknown): Record<ObservationKind, CodeSet> {
  const object = read.object(value, 'observations');
  read.only(object, 'observations', OBSERVATION_KINDS);
  const result = {} as Record<ObservationKind, CodeSet>;
  for (const kind of OBSERVATION_KINDS) {
    result[kind] = readCodeSet(read, object[kind], `observations.${kind}`);
  }
  return result;
}

function readUnits(read: FieldReader, value: unknown): FhirCodes['units'] {
  const object = read.object(value, 'units');
  read.only(object, 'units', ['about', 'mass', 'length', 'bmi', 'score']);
  const factors = (field: 'mass' | 'length' | 'bmi') => {
    const table = read.object(object[field], `units.${field}`);
    const map = new Map<string, number>();
    for (const [unit, factor] of Object.entries(table)) {
      map.set(unit, read.number(factor, `units.${field}.${unit}`, Number.MIN_VALUE, 1e6));
    }
    if (map.size === 0) read.fail(`units.${field}`, 'a non-empty object');
    return map;
  };
  return {
    mass: factors('mass'),
    length: factors('length'),
    bmi: factors('bmi'),
    score: new Set(
      read.list(object.score, 'units.score').map((u, i) => read.text(u, `units.score[${i}]`)),
    ),
  };
}

function readLimits(read: FieldReader, value: unknown): FhirCodes['limits'] {
  const object = read.object(value, 'limits');
  read.only(object, 'limits', ['about', ...LIMITS]);
  const result = {} as FhirCodes['limits'];
  for (const name of LIMITS) {
    const range = read.object(object[name], `limits.${name}`);
    read.only(range, `limits.${name}`, ['min', 'max']);
    const min = read.number(range.min, `limits.${name}.min`, 0, 1000);
    const max = read.number(range.max, `limits.${name}.max`, min, 1000);
    result[name] = { min, max };
  }
  return result;
}

function readLookbacks(read: FieldReader, value: unknown): FhirCodes['lookbackMonths'] {
  const object = read.object(value, 'lookbackMonths');
  read.only(object, 'lookbackMonths', ['about', ...LOOKBACKS]);
  const result = {} as FhirCodes['lookbackMonths'];
  for (const name of LOOKBACKS) {
    result[name] = read.number(object[name], `lookbackMonths.${name}`, 1, 1200);
  }
  return result;
}

function readConditions(
  read: FieldReader,
  value: unknown,
): ReadonlyMap<ConditionCode, ConditionCodes> {
  const object = read.object(value, 'conditions');
  read.only(object, 'conditions', CONDITION_CODES);
  const result = new Map<ConditionCode, ConditionCodes>();
  for (const code of CONDITION_CODES) {
    const field = `conditions.${code}`;
    const item = read.object(object[code], field);
    read.only(item, field, ['countResolved', 'notes', 'codes']);
    read.optionalText(item.notes, `${field}.notes`);
    result.set(code, {
      codes: readCodeSet(read, item.codes, `${field}.codes`),
      countResolved: read.boolean(item.countResolved, `${field}.countResolved`),
    });
  }
  return result;
}

/** An object keyed by `keys`; all of them required when `complete`. */
function readKeyed<K extends string>(
  read: FieldReader,
  value: unknown,
  field: string,
  keys: readonly K[],
  complete: boolean,
): ReadonlyMap<K, CodeSet> {
  const object: JsonObject = read.object(value, field);
  read.only(object, field, ['about', ...keys]);
  const result = new Map<K, CodeSet>();
  for (const name of keys) {
    if (object[name] === undefined && !complete) continue;
    result.set(name, readCodeSet(read, object[name], `${field}.${name}`));
  }
  return result;
}

function readMedications(read: FieldReader, value: unknown): MedicationCodes[] {
  return read.list(value, 'medications').map((entry, index) => {
    const field = `medications[${index}]`;
    const item = read.object(entry, field);
    read.only(item, field, ['treatment', 'byRoute', 'notes', 'codes']);
    read.optionalText(item.notes, `${field}.notes`);
    const codes = readCodeSet(read, item.codes, `${field}.codes`);
    if ((item.treatment === undefined) === (item.byRoute === undefined)) {
      read.fail(field, 'an entry with either "treatment" or "byRoute"');
    }
    if (item.treatment !== undefined) {
      return {
        codes,
        treatment: read.choice(item.treatment, `${field}.treatment`, TREATMENT_CODES),
      };
    }
    const routes = read.object(item.byRoute, `${field}.byRoute`);
    read.only(routes, `${field}.byRoute`, ROUTES);
    const byRoute: Partial<Record<Route, TreatmentCode>> = {};
    for (const route of ROUTES) {
      if (routes[route] === undefined) continue;
      byRoute[route] = read.choice(routes[route], `${field}.byRoute.${route}`, TREATMENT_CODES);
    }
    if (Object.keys(byRoute).length === 0) read.fail(`${field}.byRoute`, 'a non-empty object');
    return { codes, byRoute };
  });
}

function key(system: string, code: string): string {
  return `${system}|${code}`;
}

/** ICD-10 and ATC codes are written with and without dots, in either case. */
function normalisePrefixed(code: string): string {
  return code.replaceAll('.', '').trim().toUpperCase();
}
