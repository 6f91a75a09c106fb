/**
 * A real terminal for tests: a program in a tmux pane (a pseudo-terminal of a set size), driven
 * with typed keys and pastes, and read back as the screen shows it. Each terminal has a tmux
 * server of its own (its socket in a scratch folder), so tests never share one.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { noteSecret, noteSecrets, record, testEnv } from './cli.js';
import { shellAssignments, shellQuote } from './shell.js';
import { waitFor, type WatchedProgram } from './wait.js';

const run = promisify(execFile);
const binDir = fileURLToPath(new URL('../../bin/', import.meta.url));

/** Whether tmux is installed (the terminal tests need it; .ci/run installs it). */
export async function tmuxInstalled(): Promise<boolean> {
  try {
    await run('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Skips the suite of `ctx` where tmux is missing, saying so (`what` names the tests); on CI, where
 * .ci/run installs tmux, fails instead.
 */
export async function requireTmux(
  ctx: Mocha.Context,
  what = 'the room window tests',
): Promise<void> {
  if (await tmuxInstalled()) return;
  if (process.env.CI) throw new Error('tmux is not installed: .ci/run installs it');
  console.warn(`    SKIPPED: ${what} need tmux`);
  ctx.skip();
}

export interface Terminal {
  /** Types text as keys, exactly (no key names). */
  type(text: string): Promise<void>;
  /** Presses named keys: Enter, C-c, C-d, BSpace... */
  press(...keys: string[]): Promise<void>;
  /**
   * Pastes text the way a terminal does (each newline arrives as Enter), bracketed by the paste
   * markers when the program asked for bracketed paste mode, unless `bracketed` is false (as a
   * terminal without that mode pastes).
   */
  paste(text: string, options?: { bracketed?: boolean }): Promise<void>;
  /**
   * The visible screen, one string per line (a line wrapped over several rows is joined); colours
   * stripped unless `escapes`.
   */
  screen(escapes?: boolean): Promise<string[]>;
  /** The visible screen row by row, as it shows (rows the terminal wrapped are not joined). */
  rows(): Promise<string[]>;
  /** Everything printed so far, scrollback included, wrapped rows joined into their lines. */
  history(): Promise<string[]>;
  /** Waits until the visible screen or the history satisfies `check`. */
  waitFor(
    what: string,
    check: (lines: string[]) => boolean,
    options?: { history?: boolean; timeoutMs?: number },
  ): Promise<string[]>;
  /** The program's exit code, once it has exited. */
  exited(timeoutMs?: number): Promise<number>;
  resize(columns: number, rows: number): Promise<void>;
  /** Closes the terminal under the program (it gets SIGHUP, as when a terminal window is closed). */
  hangUp(): Promise<void>;
  /** Stops the program and the terminal. */
  close(): Promise<void>;
}

/**
 * Runs `program args` (room, listen or publish, from dist/bin) in a new terminal of `columns` by
 * `rows`, with exactly the environment `env` (and PATH).
 */
export function openTerminal(
  program: 'room' | 'listen' | 'publish',
  args: string[],
  env: Record<string, string>,
  size: { columns: number; rows: number } = { columns: 80, rows: 24 },
): Promise<Terminal> {
  const command = [process.execPath, join(binDir, `${program}.js`), ...args]
    .map(shellQuote)
    .join(' ');
  return openPane(command, program, args, env, size);
}

/**
 * Runs a shell command line, as a user types it (`~`, pipes, programs found on the PATH of `env`),
 * in a new terminal of `columns` by `rows`.
 */
export function openShellTerminal(
  commandLine: string,
  env: Record<string, string>,
  size: { columns: number; rows: number } = { columns: 80, rows: 24 },
): Promise<Terminal> {
  const command = `bash -c ${shellQuote(commandLine)}`;
  // Its words, as the secret check reads a command's (`room create …`, `--password …`).
  const [first = '', ...words] = commandLine.trim().split(/\s+/);
  return openPane(command, first, words, env, size);
}

/** A process, by its id and its start time (so that a reused id is not taken for it). */
interface Proc {
  pid: number;
  started: string;
}

/** `pid`'s state, parent and start time, from /proc; undefined once it has gone. */
function statOf(pid: number): { state: string; parent: number; started: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, parent: Number(fields[1]), started: fields[19]! };
  } catch {
    return undefined;
  }
}

/** Every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const parent = statOf(Number(name))?.parent;
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const walk = (p: number): void => {
    for (const child of children.get(p) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function proc(pid: number): Proc | undefined {
  const stat = statOf(pid);
  return stat && { pid, started: stat.started };
}

/** Whether `p` still runs (a zombie, ended and not yet reaped, does not). */
function running(p: Proc): boolean {
  const stat = statOf(p.pid);
  return (
    stat !== undefined && stat.started === p.started && stat.state !== 'Z' && stat.state !== 'X'
  );
}

function kill(p: Proc): void {
  if (!running(p)) return;
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // Gone meanwhile.
  }
}

/** A password prompt of the programs (`src/room/room-access.ts`), where the cursor waits. */
export const PASSWORD_PROMPT =
  /(^Password for room \d+:|^Wrong password; try again \(\d+ left\):) ?$/;

