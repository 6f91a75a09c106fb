/** Turns Ctrl-C and SIGTERM into an AbortSignal, for programs that run until stopped. */

/** How long after the first Ctrl-C a program may take to end. */
const EXIT_WITHIN_MS = 1900;

let interrupted = false;

/** Whether Ctrl-C (or SIGTERM) asked this program to stop. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/**
 * An AbortSignal that aborts on the first SIGINT or SIGTERM; a second one, or a program still
 * running 1.9 s after the first, ends through `exit` (130 or 143), which bin/ passes.
 */
export function abortOnSignals(exit: (code: number) => void): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      exit(name === 'SIGINT' ? 130 : 143);
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
      exit(name === 'SIGINT' ? 130 : 143);
    }, EXIT_WITHIN_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
