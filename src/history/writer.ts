/**
 * Writing a room's history: what a program sent to the room, kept in the registry once the broker
 * acknowledged it. The sending path only queues the acknowledged message; the registry is written
 * in batched transactions, one at a time, off that path. A slow or down registry costs a warning,
 * never a line nor the pipe's speed: the queue is bounded, and what does not fit, or cannot be
 * written in time, is counted and reported as not kept in the history.
 */
import type { HistoryRow, RoomStore } from '../db/index.js';
import type { ChatPayload, Signer } from '../protocol/index.js';
import { visibleLine } from '../protocol/sanitise.js';
import type { PublishObserver } from '../conversation/outbox.js';
import { senderOf } from '../conversation/tracker.js';
import type { ChatTarget } from '../room/target.js';
import { HistorySealer } from './seal.js';

/** How often, and how much at most in one transaction, the registry is written; the bounds. */
export interface HistoryLimits {
  /** A row waits at most this long before it is written (when nothing else holds it up). */
  flushMs: number;
  /** A transaction holds at most this many rows, and this much payload. */
  batchRows: number;
  batchBytes: number;
  /** At most this much payload waits to be written; what comes beyond it is not kept. */
  queueBytes: number;
  /** A batch the registry failed this many times is given up (the next one is tried). */
  attempts: number;
  /** The longest wait before a failed batch is tried again. */
  maxBackoffMs: number;
  /**
   * How often expired history is pruned (only when lines were written since: a listener, which
   * writes only its join and leave, never prunes, so 100,000 of them add no registry work), how
   * many rows a step deletes, steps at most a time.
   */
  pruneMs: number;
  pruneRows: number;
  pruneSteps: number;
  /**
   * Lines not kept are reported this long after the first (what is dropped meanwhile is counted
   * in), then at most every warnEveryMs; the end of the program says them all.
   */
  collectMs: number;
  warnEveryMs: number;
}

/** A program that wrote this much payload since it last pruned prunes again (a quick pipe of long lines). */
const PRUNE_AFTER_BYTES = 1024 * 1024;

export const HISTORY_LIMITS: HistoryLimits = {
  flushMs: 200,
  batchRows: 500,
  batchBytes: 1024 * 1024,
  queueBytes: 8 * 1024 * 1024,
  attempts: 6,
  maxBackoffMs: 5000,
  pruneMs: 60_000,
  pruneRows: 200,
  pruneSteps: 3,
  collectMs: 1000,
  warnEveryMs: 10_000,
};

/** One acknowledged message waiting to be written, and what it holds (for the counts). */
interface Queued {
  row: HistoryRow;
  lines: number;
  notices: number;
}

/** A message's stream and numbers, without its payload, and what it holds. */
type Described = Omit<HistoryRow, 'payload'> & Omit<Queued, 'row'>;

/** What was not kept: lines (chat messages) and notices. */
interface Lost {
  lines: number;
  notices: number;
}

/** "3 lines", "1 line and 1 notice", "the end of the stream (1 notice)". */
function describeLost(lost: Lost): string {
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (lost.lines === 0) return plural(lost.notices, 'notice');
  if (lost.notices === 0) return plural(lost.lines, 'line');
  return `${plural(lost.lines, 'line')} and ${plural(lost.notices, 'notice')}`;
}

/**
 * The history writer of one sending program in one room (see the top of this file). `acked`
 * (or the observer from `observer`) takes messages; `start` begins pruning; `close` writes what
 * is queued within a bound and says what was not kept.
 */