async function openPane(
  command: string,
  program: string,
  args: string[],
  env: Record<string, string>,
  size: { columns: number; rows: number },
): Promise<Terminal> {
  noteSecrets(env, args);
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-tty-'));
  const socket = join(dir, 'tmux');
  const exitFile = join(dir, 'exit-code');
  const tmux = async (...words: string[]): Promise<string> =>
    (await run('tmux', ['-S', socket, ...words], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  const vars = testEnv(env);
  // The pane stays after the program exits, so its last screen and exit code can be read.
  await tmux(
    '-f',
    '/dev/null',
    'new-session',
    '-d',
    '-s',
    't',
    '-x',
    String(size.columns),
    '-y',
    String(size.rows),
    // The shell waits for the program and writes down its exit code.
    `env -i ${shellAssignments(vars)} TERM=xterm-256color ${command}; echo $? > ${shellQuote(exitFile)}`,
    ';',
    'set-option',
    '-t',
    't',
    'remain-on-exit',
    'on',
    ';',
    'set-option',
    '-t',
    't',
    'history-limit',
    '100000',
  );
  const capture = async (flags: string[]): Promise<string[]> =>
    (await tmux('capture-pane', '-p', '-t', 't', ...flags)).replace(/\n$/, '').split('\n');
  let buffers = 0;
  /** The program's exit code, once the pane's shell has written it down. */
  const exitCode = (): number | undefined => {
    const code = existsSync(exitFile) ? readFileSync(exitFile, 'utf8').trim() : '';
    return code === '' ? undefined : Number(code);
  };
  // The program in the pane, for the waits on its screen: once it has exited, a wait fails at
  // once instead of waiting out its timeout for output that can no longer come.
  let watching: ReturnType<typeof setInterval> | undefined;
  const inPane: WatchedProgram = {
    name: `${program} (in the terminal)`,
    exited: new Promise((resolve) => {
      let looking = false;
      watching = setInterval(() => {
        const code = exitCode();
        if (code === undefined || looking) return;
        // Exited, and once tmux has marked the pane dead, all it printed is on the screen.
        looking = true;
        tmux('display-message', '-p', '-t', 't', '#{pane_dead}')
          .then((dead) => {
            if (dead.trim() !== '1') return;
            clearInterval(watching);
            resolve(code);
          })
          .catch(() => undefined)
          .finally(() => (looking = false));
      }, 50);
      watching.unref();
    }),
    // What it printed is on the screen, which the failure shows below.
    stderr: () => '(on the terminal: see the screen below)',
  };
  const terminal: Terminal = {
    type: async (text) => {
      // Typed at a hidden password prompt, the text is a password given to the program.
      const [cursor, ...rows] = (
        await tmux(
          'display-message',
          '-p',
          '-t',
          't',
          '#{cursor_y}',
          ';',
          'capture-pane',
          '-p',
          '-t',
          't',
        )
      ).split('\n');
      if (PASSWORD_PROMPT.test(rows[Number(cursor)]?.trimEnd() ?? '')) noteSecret(text);
      await tmux('send-keys', '-t', 't', '-l', text);
    },
    press: async (...keys) => void (await tmux('send-keys', '-t', 't', ...keys)),
    paste: async (text, options = {}) => {
      const file = join(dir, `paste-${++buffers}`);
      writeFileSync(file, text);
      await tmux('load-buffer', '-b', `b${buffers}`, file);
      const bracketed = options.bracketed === false ? [] : ['-p'];
      await tmux('paste-buffer', '-d', ...bracketed, '-b', `b${buffers}`, '-t', 't');
    },
    screen: (escapes = false) => capture(escapes ? ['-J', '-e'] : ['-J']),
    rows: () => capture([]),
    history: () => capture(['-J', '-S', '-']),
    waitFor: async (what, check, options = {}) =>
      waitFor(
        what,
        async () => {
          const lines = options.history ? await terminal.history() : await terminal.screen();
          return check(lines) ? lines : undefined;
        },
        { timeoutMs: options.timeoutMs ?? 15_000, program: inPane },
      ).catch(async (err: Error) => {
        const shown = (await terminal.screen().catch(() => [])).join('\n');
        throw new Error(`${err.message}\n--- the screen:\n${shown}`);
      }),
    exited: (timeoutMs = 15_000) => waitFor('the program to exit', exitCode, timeoutMs),
    resize: async (columns, rows) =>
      void (await tmux('resize-window', '-t', 't', '-x', String(columns), '-y', String(rows))),
    hangUp: async () => void (await tmux('kill-server')),
    close: async () => {
      clearInterval(watching);
      const shown = await terminal.history().catch(() => []);
      record(program, args, shown.join('\n'));
      // The program gets SIGHUP and may still write its files on its way out (a room window
      // its pins): the test's folders are removed only once it has gone.
      const pane = Number(
        await tmux('display-message', '-p', '-t', 't', '#{pane_pid}').catch(() => ''),
      );
      const procs = (Number.isInteger(pane) && pane > 0 ? [pane, ...descendants(pane)] : [])
        .map(proc)
        .filter((p) => p !== undefined);
      await tmux('kill-server').catch(() => undefined);
      await waitFor(
        'the programs of the closed terminal to end',
        () => !procs.some(running),
        10_000,
      ).catch(() => procs.forEach(kill));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return terminal;
}
