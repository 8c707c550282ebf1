/**
 * Flesch–Kincaid grade level, used to keep patient explanations at about the reading level of
 * a 12–14 year old (US school grade 8 or below).
 *
 *   grade = 0.39 × (words / sentences) + 11.8 × (syllables / words) − 15.59
 *
 * (Kincaid JP, Fishburne RP, Rogers RL, Chissom BS. Derivation of new readability formulas for
 * Navy enlisted personnel. Research Branch Report 8-75, 1975.)
 *
 * Counting, which every tool does slightly differently, is fixed here:
 * - a sentence ends at ".", "!" or "?" followed by a space or the end of the text;
 * - a word is a run of letters (an apostrophe inside keeps it one word: "don't"), or a
 *   number; a hyphen separates words ("pain-relief" is two), as it does when read aloud;
 * - syllables are counted by `countSyllables` below; a number counts one syllable per digit,
 *   a rough stand-in for reading it out.
 */

export interface Readability {
  grade: number;
  sentences: number;
  words: number;
  syllables: number;
}

export const FLESCH_KINCAID = { sentenceWeight: 0.39, syllableWeight: 11.8, constant: 15.59 };

/** Flesch–Kincaid grade level of a text. An empty text has grade 0. */
export function readability(text: string): Readability {
  const sentences = text.split(/[.!?]+(?=\s|$)/).filter((s) => /[A-Za-z0-9]/.test(s)).length;
  const words = text.match(/[A-Za-z]+(?:['’][A-Za-z]+)*|\d+(?:[.,]\d+)*/g) ?? [];
  const syllables = words.reduce((sum, word) => sum + countSyllables(word), 0);
  if (words.length === 0 || sentences === 0) {
    return { grade: 0, sentences, words: words.length, syllables };
  }
  const { sentenceWeight, syllableWeight, constant } = FLESCH_KINCAID;
  const grade =
    sentenceWeight * (words.length / sentences) +
    syllableWeight * (syllables / words.length) -
    constant;
  return { grade, sentences, words: words.length, syllables };
}

/**
 * Syllables of one English word, by rule rather than dictionary:
 * 1. a number counts one per digit; words of three letters or fewer count one;
 * 2. a silent ending is removed: final "e" (but not consonant + "le", as in "table"), "es"
 *    after a consonant other than s, x, z, "ch", "sh", "ce", "ge" (but consonant + "les" keeps
 *    its "le": "muscles"), and "ed" after a consonant other than t or d ("helped", but "needed", "agreed");
 * 3. a "y" starting the word before a vowel is a consonant ("you", "year");
 * 4. each run of the vowels a, e, i, o, u, y is one syllable;
 * 5. the pairs "ia", "io" (not after c, s, t or g, as in "special", "nation", "region") and
 *    "ua" are two syllables ("medial", "radio", "usual");
 * 6. every word has at least one.
 * Its agreement with dictionary counts is measured in readability.test.ts.
 */
export function countSyllables(word: string): number {
  if (/^\d/.test(word)) return word.replace(/\D/g, '').length || 1;
  let w = word.toLowerCase().replace(/[^a-z]/g, '');
  if (w.length === 0) return 0;
  if (w.length <= 3) return 1;

  if (/[^aeiouy]les$/.test(w)) w = w.slice(0, -1);
  else if (/[^aeiouysxz]es$/.test(w) && !/(ch|sh|ce|ge)s$/.test(w)) w = w.slice(0, -2);
  else if (/[^aeiouytd]ed$/.test(w)) w = w.slice(0, -2);
  if (/e$/.test(w) && !/[^aeiouy]le$/.test(w)) w = w.slice(0, -1);
  w = w.replace(/^y(?=[aeiou])/, '');

  const groups = w.match(/[aeiouy]+/g)?.length ?? 0;
  const splits = w.match(/(?<![cstg])i[ao]|ua/g)?.length ?? 0;
  return Math.max(1, groups + splits);
}
