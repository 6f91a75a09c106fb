/**
 * The two kinds of error sunoye has. A `SunoyeError` is an expected, user-facing failure: it
 * carries the exit code that is part of the CLI's interface and a one-line message that says
 * what to do next. Anything else that reaches the top level is a bug.
 */

/** Exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  other: 1,
  usage: 2,
  refused: 3,
  unavailable: 4,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An expected failure with the exit code it maps to. */
export class SunoyeError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags, arguments or configuration (exit 2). */
export class UsageError extends SunoyeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** The request was understood and refused: unknown room, wrong password, closed room (exit 3). */
export class RefusedError extends SunoyeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.refused, options);
  }
}

/** A service sunoye needs (database or broker) could not be reached (exit 4). */
export class UnavailableError extends SunoyeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.unavailable, options);
  }
}

/** Ctrl-C before the work could start (exit 130, as a shell reports SIGINT). */
export class InterruptedError extends SunoyeError {
  constructor(message = 'interrupted') {
    super(message, ExitCode.interrupted);
  }
}
