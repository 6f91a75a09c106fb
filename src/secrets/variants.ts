/**
 * The forms of a password crackers try before their variations, for the strength estimate:
 * without its separators (`correct horse battery staple` is the phrase `correcthorsebatterystaple`
 * with spaces), and with its shifted symbols unshifted (`!QAZ@WSX` is `1QAZ2WSX` typed with
 * Shift held). Each form carries the guesses it takes to get from it back to the password.
 */
import { adjacencyGraphs } from '@zxcvbn-ts/language-common';

/** A form of the password, and the guesses (log10) from there to the password. */
export interface Form {
  text: string;
  variationsLog10: number;
  /** Where separators were left out: a match across one of these found something they hid. */
  joins: number[];
  /** Advice when this form is the weakest. */
  suggestion?: string | undefined;
}

/**
 * What separates words in a passphrase: zxcvbn's separators (space , ; : | / \ _ . -), any other
 * white space, and quotes (`don't`).
 */
const SEPARATORS = /[\s,;:|/\\_.\-'"`]/;
const SEPARATORS_ALL = new RegExp(SEPARATORS.source, 'g');
/** The choices of separator an attacker tries between the words (zxcvbn counts ten). */
const SEPARATOR_CHOICES_LOG10 = 1;

const SHIFT_SUGGESTION = 'Holding Shift for some keys is as predictable as for letters.';

/** Text without its separators: how famous phrases are stored and looked for. */
export function joined(text: string): string {
  return text.replace(SEPARATORS_ALL, '');
}

/** Where each word of `text` starts once its separators are left out. */
export function wordStarts(text: string): number[] {
  const starts: number[] = [];
  let at = 0;
  let inWord = false;
  for (const ch of text) {
    const separator = SEPARATORS.test(ch);
    if (!separator && !inWord) starts.push(at);
    if (!separator) at += ch.length;
    inWord = !separator;
  }
  return starts;
}

/**
 * The form without its separators, and the guesses it takes to put them back: between the
 * words, which separator (of ten) each kind is, and which kind goes where when they are mixed;
 * at either end (`dog.`), one more choice each.
 */
export function withoutSeparators(form: Form): Form {
  const chars = [...form.text];
  const first = chars.findIndex((ch) => !SEPARATORS.test(ch));
  const last = chars.findLastIndex((ch) => !SEPARATORS.test(ch));
  if (first === -1) return form; // separators only: no words to find
  const joins: number[] = [];
  const kinds = new Set<string>();
  let text = '';
  for (const ch of chars.slice(first, last + 1)) {
    if (!SEPARATORS.test(ch)) text += ch;
    else {
      kinds.add(ch);
      if (joins.at(-1) !== text.length) joins.push(text.length);
    }
  }
  const ends = (first > 0 ? 1 : 0) + (last < chars.length - 1 ? 1 : 0);
  const mixed = kinds.size > 1 ? joins.length * Math.log10(kinds.size) : 0;
  return {
    text,
    variationsLog10: form.variationsLog10 + (kinds.size + ends) * SEPARATOR_CHOICES_LOG10 + mixed,
    joins,
    suggestion: form.suggestion,
  };
}

/** Each shifted symbol of the qwerty keyboard (`!`, `@`, `{`) and its key unshifted (`1`, `2`, `[`). */
let unshifted: Map<string, string> | undefined;

function unshiftedKeys(): Map<string, string> {
  if (!unshifted) {
    unshifted = new Map();
    // zxcvbn's graph names each neighbour by its key's two characters: unshifted, then shifted.
    // Letters are left alone: zxcvbn counts capitals itself.
    for (const neighbours of Object.values(adjacencyGraphs.qwerty))
      for (const key of neighbours)
        if (key?.length === 2 && key[1]!.toLowerCase() === key[1]) unshifted.set(key[1], key[0]!);
  }
  return unshifted;
}

/** n choose k. */
function choose(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i += 1) result = (result * (n - k + i)) / i;
  return result;
}

/**
 * The password with its shifted symbols unshifted, and the guesses it takes to know which were
 * shifted, counted as zxcvbn counts shifted keys in a keyboard walk; undefined when none is.
 */
export function unshiftedForm(password: string): Form | undefined {
  const keys = unshiftedKeys();
  const plain = new Set(keys.values());
  const chars = [...password];
  const shifted = chars.filter((c) => keys.has(c)).length;
  if (shifted === 0) return undefined;
  const notShifted = chars.filter((c) => plain.has(c)).length;
  let variations = 2; // all shifted: as common as none
  if (notShifted > 0) {
    variations = 0;
    for (let i = 1; i <= Math.min(shifted, notShifted); i += 1)
      variations += choose(shifted + notShifted, i);
  }
  return {
    text: chars.map((c) => keys.get(c) ?? c).join(''),
    variationsLog10: Math.log10(variations),
    joins: [],
    suggestion: SHIFT_SUGGESTION,
  };
}
