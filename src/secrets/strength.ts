/**
 * Password strength as zxcvbn-ts estimates it: how many guesses an attacker who tries common
 * passwords, words, names, famous phrases, keyboard patterns, dates and substitutions first would
 * need. Its dictionaries (about 1.6 MB) load on the first check: this module is imported only by
 * `passwordProblem`, which only `room create` with a given password calls.
 *
 * zxcvbn judges the password as typed, where a phrase written with spaces reads as several
 * unrelated words, and `!QAZ@WSX` (a walk typed with Shift held) as two short walks, since `Z`
 * and `@` are not neighbours. So it also judges the forms of `variants.ts`; the weakest
 * judgement counts, with the guesses the variation adds.
 */
import { ZxcvbnFactory, type MatchEstimated, type ZxcvbnResult } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonDictionary } from '@zxcvbn-ts/language-common';
import { dictionary as englishDictionary, translations } from '@zxcvbn-ts/language-en';
import { famousPhrases } from './phrases.js';
import { joined, unshiftedForm, withoutSeparators, wordStarts, type Form } from './variants.js';

/** What the estimator says of a password. */
export interface Strength {
  /** log10 of the guesses it would take. */
  guessesLog10: number;
  /** Why it is guessable, when the estimator knows ("This is a commonly used password."). */
  warning: string | undefined;
  /** How to make it stronger. */
  suggestions: string[];
}

/** The name of the famous phrases among the estimator's dictionaries. */
const PHRASES = 'phrases';
/** zxcvbn-ts's list of common passwords. */
const PASSWORDS = 'passwords-common';
const PHRASE_WARNING = 'This is a well-known phrase or password: crackers try those first.';
/**
 * The ways crackers write a phrase: lower case, Capitalised, Title Case, camelCase (zxcvbn counts
 * capitals letter by letter, and would count 10^8 ways for `TheQuickBrownFox...`).
 */
const PHRASE_CASES = 4;

/** Each famous phrase (as stored) and where its words start. */
let phraseWords: Map<string, Set<number>> | undefined;
/** zxcvbn with every dictionary: for the password as typed. */
let full: ZxcvbnFactory | undefined;
/**
 * zxcvbn with the common passwords and the famous phrases only, made when a password has other
 * forms, which are there to find those: it is built in a tenth of the time, and matches in a
 * tenth (each l33t reading of a password is looked up in every dictionary). Words the forms do
 * not make known it leaves to brute force, where the typed form has them.
 */
let finder: ZxcvbnFactory | undefined;

function phrases(): Map<string, Set<number>> {
  if (!phraseWords) {
    phraseWords = new Map();
    for (const phrase of famousPhrases()) {
      const key = joined(phrase.toLowerCase());
      if (!phraseWords.has(key)) phraseWords.set(key, new Set(wordStarts(phrase)));
    }
  }
  return phraseWords;
}

function estimator(form: 'typed' | 'other'): ZxcvbnFactory {
  const withPhrases = (dictionary: Record<string, string[]>): ZxcvbnFactory =>
    new ZxcvbnFactory({
      translations,
      graphs: adjacencyGraphs,
      dictionary: { ...dictionary, [PHRASES]: [...phrases().keys()] },
    });
  if (form === 'typed')
    return (full ??= withPhrases({ ...commonDictionary, ...englishDictionary }));
  return (finder ??= withPhrases({ [PASSWORDS]: commonDictionary[PASSWORDS] }));
}

/**
 * The guesses (log10) zxcvbn counted for the capitals of a famous phrase beyond `PHRASE_CASES`,
 * when they start its words: `TheQuickBrownFox` is one of a phrase's few ways to be written.
 */
function phraseCaseExcess(match: MatchEstimated): number {
  if (match.pattern !== 'dictionary' || match.dictionaryName !== PHRASES || match.reversed)
    return 0;
  const starts = phrases().get(match.matchedWord as string);
  const token = match.token;
  const variations = match.uppercaseVariations ?? 1;
  if (!starts || token.length !== (match.matchedWord as string).length) return 0;
  const capitals = [...token].flatMap((ch, at) => (ch !== ch.toLowerCase() ? [at] : []));
  if (!capitals.every((at) => starts.has(at))) return 0;
  return Math.max(0, Math.log10(variations / PHRASE_CASES));
}

/** Whether a match of a known password or phrase spans where separators were left out. */
function acrossJoins(result: ZxcvbnResult, joins: number[]): boolean {
  return result.sequence.some(
    (m) =>
      m.pattern === 'dictionary' &&
      (m.dictionaryName === PHRASES || m.dictionaryName === PASSWORDS) &&
      joins.some((at) => m.i < at && at <= m.j),
  );
}

/** Estimates the strength of `password`; `userInputs` are words an attacker would try first. */
export function estimateStrength(password: string, userInputs: string[] = []): Strength {
  const typed: Form = { text: password, variationsLog10: 0, joins: [] };
  const shifted = unshiftedForm(password);
  const forms = [typed, withoutSeparators(typed)];
  if (shifted) forms.push(shifted, withoutSeparators(shifted));
  let weakest: { form: Form; result: ZxcvbnResult; guessesLog10: number } | undefined;
  for (const [i, form] of forms.entries()) {
    if (forms.findIndex((f) => f.text === form.text) < i) continue;
    const result = estimator(form === typed ? 'typed' : 'other').check(form.text, userInputs);
    // Leaving separators out counts when it shows a known password or phrase: else it only
    // loses the guesses zxcvbn counts for the order of the words.
    if (form.joins.length > 0 && !acrossJoins(result, form.joins)) continue;
    const excess = Math.max(
      0,
      ...result.sequence.map((m) => phraseCaseExcess(m as MatchEstimated)),
    );
    const guessesLog10 = result.guessesLog10 - excess + form.variationsLog10;
    if (!weakest || guessesLog10 < weakest.guessesLog10) weakest = { form, result, guessesLog10 };
  }
  const { form, result, guessesLog10 } = weakest!;
  const phrase = result.sequence.some(
    (m) => m.pattern === 'dictionary' && m.dictionaryName === PHRASES,
  );
  return {
    guessesLog10,
    warning: phrase ? PHRASE_WARNING : (result.feedback.warning ?? undefined),
    suggestions: [...result.feedback.suggestions, ...(form.suggestion ? [form.suggestion] : [])],
  };
}
