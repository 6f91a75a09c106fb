/** What the three programs share: their streams, and yargs' help, strictness and failures. */
import type { Argv } from 'yargs';
import type { Io } from '../commands/context.js';
import { EPILOGUE } from './options.js';
import { yargsFailure } from './report.js';

/** The process's own streams and environment. */
export function processIo(): Io {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Help with the shared epilogue, -h, --version, strict flags, and usage errors as exit 2. */
export function finishCli<T>(y: Argv<T>): Argv<T> {
  return y
    .epilogue(EPILOGUE)
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 120))
    .fail(yargsFailure);
}
