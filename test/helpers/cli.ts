/** Runs the built programs as a user would, and captures what they print and how they exit. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** What a finished program left behind. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const binDir = fileURLToPath(new URL('../../bin/', import.meta.url));

/** One program's output, as the secret check reads it: `what` names the run. */
export interface Output {
  what: string;
  text: string;
}

/** Every output of every run, so a test can check that no secret ever appeared in any of them. */
export const transcript: Output[] = [];

/** Secrets the tests handed to the programs, by any route (see `noteSecrets`). */
export const secretsGiven = new Set<string>();

/** Notes `secret`, and its %-decoded form when it is part of a URL. */
export function noteSecret(secret: string | undefined, inUrl = false): void {
  if (secret === undefined || secret === '') return;
  secretsGiven.add(secret);
  if (inUrl) secretsGiven.add(decodedOr(secret));
}

/**
 * Notes the password of every URL in `list` (a comma-separated list of brokers, or a MySQL
 * cluster's URL), the values of query parameters that may hold one (`?password=`, `?token=`), and
 * a fragment (`src/redact.ts` hides both).
 * Where the user information ends is found as `src/redact.ts` finds it: at the last `@` of the
 * authority, or of the whole URL when the password holds a `/`.
 */
export function noteUrlSecrets(list: string | undefined): void {
  if (!list) return;
  for (const url of list.split(',').map((u) => u.trim())) {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
    if (scheme === undefined) continue;
    const rest = url.slice(scheme.length);
    const authorityEnd = rest.search(/[/?#]/);
    let at = rest.lastIndexOf('@', authorityEnd < 0 ? rest.length : authorityEnd - 1);
    if (at < 0 && authorityEnd >= 0) at = rest.lastIndexOf('@');
    if (at >= 0) {
      const userInfo = rest.slice(0, at);
      const colon = userInfo.indexOf(':');
      if (colon >= 0) noteSecret(userInfo.slice(colon + 1), true);
    }
    const [beforeFragment = '', fragment] = rest.slice(at + 1).split('#');
    for (const pair of beforeFragment.split('?')[1]?.split('&') ?? []) {
      const [key = '', value] = pair.split('=');
      if (/pass|token|secret|key/i.test(key)) noteSecret(value, true);
    }
    noteSecret(fragment, true);
  }
}

function decodedOr(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // a malformed %-escape: the test gives a broken URL on purpose
  }
}

/** The first line of a password file, as the programs read it (`src/secrets/password.ts`). */
const firstLine = (text: string): string => text.split(/\r?\n/, 1)[0] ?? '';

/** The value of `--name VALUE` or `--name=VALUE` in `args`, each time it is given. */
function flagValues(args: string[], name: string): string[] {
  const values: string[] = [];
  for (const [i, arg] of args.entries()) {
    if (arg === '--') break; // what follows is an argument, whatever it looks like
    if (arg === `--${name}` && i + 1 < args.length) values.push(args[i + 1]!);
    else if (arg.startsWith(`--${name}=`)) values.push(arg.slice(name.length + 3));
  }
  return values;
}

/** Whether a run with `args` reads its password from standard input (`--password-file -`). */
export function readsPasswordFromStdin(args: string[]): boolean {
  return flagValues(args, 'password-file').includes('-');
}

/**
 * Notes every secret a run is given, by every route the programs take one (`src/cli/options.ts`,
 * `src/config/config.ts`, `src/secrets/password.ts`): SUNOYE_PASSWORD and SUNOYE_BROKER_PASSWORD;
 * the URL passwords of SUNOYE_DB, SUNOYE_BROKER, `--db`, `--broker` and the home's config.json
 * (every URL of a list); `--password`; the first line of `--password-file`'s file; and, for
 * `--password-file -`, the first line of `input` (a program started with its stdin open notes
 * it as it is written: see `watchStdinPassword`). Relative paths are taken from `cwd`.
 */
export function noteSecrets(
  env: Record<string, string>,
  args: string[] = [],
  input?: string | Buffer,
  cwd = process.cwd(),
): void {
  for (const name of ['SUNOYE_PASSWORD', 'SUNOYE_BROKER_PASSWORD']) noteSecret(env[name]);
  for (const name of ['SUNOYE_DB', 'SUNOYE_BROKER']) noteUrlSecrets(env[name]);
  for (const name of ['db', 'broker']) flagValues(args, name).forEach((u) => noteUrlSecrets(u));
  flagValues(args, 'password').forEach((p) => noteSecret(p));
  for (const file of flagValues(args, 'password-file')) {
    if (file === '-') {
      if (input !== undefined) noteSecret(firstLine(input.toString()));
    } else {
      try {
        noteSecret(firstLine(readFileSync(resolve(cwd, file), 'utf8')));
      } catch {
        // No such file (a test of that error): nothing was given.
      }
    }
  }
  const home =
    flagValues(args, 'home')[0] ??
    (env.SUNOYE_HOME ||
      join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'sunoye'));
  homesInUse.add(resolve(cwd, home));
  try {
    const settings = JSON.parse(readFileSync(resolve(cwd, home, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    for (const key of ['db', 'broker'])
      if (typeof settings[key] === 'string') noteUrlSecrets(settings[key]);
  } catch {
    // No config file, or one a test broke on purpose.
  }
}

/**
 * The sunoye homes the runs since the last secret check used: the keys the programs keep there
 * (the room secrets remembered in rooms/, the signing key in identity.json) are secrets too, which
 * no program may print; they are noted before each run's output is recorded, while the home is
 * still there (test/setup.ts empties this set after each check).
 */
export const homesInUse = new Set<string>();

/** Notes the keys kept in the homes in use, in the forms a program could print them in. */
export function noteHomeSecrets(): void {
  const encoded = (text: unknown, from: BufferEncoding): void => {
    if (typeof text !== 'string' || text === '') return;
    const bytes = Buffer.from(text, from);
    for (const form of ['base64', 'base64url', 'hex'] as const) noteSecret(bytes.toString(form));
  };
  const parsed = (path: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch {
      return undefined; // not there (yet, or any more), or broken on purpose by a test
    }
  };
  for (const home of homesInUse) {
    encoded(parsed(join(home, 'identity.json'))?.d, 'base64url');
    let rooms: string[] = [];
    try {
      rooms = readdirSync(join(home, 'rooms')).filter((name) => name.endsWith('.json'));
    } catch {
      // No room remembered there.
    }
    for (const name of rooms) encoded(parsed(join(home, 'rooms', name))?.secret, 'base64');
  }
}

/**
 * Notes the first line written to `stdin` as a secret: for a program that reads its password
 * from standard input and was started with it open.
 */
export function watchStdinPassword(stdin: Writable): void {
  let written = '';
  const write = stdin.write.bind(stdin) as (...a: unknown[]) => boolean;
  (stdin as { write: (...a: unknown[]) => boolean }).write = (...a: unknown[]) => {
    if (!written.includes('\n')) {
      written += String(a[0]);
      if (written.includes('\n')) noteSecret(firstLine(written));
    }
    return write(...a);
  };
}

/**
 * What `room create` prints by design, once: the password it generated (`src/commands/create.ts`:
 * a `Password:    …` line, or the `"password"` of `--json`).
 */
const GENERATED = [/^Password: {4}(\S+)\n?/m, /,?"password":"([^"\\]+)"/];

/**
 * Records one run's output. `room create`'s is recorded too, but for the one generated password
 * it prints by design: that password is taken out of that one place (anywhere else in the output
 * it is a leak), and it becomes a secret for every other run.
 */
export function record(program: string, args: string[], ...outputs: string[]): void {
  noteHomeSecrets();
  const what = [program, ...args].join(' ').slice(0, 200);
  let texts = outputs;
  if (program === 'room' && args.find((a) => a !== '--') === 'create') {
    let exempted = false;
    texts = outputs.map((text) => {
      for (const form of exempted ? [] : GENERATED) {
        const match = form.exec(text);
        if (match) {
          exempted = true;
          noteSecret(match[1]);
          return text.slice(0, match.index) + text.slice(match.index + match[0].length);
        }
      }
      return text;
    });
  }
  transcript.push(...texts.filter((text) => text !== '').map((text) => ({ what, text })));
}

/**
 * A program's whole environment: `env`, with the PATH and the run's own temporary folder (TMPDIR,
 * set by test/setup.ts) unless `env` gives them.
 */
export function testEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    ...env,
  };
}

