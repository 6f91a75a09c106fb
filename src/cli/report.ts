/** Turns an error that reached the top of a program into one stderr line and an exit code. */
import type { Writable } from 'node:stream';
import { ExitCode, SunoyeError, UsageError } from '../errors.js';

/** Reports `err` on `stderr` as `program: message` and returns the exit code for it. */
export function reportError(
  program: string,
  err: unknown,
  stderr: Writable,
  debug: boolean,
): number {
  if (err instanceof SunoyeError) {
    stderr.write(`${program}: ${err.message}\n`);
    if (debug && err.stack) stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  stderr.write(
    `${program}: unexpected error; please report this with the text below.\n${detail}\n`,
  );
  return ExitCode.other;
}

/** yargs' failure callback: its own parse errors become usage errors, anything else passes. */
export function yargsFailure(message: string | undefined, err: Error | undefined): never {
  if (err && err.name !== 'YError') throw err;
  throw new UsageError(message ?? err?.message ?? 'invalid command line');
}
