/** Waiting on conditions with a bounded timeout, instead of fixed sleeps. */

/** A running program whose output a wait reads (a RunningProgram is one). */
export interface WatchedProgram {
  /** Resolves with the exit code once the program has exited and its output is all read. */
  exited: Promise<number | null>;
  stderr(): string;
  /** How the failure names it; "the program" if not given. */
  name?: string;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /**
   * The program whose output `check` reads: once it has exited, `check` is tried one last time
   * and the wait fails at once (with the exit code and the end of its stderr) instead of waiting
   * out the timeout for output that can no longer come.
   */
  program?: WatchedProgram;
}

/** How much of a program's stderr a failure quotes: its last lines are what say why it ended. */
const STDERR_TAIL = 1500;

/**
 * Polls `check` until it returns a value other than undefined, null or false (a regular
 * expression's `exec` that has not matched yet is null), or fails after the timeout
 * (10 s unless given, as a number or in `options`), or at once when `options.program` exits first.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutOrOptions: number | WaitOptions = 10_000,
  intervalMs = 50,
): Promise<T> {
  const options: WaitOptions =
    typeof timeoutOrOptions === 'number'
      ? { timeoutMs: timeoutOrOptions, intervalMs }
      : timeoutOrOptions;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const interval = options.intervalMs ?? intervalMs;
  const { program } = options;
  let exitCode: { code: number | null } | undefined;
  /** Ends the current pause early: set while pausing, called once the program exits. */
  let wake: (() => void) | undefined;
  void program?.exited.then((code) => {
    exitCode = { code };
    wake?.();
  });
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    // Noted before the check: output that came before the exit is still seen by this last check.
    const exited = exitCode;
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      last = err;
    }
    const why = last instanceof Error ? `: ${last.message}` : '';
    if (exited) {
      const stderr = program!.stderr();
      const tail = stderr.length > STDERR_TAIL ? `…${stderr.slice(-STDERR_TAIL)}` : stderr;
      throw new Error(
        `${program!.name ?? 'the program'} exited (code ${exited.code}) while waiting for ${what}${why}; its stderr ${tail === '' ? 'was empty' : `ended:\n${tail}`}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    // An exit ends the pause early: the last check comes at once.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Lets `ms` of wall-clock time pass, for tests whose subject is the passage of time itself. */
export function elapse(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