export class HistoryWriter {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  /** When the oldest queued row arrived (ms); the flush is due flushMs after it. */
  private oldestAt = 0;
  /** The registry operation running (a flush or a prune step): one at a time. */
  private running: Promise<void> | undefined;
  private flushing = false;
  /** Failures of the batch at the head of the queue in a row, and when it may be tried again. */
  private failures = 0;
  private retryAt = 0;
  /** Why the registry did not take the last batch it failed (sanitised, one line). */
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruneLeft = 0;
  /** Rows written since pruning last found nothing more to delete (a pipe prunes as it writes). */
  private pruneDebt = 0;
  /** Payload bytes, and lines, written since pruning last found nothing more to delete. */
  private pruneDebtBytes = 0;
  private pruneDebtLines = 0;
  /** Closing: one more pruning, once what is queued is written (a quick pipe is kept in its cap). */
  private pruneAtEnd = false;
  /** Lines written since the last pruning tick; whether the first line written was followed by one. */
  private linesSincePrune = 0;
  private prunedOnce = false;
  private closing = false;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  /** Not kept, in all and not yet reported; and why, last. */
  private readonly lost: Lost = { lines: 0, notices: 0 };
  private unreported: Lost = { lines: 0, notices: 0 };
  private lostWhy = '';
  private lastWarnAt = -Infinity;
  private warnTimer: NodeJS.Timeout | undefined;
  /** Lines (chat messages) acknowledged in all. */
  private sentLines = 0;
  private readonly limits: HistoryLimits;
  /** The public key that signs what this program sends. */
  private readonly signer: Buffer;
  /** Seals each transaction's rows (seal.ts), so that readers check one signature for many. */
  private readonly sealer: HistorySealer;

  constructor(
    private readonly store: RoomStore,
    readonly room: string,
    /** What signs what this program sends (and the seals over its rows). */
    signer: Signer,
    /** A warning for the user (one line, no newline, no "warning: "). */
    private readonly warn: (message: string) => void,
    limits: Partial<HistoryLimits> = {},
  ) {
    this.limits = { ...HISTORY_LIMITS, ...limits };
    this.signer = signer.publicKey;
    this.sealer = new HistorySealer(room, signer);
  }

  /** Rows waiting to be written (for tests and the bench). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Lines and notices not kept so far. */
  get notKept(): Readonly<Lost> {
    return this.lost;
  }

  /** An observer for an outbox: the message is kept once the broker acknowledged it. */
  observer(): PublishObserver {
    return (payload, payloads) => {
      // Only the numbers are held until the acknowledgement, not the payloads' text.
      const made = this.describe(payloads);
      return (err) => {
        if (!err && made) this.take(payload, made);
      };
    };
  }

  /** A message the broker acknowledged (a notice published outside the outbox). */
  acked(payload: string, payloads: ChatPayload[]): void {
    const made = this.describe(payloads);
    if (made) this.take(payload, made);
  }

  /**
   * Begins pruning the room's expired history: once the first lines are written, then every
   * pruneMs while lines are written.
   */
  start(): void {
    if (this.closing || this.pruneTimer) return;
    const tick = (): void => {
      if (this.linesSincePrune === 0) return;
      this.linesSincePrune = 0;
      this.pruneLeft = this.limits.pruneSteps;
      this.kick();
    };
    this.pruneTimer = setInterval(tick, this.limits.pruneMs).unref();
  }

