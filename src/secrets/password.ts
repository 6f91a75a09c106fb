/**
 * Room passwords: generating strong, easy-to-type ones, refusing weak ones (by zxcvbn-ts's
 * estimate, loaded only then), and reading one from the flag, the environment, a file, or a
 * hidden prompt on a terminal.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { ExitCode, InterruptedError, SunoyeError, UsageError } from '../errors.js';
import { fileProblem } from '../file-problem.js';

/** No look-alike characters (0/o, 1/l/i): easy to read aloud and type. */
const ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz';
const GROUPS = 4;
const GROUP_LENGTH = 4;
/** Bits of entropy in a generated password. */
export const GENERATED_BITS = Math.floor(GROUPS * GROUP_LENGTH * Math.log2(ALPHABET.length));

/** A generated password's form, in either case: `k7mp-x3qa-9tze-wh2c`, `K7MP-X3QA-9TZE-WH2C`. */
const GENERATED_FORM = new RegExp(
  `^[${ALPHABET}${ALPHABET.toUpperCase()}]{${GROUP_LENGTH}}` +
    `(?:-[${ALPHABET}${ALPHABET.toUpperCase()}]{${GROUP_LENGTH}}){${GROUPS - 1}}$`,
);

/**
 * The passwords a typed one may stand for, to try in this order. A generated password is the
 * same typed in capitals, as read aloud or copied from a note: its lower-case form first; then
 * as typed, for a room created with a password of that form chosen in capitals before sunoye
 * took them as one. Anything else is taken exactly as typed.
 */
export function passwordReadings(typed: string): string[] {
  const lower = typed.toLowerCase();
  return lower !== typed && GENERATED_FORM.test(typed) ? [lower, typed] : [typed];
}

