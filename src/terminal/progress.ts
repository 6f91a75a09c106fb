/**
 * A progress line on a terminal for a long pipe: how many lines were sent and at what rate, drawn
 * over itself a few times a second and erased at the end, so it never stays in a scrollback or a
 * log. Only for a terminal: the caller decides, the stream's `isTTY` says.
 */
import type { Writable } from 'node:stream';

/** How long a pipe runs before its progress shows: a short one never flashes a line. */
export const PROGRESS_DELAY_MS = 1000;
/** How often the line is drawn again. */
export const PROGRESS_EVERY_MS = 250;
/** The rate is over this last stretch of time. */
const RATE_OVER_MS = 2000;

/** Erases the line the cursor is on: all of it (0), or right of the cursor (1). */
function clearLine(stream: Writable, dir: 0 | 1): void {
  // Loaded on first use: `publish -m` never draws, and starts without node:readline.
  process.getBuiltinModule('node:readline').clearLine(stream, dir);
}

/** The progress line of one run, counting what `count` returns. */
export class Progress {
  private delay: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private shown = false;
  private stopped = false;
  private samples: { at: number; count: number }[] = [];
  private note: string | undefined;

  constructor(
    private readonly stream: Writable & { columns?: number },
    private readonly count: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts drawing after `delayMs`, then every `everyMs`. */
  start(delayMs = PROGRESS_DELAY_MS, everyMs = PROGRESS_EVERY_MS): void {
    this.samples.push({ at: this.now(), count: this.count() });
    this.delay = setTimeout(() => {
      this.draw();
      this.timer = setInterval(() => this.draw(), everyMs);
    }, delayMs);
  }

  /** A word on the state of things shown after the figures (undefined: none). */
  status(note: string | undefined): void {
    this.note = note;
    if (this.shown) this.draw();
  }

  /** Erases the line, for a line of something else; the next drawing brings it back. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r');
    clearLine(this.stream, 0);
    this.shown = false;
  }

  /** Erases the line for good. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.delay);
    clearInterval(this.timer);
    this.clear();
  }

  private draw(): void {
    if (this.stopped) return;
    const at = this.now();
    const count = this.count();
    this.samples.push({ at, count });
    while (this.samples.length > 2 && this.samples[0]!.at < at - RATE_OVER_MS) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (at - first.at) / 1000;
    const rate = seconds > 0 ? Math.round((count - first.count) / seconds) : 0;
    let line = `${count} line${count === 1 ? '' : 's'} sent, ${rate} lines/s`;
    if (this.note) line += `; ${this.note}`;
    // A line wider than the terminal would wrap, and `\r` would then draw over its second half.
    const columns = this.stream.columns;
    if (columns && line.length >= columns) line = line.slice(0, columns - 1);
    this.stream.write(`\r${line}`);
    clearLine(this.stream, 1);
    this.shown = true;
  }
}
