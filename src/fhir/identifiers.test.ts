import test from 'ava';
import { JointspaceError } from '../errors.js';
import { identifierQuery, parsePatientIdentifiers, patientIdentifierMap } from './identifiers.js';

const valid = {
  kind: 'jointspace-patient-identifiers',
  version: '1.0.0',
  unmappedIssuer: 'search-value-only',
  defaultSystem: null,
  issuers: [
    { issuer: 'HOSP-A', system: 'urn:oid:1.2.3.4.5', description: 'Hospital A MRN' },
    { issuer: 'HOSP-B ', system: 'https://hosp-b.example/mrn' },
  ],
};

test('the shipped mapping loads and maps nothing yet', (t) => {
  const map = patientIdentifierMap();

  t.is(map.version, '1.0.0');
  t.is(map.issuers.size, 0);
  t.is(map.unmappedIssuer, 'search-value-only');
  t.is(map.defaultSystem, undefined);
});

test('a mapped issuer gives its system; spaces around the issuer do not matter', (t) => {
  const map = parsePatientIdentifiers(valid);

  t.deepEqual(identifierQuery(map, 'HOSP-A'), {
    kind: 'system',
    system: 'urn:oid:1.2.3.4.5',
    source: 'issuer',
  });
  t.deepEqual(identifierQuery(map, ' HOSP-B'), {
    kind: 'system',
    system: 'https://hosp-b.example/mrn',
    source: 'issuer',
  });
});

test('an unmapped or missing issuer searches the value alone, saying why', (t) => {
  const map = parsePatientIdentifiers(valid);

  t.deepEqual(identifierQuery(map, 'hosp-a'), {
    kind: 'value-only',
    reason: 'Issuer of Patient ID "hosp-a" is not in the patient identifier mapping',
  });
  t.deepEqual(identifierQuery(map, '  '), {
    kind: 'value-only',
    reason: 'the study has no Issuer of Patient ID',
  });
  t.deepEqual(identifierQuery(map, undefined), {
    kind: 'value-only',
    reason: 'the study has no Issuer of Patient ID',
  });
});

test('a default system applies to studies without an issuer only', (t) => {
  const map = parsePatientIdentifiers({ ...valid, defaultSystem: 'urn:oid:9.8.7' });

  t.deepEqual(identifierQuery(map, undefined), {
    kind: 'system',
    system: 'urn:oid:9.8.7',
    source: 'default',
  });
  t.is(identifierQuery(map, 'HOSP-C').kind, 'value-only');
});

test('the refuse policy refuses unmapped issuers instead of searching', (t) => {
  const map = parsePatientIdentifiers({ ...valid, unmappedIssuer: 'refuse' });

  const query = identifierQuery(map, 'HOSP-C');
  t.is(query.kind, 'refused');
  t.regex('reason' in query ? query.reason : '', /"HOSP-C" is not in .*refuses unmapped issuers/);
});

const broken: [string, Record<string, unknown>, RegExp][] = [
  ['a wrong kind', { ...valid, kind: 'x' }, /kind must be "jointspace-patient-identifiers"/],
  ['no version', { ...valid, version: undefined }, /version must be a non-empty string/],
  ['issuers that are not a list', { ...valid, issuers: {} }, /issuers must be an array/],
  [
    'a system that is not a URI',
    { ...valid, issuers: [{ issuer: 'HOSP-A', system: '1.2.3.4' }] },
    /issuers\[0\]\.system must be an absolute URI/,
  ],
  [
    'an empty issuer',
    { ...valid, issuers: [{ issuer: ' ', system: 'urn:oid:1.2' }] },
    /issuers\[0\]\.issuer must be a non-empty string/,
  ],
  [
    'an issuer listed twice',
    {
      ...valid,
      issuers: [
        { issuer: 'HOSP-A', system: 'urn:oid:1.2' },
        { issuer: 'HOSP-A ', system: 'urn:oid:1.3' },
      ],
    },
    /issuers\[1\]\.issuer must be unique \("HOSP-A" is listed twice\)/,
  ],
  [
    'a misspelt field',
    { ...valid, issuers: [{ issuer: 'HOSP-A', sytem: 'urn:oid:1.2' }] },
    /issuers\[0\]\.sytem is not a known field/,
  ],
  [
    'an unknown policy',
    { ...valid, unmappedIssuer: 'guess' },
    /unmappedIssuer must be one of "search-value-only", "refuse"/,
  ],
  [
    'a bad default system',
    { ...valid, defaultSystem: 'MRN' },
    /defaultSystem must be an absolute URI/,
  ],
];

for (const [name, json, message] of broken) {
  test(`a mapping with ${name} is refused, naming the field`, (t) => {
    const error = t.throws(() => parsePatientIdentifiers(json, 'patient-identifiers.json'), {
      instanceOf: JointspaceError,
    });

    t.is(error.code, 'invalid-configuration');
    t.regex(error.message, /^patient-identifiers\.json: /);
    t.regex(error.message, message);
  });
}
