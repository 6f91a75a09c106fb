/**
 * What a running `publish` shows on stderr besides its errors: a prompt for a person typing on a
 * terminal, a progress line for a pipe when stderr is a terminal, and in either, word of the
 * broker going away and coming back. A pipe into a file or a log gets none of it.
 */
import type { Writable } from 'node:stream';
import { Progress } from './progress.js';

/** How the sender's input and stderr are connected. */
export interface StatusSettings {
  /** A person types the lines (stdin is a terminal): a prompt. */
  prompt: boolean;
  /** A pipe, with stderr a terminal: a progress line. */
  progress: boolean;
  /** Where the lines go, in words: `room 482913` or a topic. */
  where: string;
  /** Seconds without acknowledgements before the sender gives up. */
  timeoutSeconds: number;
  /** Lines delivered so far. */
  delivered: () => number;
}

/** The stderr of one sender. */
export class SendStatus {
  private readonly progress: Progress | undefined;
  private offline = false;
  private atPrompt = false;

  constructor(
    private readonly stderr: Writable & { columns?: number },
    private readonly settings: StatusSettings,
  ) {
    this.progress = settings.progress ? new Progress(stderr, settings.delivered) : undefined;
  }

  private get promptText(): string {
    return this.offline ? '(broker unreachable) > ' : '> ';
  }

  /** Input begins: the prompt, or the progress line's clock. */
  begin(): void {
    if (this.settings.prompt) {
      this.stderr.write(
        `Type messages for ${this.settings.where}, one per line; Ctrl-D ends.\n${this.promptText}`,
      );
      this.atPrompt = true;
    }
    this.progress?.start();
  }

  /** Lines were taken: the prompt again. */
  taken(): void {
    if (this.atPrompt) this.stderr.write(this.promptText);
  }

  /** Input ended: off the prompt's line, the progress line erased. */
  end(): void {
    if (this.atPrompt) this.stderr.write('\n');
    this.atPrompt = false;
    this.progress?.stop();
  }

  /** A line of status (no newline), clear of the prompt and of the progress line. */
  say(line: string): void {
    this.progress?.clear();
    this.stderr.write(this.atPrompt ? `\n${line}\n${this.promptText}` : `${line}\n`);
  }

  /** The broker connection was lost (the connection tries again by itself). */
  lost(): void {
    if (this.offline) return;
    this.offline = true;
    const why = `broker unreachable; lines are kept and sent when it is back (giving up after ${this.settings.timeoutSeconds} s without it)`;
    if (this.progress) this.progress.status(why);
    else if (this.settings.prompt) this.say(why);
  }

  /** The broker connection is back. */
  back(): void {
    if (!this.offline) return;
    this.offline = false;
    if (this.progress) this.progress.status(undefined);
    else if (this.settings.prompt) this.say('broker reachable again');
  }
}
