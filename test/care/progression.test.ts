/**
 * Progression of one knee against earlier results: baseline choice, duplicates, short and
 * empty histories, measurement error, and facts that the care engine reads the same way as
 * the summary (R14 and R15 fire exactly when the assessment flags them).
 */
import test from 'ava';
import { recommend } from '../../src/care/engine.js';
import { deriveFacts, type CareFacts } from '../../src/care/facts.js';
import {
  assessProgression,
  type CurrentKneeResult,
  type EarlierKneeResult,
} from '../../src/care/progression.js';
import { readability } from '../../src/care/readability.js';
import { careRules } from '../../src/care/rules.js';
import { JointspaceError } from '../../src/errors.js';

const MODEL = 'jointspace-knee-kl@1.2.0';
const OLD_MODEL = 'jointspace-knee-kl@1.1.0';

const current: CurrentKneeResult = {
  laterality: 'R',
  klGrade: 3,
  jsw: { medialMinMm: 3.1, lateralMinMm: 5.0 },
  studyDate: '20250601',
  studyInstanceUid: '2.25.900',
  modelId: MODEL,
};

function earlier(overrides: Partial<EarlierKneeResult> = {}): EarlierKneeResult {
  return {
    laterality: 'R',
    klGrade: 2,
    jsw: { medialMinMm: 3.9, lateralMinMm: 5.1 },
    studyDate: '2023-06-01',
    studyInstanceUid: '2.25.100',
    modelId: MODEL,
    source: 'database',
    ...overrides,
  };
}

/** The rule ids the real engine proposes for a knee with these progression facts. */
function firedRules(progression: CareFacts['knee']['progression']): string[] {
  const facts: CareFacts = {
    asOf: '2025-06-01',
    knee: { laterality: 'R', klGrade: 3, ...(progression === undefined ? {} : { progression }) },
  };
  return recommend(facts, careRules()).recommendations.map((r) => r.id);
}

test('no earlier result: no facts, no flags, and the texts say there is nothing to compare', (t) => {
  const a = assessProgression(current, []);
  t.is(a.facts, undefined);
  t.deepEqual(a.flags, []);
  t.is(a.kl, undefined);
  t.is(a.jsw, undefined);
  t.regex(a.clinicianText, /no earlier jointspace result/);
  t.regex(a.patientText, /no earlier X-ray of your right knee/);
});

test('a two-year comparison gives the facts deriveFacts reads and the flags R14 and R15 raise', (t) => {
  const a = assessProgression(current, [earlier()]);
  t.is(a.kl?.baseline.studyDate, '2023-06-01');
  t.is(a.kl?.baseline.intervalYears, 2);
  t.is(a.kl?.klChange, 1);
  t.is(a.jsw?.medialChangeMm, -0.8);
  t.is(a.jsw?.lateralChangeMm, -0.1);
  t.is(a.jsw?.medialChangeMmPerYear, -0.4);
  t.false(a.jsw?.withinMeasurementError);
  t.deepEqual(a.facts, {
    klChange: 1,
    klChangeYears: 2,
    medialJswLossMm: 0.8,
    jswChangeMmPerYear: -0.4,
  });
  t.deepEqual(a.flags, ['accelerated-jsw-loss', 'jsw-loss']);
  t.true(a.accelerated);
  t.true(a.jswLossBeyondError);

  const derived = deriveFacts({ asOf: '2025-06-01', knee: { progression: a.facts } });
  t.is(derived.values.get('jswLossMmPerYear'), 0.4);
  t.is(derived.values.get('klIncreaseWithin4Years'), 1);
  t.is(derived.values.get('medialJswLossMm'), 0.8);
  const fired = firedRules(a.facts);
  t.true(fired.includes('R14'));
  t.true(fired.includes('R15'));
  t.regex(a.clinicianText, /2023-06-01 \(2\.0 years earlier\): KL grade 2 → 3 \(\+1\)/);
  t.regex(a.clinicianText, /3\.90 → 3\.10 mm: -0\.80 mm \(-0\.40 mm\/yr\)/);
  t.regex(a.clinicianText, /Beyond the 0\.7 mm measurement error/);
});

