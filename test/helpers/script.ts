/**
 * A shell command line run in a terminal of its own by `script` (a pseudo-terminal, as a terminal
 * window gives), without tmux: what the terminal showed is read as one stream of output.
 */
import { spawnSync } from 'node:child_process';
import { noteSecret } from './cli.js';
import { startProgram, type RunningProgram } from './programs.js';
import { PASSWORD_PROMPT } from './terminal.js';

/** A command line running under `script`, and everything its terminal has shown so far. */
export interface ScriptTerminal extends RunningProgram {
  /** Everything the terminal has shown so far, as it came (`\r\n` line ends, escapes kept). */
  output(): string;
  /** How often `text` appears in the output so far. */
  count(text: string): number;
  /**
   * Types `text` into the terminal (Ctrl-C is '\x03', Ctrl-D '\x04'); typed at a password
   * prompt, it is noted as a secret given to the program.
   */
  type(text: string): void;
}

/** The escape sequences of colours and cursor movements, which a prompt line may hold. */
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * Runs `commandLine` (a shell command line: quote its words with `shellQuote`) under `script`,
 * with `env` (see `testEnv`); its output is recorded for the secret check when it ends.
 */
export function startInScript(commandLine: string, env: Record<string, string>): ScriptTerminal {
  if (spawnSync('script', ['--version'], { stdio: 'ignore' }).error)
    throw new Error('script is not installed');
  const running = startProgram('script' as 'listen', ['-qfec', commandLine, '/dev/null'], env, {
    raw: true,
  });
  let shown = '';
  running.child.stdout.on('data', (chunk: string) => (shown += chunk));
  running.child.stderr.on('data', (chunk: string) => (shown += chunk));
  // A program that exits without reading what was typed closes the pipe under the write.
  running.child.stdin.on('error', () => undefined);
  return Object.assign(running, {
    output: () => shown,
    count: (text: string) => shown.split(text).length - 1,
    type: (text: string) => {
      const lastLine = shown.slice(shown.lastIndexOf('\n') + 1).replace(ESCAPES, '');
      const atPrompt = lastLine.split('\r').pop()?.trimEnd() ?? '';
      const typed = text.replace(/\r?\n$/, '');
      // Keys such as Ctrl-C typed there are not a password.
      // eslint-disable-next-line no-control-regex
      if (PASSWORD_PROMPT.test(atPrompt) && !/[\x00-\x1f]/.test(typed)) noteSecret(typed);
      running.child.stdin.write(text);
    },
  });
}
