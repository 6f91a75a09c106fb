/**
 * Room passwords: generating strong, easy-to-type ones, refusing weak ones, and reading one from
 * the flag, the environment, a file, or a hidden prompt on a terminal.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { ExitCode, SunoyeError, UsageError } from '../errors.js';

/** No look-alike characters (0/o, 1/l/i): easy to read aloud and type. */
const ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz';
const GROUPS = 4;
const GROUP_LENGTH = 4;
/** Bits of entropy in a generated password. */
export const GENERATED_BITS = Math.floor(GROUPS * GROUP_LENGTH * Math.log2(ALPHABET.length));

/** A new random password like `k7mp-x3qa-9tze-wh2c` (about 79 bits). */
export function generatePassword(): string {
  for (;;) {
    const groups = Array.from({ length: GROUPS }, () =>
      Array.from({ length: GROUP_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join(''),
    );
    const password = groups.join('-');
    if (passwordProblem(password) === undefined) return password;
  }
}

const MIN_LENGTH = 10;
const MIN_DISTINCT = 6;
const COMMON = [
  'password',
  'passwort',
  'passwd',
  'qwerty',
  'qwertz',
  'azerty',
  'letmein',
  'welcome',
  'iloveyou',
  'admin',
  'administrator',
  'monkey',
  'dragon',
  'football',
  'baseball',
  'sunshine',
  'princess',
  'master',
  'secret',
  'changeme',
  'trustno',
  'abc',
  'abcdef',
  'sunoye',
  'chatroom',
  'mqtt',
  'room',
];

function isRun(text: string): boolean {
  const codes = [...text].map((c) => c.codePointAt(0)!);
  const step = (codes[1] ?? 0) - (codes[0] ?? 0);
  return Math.abs(step) <= 1 && codes.every((c, i) => i === 0 || c - codes[i - 1]! === step);
}

/** Why a password is too weak for a new room, or undefined if it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  const chars = [...password];
  if (chars.length < MIN_LENGTH) return `it is shorter than ${MIN_LENGTH} characters`;
  if (new Set(chars.map((c) => c.toLowerCase())).size < MIN_DISTINCT) {
    return `it uses fewer than ${MIN_DISTINCT} different characters`;
  }
  if (isRun(password.toLowerCase())) return 'it is a run of consecutive characters';
  if (/^[0-9]+$/.test(password) && chars.length < 16) return 'it is only digits';
  const letters = password.toLowerCase().replace(/[^a-z]/g, '');
  if (
    COMMON.includes(letters) ||
    (letters.length > 0 && COMMON.some((w) => letters === w.repeat(letters.length / w.length)))
  ) {
    return 'it is a common password';
  }
  return undefined;
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
    throw new UsageError(
      `cannot read the password file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return Promise.resolve(fromText(text.subarray(0, MAX_PASSWORD_FILE_BYTES).toString('utf8')));
}

/** Reads a line from a terminal without echoing it. */
export function promptHidden(question: string, sources: PasswordSources): Promise<string> {
  const { stdin, stderr } = sources;
  return new Promise((resolve, reject) => {
    let value = '';
    stderr.write(question);
    stdin.setRawMode?.(true);
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
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
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
