/** Runs the built programs as a user would, and captures what they print and how they exit. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a finished program left behind. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const binDir = fileURLToPath(new URL('../../bin/', import.meta.url));

/** Every output of every run, so a test can check that no secret ever appeared in any of them. */
export const transcript: string[] = [];

/** Secrets the tests handed to the programs (passwords in the environment or a URL). */
export const secretsGiven = new Set<string>();

/**
 * Notes the secrets in a program's environment. `room create` prints a password it generated,
 * once, by design: such a password is a secret for every other run, not for that one.
 */
export function noteSecrets(env: Record<string, string>): void {
  for (const name of ['SUNOYE_PASSWORD', 'SUNOYE_BROKER_PASSWORD']) {
    if (env[name]) secretsGiven.add(env[name]);
  }
  for (const name of ['SUNOYE_DB', 'SUNOYE_BROKER']) {
    const password = env[name] ? /^[a-z]+:\/\/[^:/@]*:([^@/]+)@/.exec(env[name])?.[1] : undefined;
    if (password) secretsGiven.add(password).add(decodedOr(password));
  }
}

function decodedOr(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // a malformed %-escape: the test gives a broken URL on purpose
  }
}

/** Records one run's output, unless it is `room create` printing what it generated. */
export function record(program: string, args: string[], ...outputs: string[]): void {
  if (program === 'room' && args[0] === 'create') return;
  transcript.push(...outputs);
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
  noteSecrets(options.env);
  return new Promise((resolve, reject) => {
    const launcher = options.bin ? join(options.bin, `${program}.js`) : `${binDir}${program}.js`;
    const child = spawn(process.execPath, [launcher, ...args], {
      env: { PATH: process.env.PATH ?? '', ...options.env },
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
