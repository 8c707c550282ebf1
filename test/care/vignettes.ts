/**
 * Clinical vignettes for the care engine: the facts of one patient and knee, and what a
 * clinician following OARSI 2019, ACR/AF 2019 and NICE NG226 would expect of the proposal.
 * Shared by vignettes.test.ts (the recommendations) and readability.test.ts (every patient
 * explanation the engine produces for them). All patients are invented.
 */
import type {
  CareFacts,
  KneeFacts,
  PainScore,
  TreatmentCode,
  TreatmentRecord,
} from '../../src/care/facts.js';

export interface Vignette {
  name: string;
  facts: CareFacts;
  /** Rule ids that must be among the recommendations. */
  present: string[];
  /** Rule ids that must not be (contraindications, advice not yet due). */
  absent: string[];
  /** Rule ids that must be held back by a contraindication. */
  suppressed?: string[];
  /** Rule ids that must have been assessed (not listed under `missing`). */
  assessed?: string[];
  /** Each must match one `missing` message. */
  missing?: RegExp[];
  /** Each must match the clinician explanation of that rule. */
  clinician?: Record<string, RegExp>;
  /** Each must match one of the `missing` notes of that recommendation. */
  limited?: Record<string, RegExp>;
  /** Each must match the patient explanation of that rule. */
  patient?: Record<string, RegExp>;
}

export const AS_OF = '2025-06-01';

type Overrides = Partial<Omit<CareFacts, 'knee'>> & { knee?: Partial<KneeFacts> };

/** A 62-year-old with a KL 2 right knee, mild pain, normal BMI, nothing else on record. */
function patient(overrides: Overrides = {}): CareFacts {
  const { knee, ...rest } = overrides;
  return {
    asOf: AS_OF,
    age: 62,
    sex: 'female',
    bmi: 23.5,
    painScores: pain(3),
    conditions: [],
    treatments: [],
    askedAbout: [],
    mobilityProblems: false,
    ...rest,
    knee: { laterality: 'R', klGrade: 2, ...knee },
  };
}

/** One score on 2025-05-20, or [date, score] pairs. */
function pain(...scores: (number | [string, number])[]): PainScore[] {
  return scores.map((s) =>
    typeof s === 'number' ? { date: '2025-05-20', score: s } : { date: s[0], score: s[1] },
  );
}

/** Pain of 5, 6, 6 over four months: persistent moderate pain. */
const PERSISTENT = pain(['2025-01-15', 5], ['2025-03-15', 6], ['2025-05-20', 6]);

function tried(treatment: TreatmentCode, extra: Partial<TreatmentRecord> = {}): TreatmentRecord {
  return { treatment, start: '2025-01-01', end: '2025-03-01', ...extra };
}

/** Six months of physiotherapy, a topical and an oral NSAID: adequate non-surgical care. */
const ADEQUATE_CARE: TreatmentRecord[] = [
  tried('physiotherapy-or-exercise', { start: '2024-11-01', end: '2025-05-01' }),
  tried('topical-nsaid'),
  tried('oral-nsaid', { start: '2025-03-01', end: '2025-05-01' }),
];