test('the flags agree with the rules engine across a range of histories', (t) => {
  const histories: [string, EarlierKneeResult[], CurrentKneeResult][] = [
    ['stable', [earlier({ klGrade: 3, jsw: { medialMinMm: 3.2 } })], current],
    ['KL +2 in 3 years', [earlier({ klGrade: 1, studyDate: '2022-06-01' })], current],
    [
      'KL +2 in 6 years',
      [earlier({ klGrade: 1, studyDate: '2019-06-01', jsw: { medialMinMm: 3.3 } })],
      current,
    ],
    ['loss without rate', [earlier({ studyDate: '2025-03-01' })], current],
    ['no JSW now', [earlier()], { ...current, jsw: {} }],
  ];
  for (const [name, history, now] of histories) {
    const a = assessProgression(now, history);
    const fired = firedRules(a.facts);
    t.is(fired.includes('R14'), a.accelerated, `${name}: R14`);
    t.is(fired.includes('R15'), a.jswLossBeyondError, `${name}: R15`);
  }
});

test('the baseline is the earliest result from 6 months to 4 years back', (t) => {
  const history = [
    earlier({ studyInstanceUid: '2.25.1', studyDate: '2016-06-01', klGrade: 0 }),
    earlier({ studyInstanceUid: '2.25.2', studyDate: '2022-01-10', klGrade: 1 }),
    earlier({ studyInstanceUid: '2.25.3', studyDate: '2024-06-01', klGrade: 2 }),
    earlier({ studyInstanceUid: '2.25.4', studyDate: '2025-03-01', klGrade: 3 }),
  ];
  const a = assessProgression(current, history);
  t.is(a.kl?.baseline.studyInstanceUid, '2.25.2');
  t.is(a.kl?.klChange, 2);
  t.true(a.flags.includes('accelerated-kl-increase'));

  const older = assessProgression(
    current,
    [history[0], history[3]].flatMap((h) => h ?? []),
  );
  t.is(older.kl?.baseline.studyInstanceUid, '2.25.1', 'none in the window: the latest older one');
  t.true((older.facts?.klChangeYears ?? 0) > 4);
  t.false(older.flags.includes('accelerated-kl-increase'));
  t.is(
    deriveFacts({ asOf: '2025-06-01', knee: { progression: older.facts } }).missing.get(
      'klIncreaseWithin4Years',
    ),
    'the earlier KL grade is more than 4 years old',
  );
});

test('JSW has its own baseline when the KL baseline has no measurement', (t) => {
  const a = assessProgression(current, [
    earlier({ studyInstanceUid: '2.25.1', studyDate: '2022-06-01' }),
    earlier({ studyInstanceUid: '2.25.0', studyDate: '2021-09-01', jsw: undefined, klGrade: 2 }),
  ]);
  t.is(a.kl?.baseline.studyInstanceUid, '2.25.0');
  t.is(a.jsw?.baseline.studyInstanceUid, '2.25.1');
  t.is(a.jsw?.baseline.intervalYears, 3);
  t.regex(a.clinicianText, /since 2022-06-01/);
});

test('a short interval gives the change but no yearly rate, and says why', (t) => {
  const a = assessProgression(current, [earlier({ studyDate: '2025-02-01' })]);
  t.is(a.jsw?.medialChangeMm, -0.8);
  t.is(a.jsw?.medialChangeMmPerYear, undefined);
  t.regex(a.jsw?.rateWithheld ?? '', /shorter than 6 months/);
  t.is(a.facts?.jswChangeMmPerYear, undefined);
  t.is(a.facts?.medialJswLossMm, 0.8);
  t.regex(a.clinicianText, /No yearly rate: the interval \(4 months\) is shorter than 6 months/);
  t.deepEqual(a.flags, ['jsw-loss']);
});

test('a change below 0.7 mm is reported as within measurement error', (t) => {
  const a = assessProgression(current, [earlier({ jsw: { medialMinMm: 3.5 } })]);
  t.is(a.jsw?.medialChangeMm, -0.4);
  t.true(a.jsw?.withinMeasurementError);
  t.false(a.jswLossBeyondError);
  t.regex(a.clinicianText, /Within the 0\.7 mm measurement error/);
  t.regex(a.patientText, /about the same size/);

  const edge = assessProgression(current, [earlier({ jsw: { medialMinMm: 3.8 } })]);
  t.is(edge.jsw?.medialChangeMm, -0.7, 'rounded, not -0.6999…');
  t.false(edge.jsw?.withinMeasurementError);
  t.true(edge.jswLossBeyondError);
});

