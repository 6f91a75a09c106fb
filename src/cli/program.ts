/** What the three programs share: their streams, and running a parsed command line. */
import type { Io } from '../room/context.js';
import { parseCommandLine, type Program } from './args.js';
import { reportError } from './report.js';
import { wasInterrupted } from './signals.js';

/** The process's own streams and environment. */
export function processIo(): Io {
  return {
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  };
}

/**
 * Runs `program` on the process's command line: help, the version and shell completion go to
 * stdout, a command runs (on the process's streams; `exit` ends the process at once), and whatever
 * it throws becomes one stderr line and the exit code (2 for usage errors).
 */
export async function runCli(program: Program, exit: (code: number) => void): Promise<void> {
  let exitWhenDone = false;
  try {
    const width = Math.min(120, process.stdout.columns || 100);
    const invocation = await parseCommandLine(program, process.argv.slice(2), width);
    if (invocation.kind === 'run')
      await invocation.command.run(invocation.args, {
        io: processIo(),
        exit,
        exitWhenDone: () => void (exitWhenDone = true),
      });
    else if (invocation.text) process.stdout.write(`${invocation.text}\n`);
  } catch (err) {
    process.exitCode = reportError(program.name, err, process.stderr, process.env);
  }
  // Stopped by Ctrl-C and done with its own (bounded) goodbyes: a socket that a silent broker or
  // database still holds open must not keep the program alive.
  if (wasInterrupted()) exit(Number(process.exitCode ?? 0));
  else if (exitWhenDone) {
    await Promise.all([written(process.stdout), written(process.stderr)]);
    exit(Number(process.exitCode ?? 0));
  }
}

/** Resolves once what was written to `stream` is out (or can never be: the stream failed). */
function written(stream: NodeJS.WritableStream & { writableLength?: number }): Promise<void> {
  if (!stream.writableLength) return Promise.resolve();
  // Writes complete in order: an empty one's callback comes after those before it.
  return new Promise((resolve) => stream.write('', () => resolve()));
}