  /**
   * Writes what is queued, waiting at most `withinMs`, then stops: what is left, and anything
   * acknowledged from now on, is not kept. Says, once, how many lines in all were not kept.
   */
  async close(withinMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.pruneTimer);
    this.pruneLeft = 0;
    this.pruneAtEnd = this.pruneTimer !== undefined;
    // A failed batch is tried again at once: there is no later.
    this.retryAt = 0;
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        if (this.drained()) resolve();
        else this.drainWaiters.push(resolve);
      }),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, withinMs)))),
    ]);
    clearTimeout(timer);
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.warnTimer);
    if (this.queue.length > 0) {
      const why =
        this.lastError !== undefined
          ? `the registry did not take them (${this.lastError})`
          : `the registry had not written them when the program ended (it waited ${(Math.max(0, withinMs) / 1000).toFixed(1)} s)`;
      this.drop(this.queue.splice(0), why);
      this.queuedBytes = 0;
    }
    const lost = this.lost;
    if (lost.lines + lost.notices > 0) {
      const of = lost.lines > 0 ? ` (of ${this.sentLines} sent)` : '';
      this.warn(
        `${describeLost(lost)}${of} ${lost.lines + lost.notices === 1 ? 'was' : 'were'} not kept in room ${this.room}'s history: ${this.lostWhy}`,
      );
    }
    this.unreported = { lines: 0, notices: 0 };
  }

  /** The row's stream and numbers, and what it holds; undefined for a payload without them. */
  private describe(payloads: ChatPayload[]): Described | undefined {
    const first = payloads[0];
    const last = payloads.at(-1);
    if (first?.id === undefined || first.seq === undefined || last?.seq === undefined)
      return undefined;
    let lines = 0;
    for (const p of payloads) if (p.type === 'message') lines += 1;
    return {
      signer: this.signer,
      sender: senderOf(first.id),
      firstSeq: first.seq,
      lastSeq: last.seq,
      lines,
      notices: payloads.length - lines,
    };
  }

  private take(payload: string, made: Described): void {
    const { lines, notices, ...columns } = made;
    this.sentLines += lines;
    const row: HistoryRow = { ...columns, payload: Buffer.from(payload) };
    const queued: Queued = { row, lines, notices };
    if (this.closed)
      return this.drop([queued], 'it was acknowledged after the program stopped writing');
    const size = row.payload.length;
    if (this.queuedBytes + size > this.limits.queueBytes) {
      const mib = Math.round(this.limits.queueBytes / (1024 * 1024));
      const why =
        this.lastError !== undefined
          ? `the registry does not take them (${this.lastError}) and ${mib} MiB wait already`
          : `the registry is slower than the room: ${mib} MiB wait to be written already`;
      return this.drop([queued], why);
    }
    if (this.queue.length === 0) this.oldestAt = Date.now();
    this.queue.push(queued);
    this.queuedBytes += size;
    // Never on the sending path: the registry is written on a later turn of the event loop.
    if (this.full()) setImmediate(() => this.kick());
    else if (!this.timer && !this.running) this.arm(this.limits.flushMs);
  }

  /** Whether a batch's worth is queued. */
  private full(): boolean {
    return this.queue.length >= this.limits.batchRows || this.queuedBytes >= this.limits.batchBytes;
  }

  private drained(): boolean {
    return this.queue.length === 0 && !this.flushing && !(this.closing && this.running);
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.kick();
      },
      Math.max(0, ms),
    ).unref();
  }

  /** Starts the next registry operation that is due, or the timer for it. */
  private kick(): void {
    if (this.running || this.closed) return;
    const now = Date.now();
    if (this.queue.length > 0 && now >= this.retryAt) {
      if (this.closing || this.full() || now >= this.oldestAt + this.limits.flushMs) {
        this.run(this.flush());
        return;
      }
    }
    if (this.pruneAtEnd && this.queue.length === 0) {
      // Closing, everything written: what was written since the last pruning is pruned now.
      this.pruneAtEnd = false;
      if (this.pruneDebtLines > 0) this.pruneLeft = this.limits.pruneSteps;
    }
    const due =
      this.pruneLeft > 0 ||
      (!this.closing &&
        (this.pruneDebt >= this.limits.pruneRows || this.pruneDebtBytes >= PRUNE_AFTER_BYTES));
    if (due) {
      this.run(this.prune());
      return;
    }
    if (this.queue.length > 0)
      this.arm(Math.max(this.retryAt, this.oldestAt + this.limits.flushMs) - now);
  }

  private run(operation: Promise<void>): void {
    this.running = operation.finally(() => {
      this.running = undefined;
      if (this.drained()) for (const wake of this.drainWaiters.splice(0)) wake();
      this.kick();
    });
  }

  /** Writes the batch at the head of the queue in one transaction. */
  private async flush(): Promise<void> {
    const { batchRows, batchBytes } = this.limits;
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < batchRows) {
      const size = this.queue[count]!.row.payload.length;
      if (count > 0 && bytes + size > batchBytes) break;
      bytes += size;
      count += 1;
    }
    const batch = this.queue.slice(0, count);
    this.flushing = true;
    try {
      const sealed = this.sealer.seal(batch.map((q) => q.row));
      await this.store.appendHistory(this.room, sealed.rows);
      sealed.commit();
      this.failures = 0;
      this.retryAt = 0;
      this.lastError = undefined;
      if (this.closed) return; // counted as not kept already; kept after all, which is no harm
      this.pruneDebt += count;
      this.pruneDebtBytes += bytes;
      const lines = batch.reduce((n, q) => n + q.lines, 0);
      this.pruneDebtLines += lines;
      this.linesSincePrune += lines;
      if (lines > 0 && !this.prunedOnce && this.pruneTimer) {
        this.prunedOnce = true;
        this.linesSincePrune = 0;
        this.pruneLeft = this.limits.pruneSteps;
      }
      this.queue.splice(0, count);
      this.queuedBytes -= bytes;
      this.oldestAt = Date.now();
    } catch (err) {
      this.lastError = visibleLine((err as Error).message ?? String(err));
      this.failures += 1;
      if (this.closed) return;
      if (this.failures >= this.limits.attempts) {
        // Given up after its tries: the next batch gets its own.
        this.failures = 0;
        this.queue.splice(0, count);
        this.queuedBytes -= bytes;
        this.drop(batch, `the registry did not take them (${this.lastError})`);
      }
      const backoff = Math.min(this.limits.maxBackoffMs, this.limits.flushMs * 2 ** this.failures);
      this.retryAt = this.closing ? 0 : Date.now() + backoff;
    } finally {
      this.flushing = false;
    }
  }

  /**
   * One step of pruning; more steps while a step deletes as many as it may: a few a tick, and as
   * many as rows were written (so a long pipe keeps the room within its size cap as it goes).
   */
  private async prune(): Promise<void> {
    const { pruneRows } = this.limits;
    try {
      const deleted = await this.store.pruneHistory(this.room, pruneRows);
      if (deleted < pruneRows) {
        this.pruneLeft = 0;
        this.pruneDebt = 0;
        this.pruneDebtBytes = 0;
        this.pruneDebtLines = 0;
      } else {
        this.pruneLeft = Math.max(0, this.pruneLeft - 1);
        this.pruneDebt = Math.max(0, this.pruneDebt - deleted);
      }
    } catch {
      // Pruning loses nothing: the next tick tries again (a down registry is reported by flushes).
      this.pruneLeft = 0;
      this.pruneDebt = 0;
      this.pruneDebtBytes = 0;
      this.pruneDebtLines = 0;
    }
  }

  /** Counts rows not kept, and reports them (at most every warnEveryMs while running). */
  private drop(rows: Queued[], why: string): void {
    for (const q of rows) {
      this.lost.lines += q.lines;
      this.lost.notices += q.notices;
      this.unreported.lines += q.lines;
      this.unreported.notices += q.notices;
    }
    this.lostWhy = why;
    if (this.closing || this.warnTimer) return; // said by the report to come, or by close
    const now = Date.now();
    const at = Math.max(this.lastWarnAt + this.limits.warnEveryMs, now + this.limits.collectMs);
    this.warnTimer = setTimeout(() => this.report(), at - now).unref();
  }

  private report(): void {
    this.warnTimer = undefined;
    if (this.closing) return;
    const lost = this.unreported;
    if (lost.lines + lost.notices === 0) return;
    this.unreported = { lines: 0, notices: 0 };
    this.lastWarnAt = Date.now();
    this.warn(
      `${describeLost(lost)} ${lost.lines + lost.notices === 1 ? 'was' : 'were'} not kept in room ${this.room}'s history: ${this.lostWhy}`,
    );
  }
}

/**
 * The history writer for a program sending to `target`, or undefined when nothing is kept: a
 * raw topic, a plain room, a room whose history is 0, or no registry open.
 */
export function historyWriter(
  store: RoomStore | undefined,
  target: ChatTarget,
  warn: (message: string) => void,
  limits?: Partial<HistoryLimits>,
): HistoryWriter | undefined {
  if (!keepsHistory(target) || !store) return undefined;
  return new HistoryWriter(store, target.room!, target.identity!.signer, warn, limits);
}

/** Whether what is sent to `target` is kept in the room's history. */
export function keepsHistory(target: ChatTarget): boolean {
  return (
    target.room !== undefined &&
    target.identity !== undefined &&
    target.codec.mode === 'encrypted' &&
    (target.history?.seconds ?? 0) > 0
  );
}
