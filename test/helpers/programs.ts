/** Long-running programs (listen, room serve) that a test starts, reads line by line and stops. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  noteSecrets,
  readsPasswordFromStdin,
  record,
  runProgram,
  testEnv,
  watchStdinPassword,
} from './cli.js';
import { waitFor } from './wait.js';

const binDir = fileURLToPath(new URL('../../bin/', import.meta.url));

/** A running program and what it has printed so far. */
export interface RunningProgram {
  /** The program as a failure names it: `listen`, `publish`... */
  name: string;
  child: ChildProcessWithoutNullStreams;
  stdoutLines: string[];
  stderr(): string;
  /** Waits until a stdout line satisfies `match`; returns it. */
  line(what: string, match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code once the program ends. */
  exited: Promise<number | null>;
}

/** Starts `program` with `args` and an environment; stdin stays open until `child.stdin.end()`. */
export function startProgram(
  program: 'room' | 'listen' | 'publish',
  args: string[],
  env: Record<string, string>,
  options: { raw?: boolean; bin?: string; cwd?: string; detached?: boolean } = {},
): RunningProgram {
  noteSecrets(env, args, undefined, options.cwd);
  // raw: `program` is any command on the PATH, run as it is (for wrappers such as `script`);
  // bin: another copy of dist/bin to run the program from; cwd: the folder it runs in;
  // detached: in a process group of its own (to be signalled as a whole, as a shell job is).
  const [command, argv] = options.raw
    ? [program as string, args]
    : [process.execPath, [join(options.bin ?? binDir, `${program}.js`), ...args]];
  const child = spawn(command, argv, {
    env: testEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: options.cwd,
    detached: options.detached,
  });
  if (readsPasswordFromStdin(args)) watchStdinPassword(child.stdin);
  const stdoutLines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    stdoutLines.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      record(program, args, stdoutLines.join('\n'), partial, stderr);
      resolve(code);
    }),
  );
  const running: RunningProgram = {
    name: program,
    child,
    stdoutLines,
    stderr: () => stderr,
    exited,
    line: (what, match, timeoutMs = 15_000) =>
      waitFor(what, () => stdoutLines.find(match), { timeoutMs, program: running }),
  };
  return running;
}

/** Parses JSON lines, ignoring none: every line must be JSON. */
export function jsonLines(lines: string[]): Record<string, unknown>[] {
  return lines.filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Kills whatever in `programs` still runs (newest first) and waits for all; empties the list. */
export async function stopAll(programs: RunningProgram[]): Promise<void> {
  for (const p of programs.splice(0).reverse()) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** Makes a room with `room create --json` (and `args`) and returns its number. */
export async function createRoom(
  env: Record<string, string>,
  args: string[] = [],
): Promise<string> {
  const created = await runProgram('room', ['create', '--json', ...args], { env });
  if (created.code !== 0) throw new Error(`room create failed: ${created.stderr}`);
  return (JSON.parse(created.stdout) as { room: string }).room;
}

/** Makes a room with `room create --json` (and `args`); its number and generated password. */
export async function createRoomWithPassword(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ room: string; password: string }> {
  const created = await runProgram('room', ['create', '--json', ...args], { env });
  if (created.code !== 0) throw new Error(`room create failed: ${created.stderr}`);
  return JSON.parse(created.stdout) as { room: string; password: string };
}

/** Starts `listen ROOM --json ARGS` (added to `running`) and waits for its own join notice. */
export async function joinedListener(
  room: string,
  args: string[],
  env: Record<string, string>,
  running: RunningProgram[],
): Promise<RunningProgram> {
  const listener = startProgram('listen', [room, '--json', ...args], env);
  running.push(listener);
  await listener.line('the join notice', (l) => l.includes('"event":"join"'));
  return listener;
}

/** The message lines `listener` (`listen --json`) printed from `from` saying `message`. */
export const heard = (listener: RunningProgram, from: string, message: string) =>
  jsonLines(listener.stdoutLines).filter((l) => l.from === from && l.message === message);

/** Waits until `listener` printed `from` saying `message`; returns that JSON line. */
export const listenerHears = (listener: RunningProgram, from: string, message: string) =>
  waitFor(`listen to print ${from}: ${message}`, () => heard(listener, from, message)[0], {
    timeoutMs: 20_000,
    program: listener,
  });

/** Waits until `listener` printed `from`'s join notice; returns that JSON line. */
export const listenerSeesJoin = (listener: RunningProgram, from: string) =>
  waitFor(
    `listen to print ${from} joining`,
    () => jsonLines(listener.stdoutLines).find((l) => l.from === from && l.event === 'join'),
    { timeoutMs: 20_000, program: listener },
  );