test('same-day, later, too-close and current-study results are ignored with reasons', (t) => {
  const a = assessProgression(current, [
    earlier({ studyInstanceUid: '2.25.1', studyDate: '2025-06-01' }),
    earlier({ studyInstanceUid: '2.25.2', studyDate: '2025-09-01' }),
    earlier({ studyInstanceUid: '2.25.3', studyDate: '2025-05-20' }),
    earlier({ studyInstanceUid: '2.25.900', studyDate: '2020-01-01' }),
    earlier({ studyInstanceUid: '2.25.4', studyDate: '2025-13-01' }),
    earlier({ studyInstanceUid: '2.25.5', laterality: 'L' }),
  ]);
  t.is(a.facts, undefined);
  t.deepEqual(
    a.ignored.map((i) => i.studyInstanceUid),
    ['2.25.1', '2.25.2', '2.25.3', '2.25.900', '2.25.4'],
    'the other knee is not listed as ignored',
  );
  t.regex(a.ignored[0]?.reason ?? '', /same day/);
  t.regex(a.ignored[1]?.reason ?? '', /after this study/);
  t.regex(a.ignored[2]?.reason ?? '', /12 days before/);
  t.regex(a.ignored[3]?.reason ?? '', /current study/);
  t.regex(a.ignored[4]?.reason ?? '', /studyDate must be a date/);
});

test('one study from the database and the PACS counts once; the current model is preferred', (t) => {
  const fromPacs = earlier({ source: 'pacs', klGrade: 1 });
  const fromDb = earlier({ source: 'database', klGrade: 2 });
  const a = assessProgression(current, [fromPacs, fromDb]);
  t.is(a.kl?.baseline.source, 'database');
  t.is(a.ignored.length, 1);
  t.is(a.ignored[0]?.source, 'pacs');
  t.regex(a.ignored[0]?.reason ?? '', /same study is used from the database/);

  const b = assessProgression(current, [
    earlier({ source: 'database', modelId: OLD_MODEL, klGrade: 1 }),
    earlier({ source: 'pacs', modelId: MODEL, klGrade: 2 }),
  ]);
  t.is(b.kl?.baseline.modelId, MODEL);
  t.is(b.kl?.klChange, 1);
});

test('a result of another model version is compared and both model ids are named', (t) => {
  const a = assessProgression(current, [earlier({ modelId: OLD_MODEL })]);
  t.is(a.kl?.klChange, 1);
  t.false(a.kl?.baseline.sameModel);
  t.true(a.clinicianText.includes(OLD_MODEL));
  t.true(a.clinicianText.includes(MODEL));
  t.regex(a.clinicianText, /comparable across model versions/);
});

test('a lower grade is reported as such and called grading variation', (t) => {
  const a = assessProgression(current, [earlier({ klGrade: 4, jsw: undefined })]);
  t.is(a.kl?.klChange, -1);
  t.is(a.jsw, undefined);
  t.regex(a.clinicianText, /grading variation/);
  t.regex(a.clinicianText, /not measured on both radiographs/);
  t.regex(a.patientText, /not a real change/);
});

test('an implausible rate is withheld', (t) => {
  const a = assessProgression({ ...current, jsw: { medialMinMm: 1 } }, [
    earlier({ studyDate: '2024-11-01', jsw: { medialMinMm: 9 } }),
  ]);
  t.is(a.jsw?.medialChangeMmPerYear, undefined);
  t.regex(a.jsw?.rateWithheld ?? '', /not a plausible rate/);
});

test('patient texts stay at about grade 8 and avoid jargon', (t) => {
  const cases = [
    assessProgression(current, []),
    assessProgression(current, [earlier()]),
    assessProgression(current, [earlier({ klGrade: 1, studyDate: '2022-06-01' })]),
    assessProgression(current, [earlier({ jsw: { medialMinMm: 3.3 } })]),
    assessProgression(current, [earlier({ klGrade: 4 })]),
  ];
  for (const a of cases) {
    t.true(readability(a.patientText).grade <= 8.5, a.patientText);
    t.notRegex(a.patientText, /\bKL\b|Kellgren|JSW|mm\/yr/);
  }
});

test('an invalid current result is refused, naming the field', (t) => {
  const error = t.throws(() => assessProgression({ ...current, klGrade: 7 }, []), {
    instanceOf: JointspaceError,
  });
  t.regex(error.message, /current\.klGrade must be an integer 0\.\.4/);
  t.throws(() => assessProgression({ ...current, studyDate: '2025-02-30' }, []), {
    message: /current\.studyDate/,
  });
});
