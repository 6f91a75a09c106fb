/**
 * Password strength as zxcvbn-ts estimates it: how many guesses an attacker who tries common
 * passwords, words, names, keyboard patterns, dates and substitutions first would need. Its
 * dictionaries (about 1.5 MB) load on the first check: this module is imported only by
 * `passwordProblem`, which only `room create` with a given password calls.
 */
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonDictionary } from '@zxcvbn-ts/language-common';
import { dictionary as englishDictionary, translations } from '@zxcvbn-ts/language-en';

/** What the estimator says of a password. */
export interface Strength {
  /** log10 of the guesses it would take. */
  guessesLog10: number;
  /** Why it is guessable, when the estimator knows ("This is a commonly used password."). */
  warning: string | undefined;
  /** How to make it stronger. */
  suggestions: string[];
}

let estimator: ZxcvbnFactory | undefined;

/** Estimates the strength of `password`; `userInputs` are words an attacker would try first. */
export function estimateStrength(password: string, userInputs: string[] = []): Strength {
  estimator ??= new ZxcvbnFactory({
    translations,
    graphs: adjacencyGraphs,
    dictionary: { ...commonDictionary, ...englishDictionary },
  });
  const { guessesLog10, feedback } = estimator.check(password, userInputs);
  return {
    guessesLog10,
    warning: feedback.warning ?? undefined,
    suggestions: feedback.suggestions,
  };
}
