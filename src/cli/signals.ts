/** Turns Ctrl-C and SIGTERM into an AbortSignal, for programs that run until stopped. */

/** How long after the first Ctrl-C a program may take to end. */
const EXIT_WITHIN_MS = 1900;

/** The exit code of a program ended by a signal: 128 and the signal's number. */
const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
};

let interrupted = false;
let onInterrupt: (() => void) | undefined;

/** Whether Ctrl-C (or SIGTERM) asked this program to stop. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/**
 * An AbortSignal that aborts on the first SIGINT or SIGTERM (and SIGHUP, the terminal closed, with
 * `hangup`: only for a program that cannot run without its terminal, as `nohup` would otherwise
 * not keep it); a second one, or a program still running 1.9 s after the first, ends through
 * `exit` (130, 143 or 129), which bin/ passes.
 */
export function abortOnSignals(
  exit: (code: number) => void,
  options: { hangup?: boolean } = {},
): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    const code = EXIT_CODES[name] ?? 1;
    if (name === 'SIGHUP') endByHangup();
    if (controller.signal.aborted) {
      // A hangup comes with the end of the input, which may have started the leave already.
      if (name !== 'SIGHUP') exit(code);
      return;
    }
    interrupted = true;
    controller.abort();
    // However a program winds down (a leave notice, a dead broker or database), one Ctrl-C ends
    // it within 2 s: this fires only if something still holds the process then.
    setTimeout(() => {
      process.stderr.write(
        'stopped without a clean exit: the broker or the database did not answer in time\n',
      );
      exit(code);
    }, EXIT_WITHIN_MS).unref();
  };
  onInterrupt = () => {
    if (!controller.signal.aborted) onSignal('SIGINT');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (options.hangup) process.on('SIGHUP', onSignal);
  return controller.signal;
}

/**
 * After a hangup the program ends killed by SIGHUP, as a terminal's programs do when it closes:
 * Node's own exit sets the terminal's modes back, and aborts when the terminal is gone.
 */
function endByHangup(): void {
  process.once('exit', () => {
    process.removeAllListeners('SIGHUP');
    process.kill(process.pid, 'SIGHUP');
  });
}

/**
 * Stops the program as Ctrl-C does, within the same bound: for a terminal in raw mode, where
 * Ctrl-C is a key that sends no signal.
 */
export function interrupt(): void {
  onInterrupt?.();
}
