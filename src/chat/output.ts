/**
 * Batched output: lines handed over while one burst of messages is being handled are written to
 * the stream in one call when the event loop turns (or at 64 KiB), instead of one system call per
 * line. Nothing waits on a timer, so a lone message is printed as soon as it is handled.
 */
const FLUSH_AT = 64 * 1024;

export class LineBatcher {
  private pending: string[] = [];
  private size = 0;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly stream: { write(chunk: string): unknown }) {}

  write(line: string): void {
    this.pending.push(line);
    this.size += line.length;
    if (this.size >= FLUSH_AT) this.flush();
    else this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes what is pending now. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.size = 0;
    this.stream.write(text);
  }
}
