/** Turns an error that reached the top of a program into one stderr line and an exit code. */
import type { Writable } from 'node:stream';
import { ExitCode, SunoyeError } from '../errors.js';
import { colourFor } from './colour.js';

/** Reports `err` on `stderr` as `program: message` and returns the exit code for it. */
export function reportError(
  program: string,
  err: unknown,
  stderr: Writable & { isTTY?: boolean },
  env: Record<string, string | undefined>,
): number {
  const prefix = colourFor(stderr, env).red(`${program}:`);
  if (err instanceof SunoyeError) {
    stderr.write(`${prefix} ${err.message}\n`);
    if (env.SUNOYE_DEBUG === '1' && err.stack) stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  stderr.write(`${prefix} unexpected error; please report this with the text below.\n${detail}\n`);
  return ExitCode.other;
}
