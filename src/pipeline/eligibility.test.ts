import test from 'ava';
import {
  assessInstance,
  eligibilityRules,
  parseRules,
  type InstanceAttributes,
} from './eligibility.js';

const rules = eligibilityRules();
const DX = '1.2.840.10008.5.1.4.1.1.1.1';
const OWN_SERIES = '2.25.99';

const cases: { name: string; instance: InstanceAttributes; expect: 'eligible' | 'own' | RegExp }[] =
  [
    {
      name: 'a knee DX',
      instance: { sopClassUid: DX, modality: 'DX', bodyPartExamined: 'KNEE', viewPosition: 'PA' },
      expect: 'eligible',
    },
    {
      name: 'a CR with no body part or view',
      instance: { sopClassUid: '1.2.840.10008.5.1.4.1.1.1', modality: 'CR' },
      expect: 'eligible',
    },
    { name: 'nothing in the header', instance: {}, expect: 'eligible' },
    {
      name: '"Lower limb" written with a space',
      instance: { modality: 'DX', bodyPartExamined: 'lower limb' },
      expect: 'eligible',
    },
    {
      name: 'an MR image',
      instance: { sopClassUid: '1.2.840.10008.5.1.4.1.1.4', modality: 'MR' },
      expect: /modality MR is not a plain radiograph/,
    },
    {
      name: 'a DX for processing',
      instance: { sopClassUid: '1.2.840.10008.5.1.4.1.1.1.1.1', modality: 'DX' },
      expect: /For Processing/,
    },
    {
      name: 'an unknown SOP class',
      instance: { sopClassUid: '1.2.3.4', modality: 'DX' },
      expect: /SOP class 1\.2\.3\.4/,
    },
    {
      name: 'a chest radiograph',
      instance: { sopClassUid: DX, modality: 'DX', bodyPartExamined: 'CHEST' },
      expect: /body part examined is CHEST/,
    },
    {
      name: 'a lateral knee view',
      instance: { sopClassUid: DX, modality: 'DX', bodyPartExamined: 'KNEE', viewPosition: 'LL' },
      expect: /lateral view/,
    },
    {
      name: 'jointspace output by manufacturer',
      instance: { sopClassUid: DX, modality: 'OT', manufacturer: 'jointspace' },
      expect: 'own',
    },
    {
      name: 'jointspace output by series',
      instance: {
        sopClassUid: '1.2.840.10008.5.1.4.1.1.88.33',
        modality: 'SR',
        seriesInstanceUid: OWN_SERIES,
      },
      expect: 'own',
    },
    {
      name: "another vendor's SR",
      instance: { sopClassUid: '1.2.840.10008.5.1.4.1.1.88.33', modality: 'SR' },
      expect: /modality SR/,
    },
  ];

for (const { name, instance, expect } of cases) {
  test(`eligibility: ${name}`, (t) => {
    const verdict = assessInstance(rules, instance, new Set([OWN_SERIES]));
    if (expect === 'eligible') {
      t.true(verdict.eligible);
    } else if (expect === 'own') {
      t.deepEqual(verdict, { eligible: false, own: true });
    } else {
      t.false(verdict.eligible);
      if (!verdict.eligible && !verdict.own) t.regex(verdict.reason, expect);
      else t.fail('expected a refusal with a reason');
    }
  });
}

test('a broken rules file names the field that is wrong', (t) => {
  const error = t.throws(() =>
    parseRules({
      kind: 'jointspace-eligibility-rules',
      version: '1',
      sopClasses: { accept: [{ uid: '1.2', name: '' }], refuseReasons: [] },
      modalities: { accept: [] },
      bodyParts: { accept: [], refuse: [] },
      viewPositions: { accept: [], refuse: [] },
    }),
  );
  t.regex(error.message, /sopClasses\.accept\[0\]\.name/);
});

test('a body part both accepted and refused is an error', (t) => {
  const error = t.throws(() =>
    parseRules({
      kind: 'jointspace-eligibility-rules',
      version: '1',
      sopClasses: { accept: [], refuseReasons: [] },
      modalities: { accept: [] },
      bodyParts: { accept: ['KNEE'], refuse: ['knee'] },
      viewPositions: { accept: [], refuse: [] },
    }),
  );
  t.regex(error.message, /KNEE is in both/);
});