/** A new random password like `k7mp-x3qa-9tze-wh2c` (about 79 bits). */
export function generatePassword(): string {
  const groups = Array.from({ length: GROUPS }, () =>
    Array.from({ length: GROUP_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join(''),
  );
  return groups.join('-');
}

/**
 * The guesses (log10) a room password must withstand by zxcvbn's estimate: 10^10, its top score,
 * "strong protection from offline slow-hash" guessing. A stolen registry holds the salt and the
 * verifier, and recorded messages stay sealed by the same key: at one scrypt of 0.34 s per guess
 * and core, 10^10 guesses are about 100 core-years, 10^8 (zxcvbn's score 3) one core-year.
 */
export const MIN_GUESSES_LOG10 = 10;

/** Words that make a password for a sunoye room easier to guess than the estimator knows. */
const CONTEXT_WORDS = ['sunoye', 'room', 'chat', 'mqtt', 'listen', 'publish'];

/** A sentence of the estimator's as part of a line: `Add more words.` -> `add more words`. */
const clause = (sentence: string): string =>
  sentence.charAt(0).toLowerCase() + sentence.slice(1).replace(/\.$/, '');

/**
 * Why a password is too weak for a new room, or undefined if it is acceptable. The estimator and
 * its dictionaries load on the first call. `userInputs` (the user's name) count as known words.
 */
export async function passwordProblem(
  password: string,
  userInputs: string[] = [],
): Promise<string | undefined> {
  const { estimateStrength } = await import('./strength.js');
  const strength = estimateStrength(password, [...CONTEXT_WORDS, ...userInputs]);
  if (strength.guessesLog10 >= MIN_GUESSES_LOG10) return undefined;
  const why = [strength.warning, ...strength.suggestions].filter((s) => s !== undefined);
  return (
    `about 10^${Math.floor(strength.guessesLog10)} guesses would find it, and a room password ` +
    `needs 10^${MIN_GUESSES_LOG10}` +
    (why.length > 0 ? ` (${why.map(clause).join('; ')})` : '')
  );
}

/** Advice shown with a refused password. */
export const PASSWORD_ADVICE =
  'leave out --password to get a generated one, or use a passphrase of four or more words';

/** Where a password may come from, as the command line and environment gave them. */
export interface PasswordSources {
  flag?: string | undefined;
  file?: string | undefined;
  env?: string | undefined;
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stderr: Writable;
}

const MAX_PASSWORD_FILE_BYTES = 4096;

function readPasswordFile(path: string, stdin: Readable): Promise<string> {
  const fromText = (text: string): string => {
    const line = text.split(/\r?\n/, 1)[0] ?? '';
    if (line === '') throw new UsageError(`the password file ${path} is empty`);
    return line;
  };
  if (path === '-') {
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stdin.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_PASSWORD_FILE_BYTES) chunks.push(chunk);
      });
      stdin.once('error', reject);
      stdin.once('end', () => resolve(Buffer.concat(chunks)));
    }).then((data) => fromText(data.toString('utf8')));
  }
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read the password file ${path}: ${fileProblem(err)}`);
  }
  return Promise.resolve(fromText(text.subarray(0, MAX_PASSWORD_FILE_BYTES).toString('utf8')));
}

/**
 * What to check of a password the room refused, for its message: where it came from, what of
 * it commonly goes wrong (spaces at either end, capitals), and the forms it was tried in.
 */
export function wrongPasswordAdvice(
  sources: PasswordSources,
  password: string,
  tries: number,
): string {
  let from: string;
  if (sources.flag !== undefined) from = 'from --password';
  else if (sources.file === '-') from = 'from the first line of standard input';
  else if (sources.file !== undefined) from = `from the first line of ${sources.file}`;
  else if (sources.env !== undefined && sources.env !== '') from = 'from SUNOYE_PASSWORD';
  else from = tries > 1 ? `typed ${tries} times` : 'typed';
  const spaced = password.trim() !== password ? ', which begins or ends with a space' : '';
  const cases =
    passwordReadings(password).length > 1
      ? 'it was tried as given and in lower case'
      : 'passwords are case-sensitive, except generated ones, which may be typed in capitals';
  return `${from}${spaced}; check it with whoever shared the room (${cases})`;
}

/** Reads a line from a terminal without echoing it. */
export function promptHidden(question: string, sources: PasswordSources): Promise<string> {
  const { stdin, stderr } = sources;
  return new Promise((resolve, reject) => {
    let value = '';
    // Raw before the question shows: a key typed as soon as it does (Ctrl-C) is read as a key.
    stdin.setRawMode?.(true);
    stderr.write(question);
    stdin.setEncoding('utf8');
    const finish = (err?: Error): void => {
      stdin.setRawMode?.(false);
      stdin.off('data', onData);
      stdin.pause();
      stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        // Ctrl-C reaches a raw terminal as a character, not as SIGINT: the same exit 130.
        if (ch === '\u0003')
          return finish(new InterruptedError('interrupted at the password prompt'));
        if (ch === '\u0004' && value === '') {
          return finish(new SunoyeError('cancelled', ExitCode.other));
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** Whether `readPassword` would ask at the terminal (no flag, file or environment gives one). */
export function asksAtTerminal(sources: PasswordSources): boolean {
  return (
    sources.flag === undefined &&
    sources.file === undefined &&
    (sources.env === undefined || sources.env === '') &&
    sources.stdin.isTTY === true
  );
}

/**
 * Finds the password: `--password`, `--password-file`, `SUNOYE_PASSWORD`, then (given a `prompt`)
 * a hidden prompt when stdin is a terminal. Returns undefined when there is none.
 */
export async function readPassword(
  sources: PasswordSources,
  prompt: string | undefined,
): Promise<string | undefined> {
  if (sources.flag !== undefined && sources.file !== undefined) {
    throw new UsageError('give either --password or --password-file, not both');
  }
  if (sources.flag !== undefined) {
    sources.stderr.write(
      'warning: --password is visible to other users in the process list; prefer --password-file or SUNOYE_PASSWORD\n',
    );
    if (sources.flag === '') throw new UsageError('--password is empty');
    return sources.flag;
  }
  if (sources.file !== undefined) return readPasswordFile(sources.file, sources.stdin);
  if (sources.env !== undefined && sources.env !== '') return sources.env;
  if (prompt !== undefined && sources.stdin.isTTY) {
    const answer = await promptHidden(prompt, sources);
    if (answer === '') throw new UsageError('no password given');
    return answer;
  }
  return undefined;
}