export const VIGNETTES: Vignette[] = [
  {
    name: 'young adult, KL 1, knee pain: consider other causes',
    facts: patient({ age: 32, painScores: pain(5), knee: { klGrade: 1 } }),
    present: ['R1', 'R12'],
    absent: ['R3', 'R4', 'R7', 'R13'],
    patient: { R12: /another cause/ },
  },
  {
    name: '58-year-old, KL 1, pain 4/10: OA treatment and other causes both considered',
    facts: patient({ age: 58, painScores: pain(4), knee: { klGrade: 1 } }),
    present: ['R1', 'R12', 'R3'],
    absent: ['R4', 'R13'],
  },
  {
    name: 'KL 0 without pain: exercise advice only',
    facts: patient({ painScores: pain(0), knee: { klGrade: 0 } }),
    present: ['R1'],
    absent: ['R3', 'R12', 'R2'],
  },
  {
    name: 'obese, KL 2, pain 5/10: weight, exercise and topical gel',
    facts: patient({ bmi: 34, painScores: pain(5) }),
    present: ['R1', 'R2', 'R3'],
    absent: ['R4', 'R5', 'R6', 'R13'],
  },
  {
    name: 'BMI exactly 25: weight advice',
    facts: patient({ bmi: 25 }),
    present: ['R2'],
    absent: [],
  },
  {
    name: 'BMI 24.9: no weight advice',
    facts: patient({ bmi: 24.9 }),
    present: ['R1'],
    absent: ['R2'],
  },
  {
    name: 'topical gel not enough, no comorbidity: oral NSAID with a PPI',
    facts: patient({ painScores: pain(6), treatments: [tried('topical-nsaid')] }),
    present: ['R3', 'R4'],
    absent: ['R5', 'R6'],
    clinician: { R4: /proton pump inhibitor/ },
    patient: { R4: /protects it/ },
  },
  {
    name: 'KL 3 with cardiovascular disease: no oral NSAID; gel and steroid injection',
    facts: patient({
      conditions: ['cardiovascular-disease'],
      painScores: PERSISTENT,
      treatments: [tried('topical-nsaid')],
      knee: { klGrade: 3 },
    }),
    present: ['R6', 'R3', 'R7'],
    absent: ['R4', 'R5'],
    suppressed: ['R4'],
    clinician: { R6: /Holds back: R4 .*R5/ },
  },
  {
    name: 'chronic kidney disease: no oral NSAID',
    facts: patient({
      conditions: ['chronic-kidney-disease'],
      painScores: pain(6),
      treatments: [tried('topical-nsaid')],
    }),
    present: ['R6', 'R3'],
    absent: ['R4', 'R5'],
    suppressed: ['R4'],
  },
  {
    name: 'frail 88-year-old, KL 3: no oral NSAID',
    facts: patient({
      age: 88,
      conditions: ['frailty'],
      painScores: pain(5),
      treatments: [tried('topical-nsaid')],
      knee: { klGrade: 3 },
    }),
    present: ['R6', 'R3'],
    absent: ['R4', 'R5'],
  },
  {
    name: 'history of GI bleeding: COX-2 inhibitor or NSAID with a PPI',
    facts: patient({
      conditions: ['gi-bleed-or-ulcer'],
      painScores: pain(6),
      treatments: [tried('topical-nsaid')],
    }),
    present: ['R3', 'R5'],
    absent: ['R4', 'R6'],
    clinician: { R5: /COX-2 inhibitor/ },
  },
  {
    name: 'GI bleeding and cardiovascular disease: no oral NSAID of any kind',
    facts: patient({
      conditions: ['gi-bleed-or-ulcer', 'cardiovascular-disease'],
      painScores: pain(6),
      treatments: [tried('topical-nsaid')],
    }),
    present: ['R6', 'R3'],
    absent: ['R4', 'R5'],
    suppressed: ['R5'],
  },
  {
    name: 'takes an opioid now: avoid opioids, taper',
    facts: patient({
      painScores: pain(6),
      treatments: [tried('opioid', { start: '2025-02-01', end: undefined, current: true })],
    }),
    present: ['R9', 'R3'],
    absent: ['R4'],
    clinician: { R9: /taper/ },
    patient: { R9: /do not stop all at once/ },
  },
  {
    name: 'asks about tramadol: avoid opioids, sources disagree on tramadol',
    facts: patient({ painScores: pain(6), askedAbout: ['opioid'] }),
    present: ['R9'],
    absent: [],
    clinician: { R9: /Sources disagree: ACR\/AF 2019 allows tramadol/ },
  },
  {
    name: 'KL 4, severe pain after 6 months of adequate non-surgical care: surgical referral',
    facts: patient({ painScores: pain(8), treatments: ADEQUATE_CARE, knee: { klGrade: 4 } }),
    present: ['R13', 'R1', 'R3'],
    absent: ['R12'],
  },
  {
    name: 'KL 4, severe pain, one month of physiotherapy: no referral yet',
    facts: patient({
      painScores: pain(8),
      treatments: [{ treatment: 'physiotherapy-or-exercise', weeks: 4 }, tried('topical-nsaid')],
      knee: { klGrade: 4 },
    }),
    present: ['R1', 'R3', 'R4'],
    absent: ['R13'],
  },
  {
    name: 'KL 4, severe pain, medicines but no exercise programme: no referral yet',
    facts: patient({
      painScores: pain(8),
      treatments: [tried('topical-nsaid'), tried('oral-nsaid')],
      knee: { klGrade: 4 },
    }),
    present: ['R1'],
    absent: ['R13'],
  },
  {
    name: 'KL 4, severe pain, exercise but no medicine tried: no referral yet',
    facts: patient({
      painScores: pain(8),
      treatments: [tried('physiotherapy-or-exercise', { start: '2024-09-01', end: '2025-04-01' })],
      knee: { klGrade: 4 },
    }),
    present: ['R1', 'R3'],
    absent: ['R13'],
  },
  {
    name: 'KL 3 at 85 after adequate care: age alone does not exclude referral',
    facts: patient({
      age: 85,
      painScores: pain(8),
      treatments: ADEQUATE_CARE,
      knee: { klGrade: 3 },
    }),
    present: ['R13'],
    absent: [],
    clinician: { R13: /Age, sex, smoking, comorbidities and BMI alone do not exclude/ },
    patient: { R13: /age or weight alone does not rule this out/ },
  },
  {
    name: 'KL 3 with BMI 41 after adequate care: obesity does not exclude referral',
    facts: patient({
      bmi: 41,
      painScores: pain(8),
      treatments: ADEQUATE_CARE,
      knee: { klGrade: 3 },
    }),
    present: ['R13', 'R2'],
    absent: [],
  },
  {
    name: 'KL 3, pain 5/10 but KOOS JR 42 after adequate care: referral on function',
    facts: patient({
      painScores: pain(5),
      koos: { koosJr: 42 },
      treatments: ADEQUATE_CARE,
      knee: { klGrade: 3 },
    }),
    present: ['R13'],
    absent: [],
  },
  {
    name: 'KL 2, severe pain after adequate care: referral needs KL 3 or more',
    facts: patient({ painScores: pain(8), treatments: ADEQUATE_CARE }),
    present: ['R1', 'R4'],
    absent: ['R13'],
  },
  {
    name: 'no BMI on record: weight advice reported as not assessed',
    facts: patient({ bmi: undefined, painScores: pain(5) }),
    present: ['R1', 'R3'],
    absent: ['R2'],
    missing: [/^no BMI on record: weight advice \(R2\) could not be assessed$/],
  },
  {
    name: 'BMI 400 and pain 42/10 filtered before the engine: only the clean facts are used',
    facts: patient({ bmi: undefined, painScores: pain(['2025-05-02', 6]) }),
    present: ['R1', 'R3'],
    absent: ['R2'],
    missing: [/no BMI on record/],
  },
  {
    name: 'joint-space loss 0.4 mm/yr: accelerated progression',
    facts: patient({
      knee: {
        progression: {
          jswChangeMmPerYear: -0.4,
          klChange: 1,
          klChangeYears: 1.5,
          medialJswLossMm: 0.6,
        },
      },
    }),
    present: ['R14'],
    absent: ['R15'],
    clinician: { R14: /joint-space loss 0\.4 mm\/yr/ },
  },
  {
    name: 'KL grade up by two in 3 years: accelerated progression',
    facts: patient({
      knee: {
        klGrade: 3,
        progression: {
          jswChangeMmPerYear: -0.2,
          klChange: 2,
          klChangeYears: 3,
          medialJswLossMm: 0.6,
        },
      },
    }),
    present: ['R14'],
    absent: ['R15'],
  },
  {
    name: 'medial joint-space loss 0.9 mm over 4 years: beyond measurement error',
    facts: patient({
      knee: {
        progression: {
          jswChangeMmPerYear: -0.225,
          klChange: 0,
          klChangeYears: 4,
          medialJswLossMm: 0.9,
        },
      },
    }),
    present: ['R15'],
    absent: ['R14'],
  },
  {
    name: 'stable knee against an earlier study: no progression flag, nothing missing about it',
    facts: patient({
      knee: {
        progression: {
          jswChangeMmPerYear: -0.1,
          klChange: 0,
          klChangeYears: 2,
          medialJswLossMm: 0.2,
        },
      },
    }),
    present: ['R1'],
    absent: ['R14', 'R15'],
    assessed: ['R14', 'R15'],
  },
  {
    name: 'mobility problems: walking aid and brace, sources disagree on braces',
    facts: patient({ mobilityProblems: true }),
    present: ['R11'],
    absent: [],
    clinician: { R11: /Sources disagree: .*NICE NG226/ },
    patient: { R11: /walking stick/ },
  },
  {
    name: 'asks about hyaluronic acid injections: not by default, disagreement stated',
    facts: patient({ painScores: pain(5), askedAbout: ['intra-articular-hyaluronic'] }),
    present: ['R8'],
    absent: [],
    clinician: { R8: /Sources disagree: .*OARSI 2019 recommends it conditionally \(Level 1B\)/ },
    patient: { R8: /Experts do not agree/ },
  },
  {
    name: 'takes paracetamol every day: not routinely, disagreement stated',
    facts: patient({
      painScores: pain(4),
      treatments: [tried('paracetamol', { start: '2024-06-01', end: undefined, current: true })],
    }),
    present: ['R10'],
    absent: [],
    clinician: { R10: /Sources disagree: ACR\/AF 2019 recommends paracetamol conditionally/ },
  },
  {
    name: 'depression with moderate pain: duloxetine',
    facts: patient({ conditions: ['depression'], painScores: pain(6) }),
    present: ['R16', 'R3'],
    absent: ['R6'],
    clinician: { R16: /duloxetine/ },
  },
  {
    name: 'depression with mild pain: no duloxetine',
    facts: patient({ conditions: ['depression'], painScores: pain(2) }),
    present: ['R3'],
    absent: ['R16'],
  },
  {
    name: 'diabetes with a flare: steroid injection with a blood glucose caution',
    facts: patient({
      conditions: ['diabetes'],
      painScores: pain(['2025-02-01', 3], ['2025-05-20', 7]),
    }),
    present: ['R7', 'R3'],
    absent: ['R6', 'R4'],
    clinician: { R7: /Caution: Diabetes: blood glucose can rise/ },
    patient: { R7: /blood sugar may go up/ },
  },
  {
    name: 'diabetes, topical gel not enough: oral NSAID is still an option',
    facts: patient({
      conditions: ['diabetes'],
      painScores: pain(6),
      treatments: [tried('topical-nsaid')],
    }),
    present: ['R4'],
    absent: ['R6'],
  },
  {
    name: 'persistent moderate pain for four months: steroid injection',
    facts: patient({ painScores: PERSISTENT }),
    present: ['R7'],
    absent: [],
    clinician: { R7: /moderate-to-severe pain for 4\.1 months/ },
  },
  {
    name: 'pain settled from 8 to 3: no injection',
    facts: patient({ painScores: pain(['2025-01-10', 8], ['2025-05-20', 3]) }),
    present: ['R3'],
    absent: ['R7'],
  },
  {
    name: 'a single pain score of 6: how long it has lasted is unknown',
    facts: patient({ painScores: pain(6) }),
    present: ['R3'],
    absent: ['R7'],
    missing: [/only one pain score.*: steroid injection \(R7\) could not be assessed/],
  },
  {
    name: 'problem list not available: oral NSAID not assessed until contraindications are known',
    facts: patient({
      conditions: undefined,
      painScores: pain(6),
      treatments: [tried('topical-nsaid')],
    }),
    present: ['R3'],
    absent: ['R4', 'R5', 'R6'],
    missing: [
      /^no list of conditions on record: .*\(R6\), anti-inflammatory tablets \(R4\), .*could not be assessed$/,
    ],
  },
  {
    name: 'problem list not available, persistent pain: injection proposed, diabetes not checked',
    facts: patient({ conditions: undefined, painScores: PERSISTENT }),
    present: ['R7'],
    absent: ['R6'],
    limited: {
      R7: /^no list of conditions on record: could not check diabetes \(blood glucose after/,
    },
  },
  {
    name: 'treatment history not available: referral and tablets not assessed',
    facts: patient({ treatments: undefined, painScores: pain(8), knee: { klGrade: 4 } }),
    present: ['R1', 'R3'],
    absent: ['R4', 'R13'],
    missing: [/^no treatment history on record: .*surgical referral \(R13\)/],
  },
  {
    name: 'KL 3, cardiovascular disease, on opioids, asks about hyaluronic acid',
    facts: patient({
      conditions: ['cardiovascular-disease'],
      painScores: pain(7),
      treatments: [
        tried('topical-nsaid'),
        tried('opioid', { start: '2025-04-01', end: undefined, current: true }),
      ],
      askedAbout: ['intra-articular-hyaluronic'],
      knee: { klGrade: 3 },
    }),
    present: ['R6', 'R9', 'R8', 'R3'],
    absent: ['R4', 'R5'],
    suppressed: ['R4'],
  },
  {
    name: 'nearly nothing on record: exercise advice, and every gap reported',
    facts: { asOf: AS_OF, knee: {} },
    present: ['R1'],
    absent: ['R2', 'R3', 'R13', 'R6'],
    missing: [/no BMI on record/, /no pain score on record/, /no list of conditions on record/],
  },
  {
    name: 'no KL grade, 60 years old with pain: gel advised, other causes not assessed',
    facts: patient({ age: 60, painScores: pain(5), knee: { klGrade: undefined } }),
    present: ['R3'],
    absent: ['R13'],
    missing: [/no KL grade for this knee: other causes of knee pain \(R12\)/],
  },
  {
    name: 'only a pain score older than a year: not used',
    facts: patient({ painScores: pain(['2023-01-01', 8]) }),
    present: ['R1'],
    absent: ['R3', 'R7'],
    missing: [/no pain score in the 12 months before 2025-06-01/],
  },
];
