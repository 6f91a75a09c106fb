/** Turns an error that reached the top of a program into one stderr line and an exit code. */
import type { Writable } from 'node:stream';
import { ExitCode, SunoyeError } from '../errors.js';
import { colourFor } from '../terminal/colour.js';
import { visible, visibleLine } from '../protocol/sanitise.js';
import { RegistryNotFoundError, RoomClosedError, RoomNotFoundError } from '../db/store.js';

/** Reports `err` on `stderr` as `program: message` and returns the exit code for it. */
export function reportError(
  program: string,
  err: unknown,
  stderr: Writable & { isTTY?: boolean },
  env: Record<string, string | undefined>,
): number {
  const prefix = colourFor(stderr, env).red(`${program}:`);
  if (err instanceof SunoyeError) {
    // A message may quote a room's creator, a database's error or a broker's reason: made visible.
    stderr.write(`${prefix} ${visibleLine(userMessage(err))}\n`);
    if (env.SUNOYE_DEBUG === '1' && err.stack) stderr.write(`${visible(err.stack)}\n`);
    return err.exitCode;
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  stderr.write(
    `${prefix} unexpected error; please report this with the text below.\n${visible(detail)}\n`,
  );
  return ExitCode.other;
}

/** The line a user reads for an expected failure: the registry's refusals say what to do next. */
export function userMessage(err: SunoyeError): string {
  if (err instanceof RoomNotFoundError)
    return `${err.message}; check the number, or create one with \`room create\``;
  if (err instanceof RegistryNotFoundError)
    return `${err.message}; check --db (or SUNOYE_DB, "db" in config.json): \`room create\` makes one`;
  if (err instanceof RoomClosedError)
    return `${err.message}; create a new one with \`room create\``;
  return err.message;
}
