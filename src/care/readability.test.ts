import test from 'ava';
import { countSyllables, readability } from './readability.js';

/** Words of the patient texts and their syllables as a dictionary divides them. */
const DICTIONARY: [string, number][] = [
  ['knee', 1],
  ['pain', 1],
  ['joint', 1],
  ['gel', 1],
  ['weight', 1],
  ['heart', 1],
  ['blood', 1],
  ['strong', 1],
  ['times', 1],
  ['makes', 1],
  ['helped', 1],
  ['used', 1],
  ['knees', 1],
  ['shot', 1],
  ['tablets', 2],
  ['doctor', 2],
  ['stomach', 2],
  ['walking', 2],
  ['muscles', 2],
  ['people', 2],
  ['little', 2],
  ['needed', 2],
  ['agreed', 2],
  ['changes', 2],
  ['uses', 2],
  ['surgeon', 2],
  ['steroid', 2],
  ['morphine', 2],
  ['kidneys', 2],
  ['sugar', 2],
  ['active', 2],
  ['swimming', 2],
  ['cycling', 2],
  ['trial', 2],
  ['special', 2],
  ['nation', 2],
  ['region', 2],
  ['safer', 2],
  ['exercise', 3],
  ['medicine', 3],
  ['injection', 3],
  ['tramadol', 3],
  ['naproxen', 3],
  ['arthritis', 3],
  ['usual', 3],
  ['medial', 3],
  ['radio', 3],
  ['together', 3],
  ['ibuprofen', 4],
  ['duloxetine', 4],
  ['diabetes', 4],
  ['inflammatory', 5],
  ['paracetamol', 5],
];

test('the syllable counter agrees with the dictionary on most words', (t) => {
  const wrong = DICTIONARY.filter(([word, n]) => countSyllables(word) !== n);
  const agreement = 1 - wrong.length / DICTIONARY.length;
  t.log(
    `syllable counter: ${(agreement * 100).toFixed(0)}% of ${DICTIONARY.length} words exact; ` +
      `off: ${wrong.map(([w, n]) => `${w} (${countSyllables(w)} for ${n})`).join(', ')}`,
  );
  t.true(agreement >= 0.9);
  for (const [word, n] of DICTIONARY) t.true(Math.abs(countSyllables(word) - n) <= 1, word);
});

test('numbers count one syllable per digit; every word has at least one', (t) => {
  t.is(countSyllables('10'), 2);
  t.is(countSyllables('shh'), 1);
  t.is(countSyllables('rhythm'), 1);
});

test('Flesch–Kincaid grade of known texts', (t) => {
  // 6 words, 6 syllables, 1 sentence: 0.39 × 6 + 11.8 × 1 − 15.59 = −1.45
  const cat = readability('The cat sat on the mat.');
  t.deepEqual(
    { ...cat, grade: Number(cat.grade.toFixed(2)) },
    {
      grade: -1.45,
      sentences: 1,
      words: 6,
      syllables: 6,
    },
  );

  // 2 sentences, 9 words, 14 syllables: 0.39 × 4.5 + 11.8 × 14 / 9 − 15.59 = 4.52
  const text = readability('Exercise helps your knee. Walking every day is good!');
  t.deepEqual(
    { ...text, grade: Number(text.grade.toFixed(2)) },
    {
      grade: 4.52,
      sentences: 2,
      words: 9,
      syllables: 14,
    },
  );

  t.is(readability('').grade, 0);
});

test('a hyphen separates words and an apostrophe does not', (t) => {
  t.is(readability("Don't stop.").words, 2);
  t.is(readability('A pain-relief gel.').words, 4);
});
