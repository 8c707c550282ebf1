import { readFileSync } from 'node:fs';
import test from 'ava';
import { CONDITION_CODES } from '../care/facts.js';
import { JointspaceError } from '../errors.js';
import { CodeSet, FHIR_CODES_PATH, fhirCodes, parseFhirCodes } from './codes.js';

const SCT = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const shipped = JSON.parse(readFileSync(FHIR_CODES_PATH, 'utf8')) as Record<string, unknown>;

test('the shipped table loads, with every condition and the issue’s LOINC codes', (t) => {
  const codes = fhirCodes();

  t.is(codes.status, 'draft');
  t.deepEqual([...codes.conditions.keys()].sort(), [...CONDITION_CODES].sort());
  const loinc = (code: string) => ({ system: 'http://loinc.org', code });
  t.true(codes.observations.pain.has(loinc('72514-3')));
  t.true(codes.observations.pain.has(loinc('38208-5')));
  t.true(codes.observations.bmi.has(loinc('39156-5')));
  t.true(codes.observations.bodyWeight.has(loinc('29463-7')));
  t.true(codes.observations.bodyHeight.has(loinc('8302-2')));
  t.true(codes.observations.koosJr.has(loinc('82332-8')));
  t.true(codes.observations.koosPain.has(loinc('72102-7')));
});

test('exact codes match only in their own system', (t) => {
  const set = new CodeSet([{ system: SCT, code: '44054006', display: 'Diabetes mellitus type 2' }]);

  t.true(set.has({ system: SCT, code: '44054006' }));
  t.false(set.has({ system: ICD10, code: '44054006' }));
  t.false(set.has({ code: '44054006' }));
  t.false(set.has({ system: SCT, code: '4405400' }));
  t.true(
    set.matches({
      coding: [
        { system: ICD10, code: 'E11' },
        { system: SCT, code: '44054006' },
      ],
    }),
  );
  t.false(set.matches(undefined));
});

test('prefix entries match codes with and without dots, in either case', (t) => {
  const set = new CodeSet([{ system: ICD10, prefix: 'K92.2', display: 'GI haemorrhage' }]);

  t.true(set.has({ system: ICD10, code: 'K92.2' }));
  t.true(set.has({ system: ICD10, code: 'K922' }));
  t.true(set.has({ system: ICD10, code: 'k92.20' }));
  t.false(set.has({ system: ICD10, code: 'K92.1' }));
  t.false(set.has({ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'K92.2' }));
});

test('search tokens list the exact codes', (t) => {
  t.deepEqual(fhirCodes().observations.pain.searchTokens(), [
    'http://loinc.org|72514-3',
    'http://loinc.org|38208-5',
  ]);
});

/** A copy of the shipped table with the value at `path` replaced, or removed when undefined. */
function edited(path: (string | number)[], value: unknown): unknown {
  const doc = structuredClone(shipped);
  let node = doc as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path.at(-1) ?? '';
  if (value === undefined) Reflect.deleteProperty(node, last);
  else node[last] = value;
  return doc;
}

const frailty = (shipped.conditions as Record<string, unknown>).frailty;

const broken: [string, (string | number)[], unknown, RegExp][] = [
  ['a wrong kind', ['kind'], 'rules', /kind must be "jointspace-fhir-codes"/],
  ['a bad version', ['version'], '1.0', /version must be MAJOR.MINOR.PATCH/],
  ['a misspelt key', ['condition'], {}, /condition is not a known field/],
  [
    'a missing condition',
    ['conditions', 'frailty'],
    undefined,
    /conditions\.frailty must be an object/,
  ],
  [
    'an unknown condition',
    ['conditions', 'gout'],
    frailty,
    /conditions\.gout is not a known field/,
  ],
  [
    'a code without system',
    ['conditions', 'diabetes', 'codes', 0, 'system'],
    undefined,
    /conditions\.diabetes\.codes\[0\]\.system must be a non-empty string/,
  ],
  [
    'a system that is not a URI',
    ['observations', 'pain', 0, 'system'],
    'LOINC',
    /observations\.pain\[0\]\.system must be an absolute URI/,
  ],
  [
    'both code and prefix',
    ['conditions', 'diabetes', 'codes', 0, 'prefix'],
    'E11',
    /conditions\.diabetes\.codes\[0\] must be an entry with either "code" or "prefix"/,
  ],
  [
    'an unknown treatment',
    ['medications', 0, 'treatment'],
    'aspirin',
    /medications\[0\]\.treatment must be one of/,
  ],
  [
    'an unknown route',
    ['medications', 4, 'byRoute', 'rectal'],
    'oral-nsaid',
    /medications\[4\]\.byRoute\.rectal is not a known field/,
  ],
  [
    'a limit below its minimum',
    ['limits', 'bmi', 'max'],
    5,
    /limits\.bmi\.max must be a number from 10 to 1000/,
  ],
  [
    'an empty code list',
    ['procedures', 'knee-replacement'],
    [],
    /procedures\.knee-replacement must be a non-empty array/,
  ],
  ['a unit factor of zero', ['units', 'mass', 'kg'], 0, /units\.mass\.kg must be a number/],
];

for (const [name, path, value, message] of broken) {
  test(`a table with ${name} is refused, naming the field`, (t) => {
    const error = t.throws(() => parseFhirCodes(edited(path, value), 'fhir-codes.json'), {
      instanceOf: JointspaceError,
    });

    t.is(error.code, 'invalid-configuration');
    t.regex(error.message, /^fhir-codes\.json: /);
    t.regex(error.message, message);
  });
}
