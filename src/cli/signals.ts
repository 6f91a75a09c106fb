/** Turns Ctrl-C and SIGTERM into an AbortSignal, for programs that run until stopped. */

/** An AbortSignal that aborts on the first SIGINT or SIGTERM; a second one exits at once. */
export function abortOnSignals(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.exitCode = name === 'SIGINT' ? 130 : 143;
      process.kill(process.pid, 'SIGKILL');
      return;
    }
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