/**
 * The environment of a person with an account of their own on this machine (HOME and XDG folders
 * under `dir`/`name`) and nothing configured but `settings`.
 */
export function ownAccount(
  dir: string,
  name: string,
  settings: Record<string, string> = {},
): Record<string, string> {
  return {
    HOME: join(dir, name),
    XDG_CONFIG_HOME: join(dir, name, 'config'),
    XDG_DATA_HOME: join(dir, name, 'data'),
    SUNOYE_NAME: name,
    ...settings,
  };
}

/** Runs `program` (room, listen or publish) with `args`, an environment and optional stdin. */
export function runProgram(
  program: 'room' | 'listen' | 'publish',
  args: string[],
  options: {
    env: Record<string, string>;
    input?: string | Buffer;
    timeoutMs?: number;
    /** Another copy of dist/bin to run the program from. */
    bin?: string;
    /** Another user and group to run it as (the tests must run as root to give them). */
    uid?: number;
    gid?: number;
  },
): Promise<Run> {
  noteSecrets(options.env, args, options.input);
  return new Promise((resolve, reject) => {
    const launcher = options.bin ? join(options.bin, `${program}.js`) : `${binDir}${program}.js`;
    const child = spawn(process.execPath, [launcher, ...args], {
      env: testEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${program} ${args.join(' ')} did not finish in ${options.timeoutMs ?? 30_000} ms\n${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      record(program, args, stdout, stderr);
      resolve({ code, stdout, stderr });
    });
    // A program that exits without reading its input closes the pipe under the write (EPIPE).
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
