/**
 * Batched output: lines handed over while one burst of messages is being handled are written to
 * the stream in one call when the event loop turns (or at 64 KiB), instead of one system call per
 * line. Nothing waits on a timer, so a lone message is printed as soon as it is handled.
 *
 * When the stream cannot take more (a pipe to a slow reader, `listen | less` waiting), `flow` is
 * paused until it drains: `listen` stops reading from the broker, which keeps the messages, instead
 * of holding all of them in memory.
 */
const FLUSH_AT = 64 * 1024;

/** The output stream: a writable that says when it is full (false) and when it drained. */
export interface LineSink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export class LineBatcher {
  private pending: string[] = [];
  private size = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private blocked = false;
  private discarding = false;

  constructor(
    private readonly stream: LineSink,
    private readonly flow?: { pause(): void; resume(): void },
  ) {}

  /**
   * Nobody reads the output any more (a closed pipe): drop what is pending and all that comes,
   * and let the flow go on, so the program can leave normally.
   */
  discard(): void {
    this.discarding = true;
    this.pending = [];
    this.size = 0;
    if (this.blocked) {
      this.blocked = false;
      this.flow?.resume();
    }
  }

  write(line: string): void {
    if (this.discarding) return;
    this.pending.push(line);
    this.size += line.length;
    if (this.size >= FLUSH_AT) this.flush();
    else this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes what is pending now. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0 || this.discarding) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.size = 0;
    if (!this.stream.write(text) && this.flow && !this.blocked) {
      this.blocked = true;
      this.flow.pause();
      this.stream.once('drain', () => {
        this.blocked = false;
        this.flow!.resume();
      });
    }
  }
}
