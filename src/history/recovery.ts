/**
 * Recovering lines a listener missed from the room's history. When a signed stream skips numbers,
 * ends beyond what arrived, or goes quiet across a reconnect, the inbox hands the gap here: after
 * a short wait (the sender stores what it sent in batches), the missing numbers are read from the
 * registry, and what is found and proves itself (rows.ts: the room's key, the stream's signature,
 * exactly the numbers it claims) goes back to the inbox to be shown late. Only what history does
 * not have is reported lost. The registry is read and rows are opened through what the caller
 * gives: a listener reads its store and opens with its codec; the room page (which bundles this
 * file, so it imports nothing of Node's) asks `room serve` and opens with WebCrypto.
 *
 * Bounded, so that a member making up gaps (or numbers far apart) cannot make a listener hammer
 * the registry or grow its memory: a few lookups at a time, a few gaps waiting per key and in
 * all, gaps of one stream merged while they wait, a budget of lookups per key per minute, and
 * every query bounded in rows and bytes (a claimed gap of 2^40 numbers costs one such query).
 * What is over a bound is reported as lost at once, as without history.
 */
import type { HistoryQuery, StoredHistoryRow } from '../db/index.js';
import { withDeadline } from '../conversation/deadline.js';
import type { Gap, GapOwner, GapRecovery } from '../conversation/gaps.js';
import type { ChatPayload } from '../protocol/payload.js';
import { MAX_ENVELOPE_BYTES } from '../protocol/wire.js';
import type { RowOpener } from './lines.js';
import type { AlteredRow, OpenedRow } from './rows.js';
import { RECOVERY_WAIT_MS } from './show.js';

/** How long a gap waits before it is looked up (show.ts says why). */
export { RECOVERY_WAIT_MS };

/** The bounds (exported for tests). */
export const RECOVERY_LIMITS = {
  /** Lookups running at once, in all. */
  running: 2,
  /** Gaps waiting or being looked up, in all, and per signing key. */
  pending: 64,
  pendingPerKey: 4,
  /** Lookups per signing key in any minute. */
  lookupsPerKeyPerMinute: 10,
  /** Keys whose lookups of the last minute are remembered (the oldest forgotten first). */
  keys: 1024,
  /** What one query may read, and the queries of one lookup (each taking up where one was cut). */
  maxRows: 2000,
  maxBytes: 8 * 1024 * 1024,
  pages: 4,
};

const MINUTE_MS = 60_000;
/**
 * How long one query may take: a registry that stops answering must not hold the gaps waiting
 * behind it (they are reported lost, as when it is down).
 */
export const QUERY_DEADLINE_MS = 10_000;

/** What a recovery needs: the room's history rows, and how to open them. */
export interface RecoveryOptions {
  /** Reads rows of the room's history (a store's `readHistory` for the room). */
  rows: (query: HistoryQuery) => Promise<StoredHistoryRow[]>;
  /** Opens rows with the room's key and checks them against what their columns claim. */
  open: RowOpener;
  /** A warning for the user (one line, no newline). */
  warn: (line: string) => void;
  /** The wait before a lookup (tests make it short). */
  waitMs?: number;
}

interface Pending {
  gap: Gap;
  owner: GapOwner;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Waiting (merging further gaps of its stream), queued, running, or over. */
  state: 'waiting' | 'queued' | 'running' | 'done';
}

/** Looks the gaps of a room's signed streams up in its history (see the top of this file). */
export class Recovery implements GapRecovery {
  /** Lookups made, and the queries they took (for tests and figures). */
  lookups = 0;
  queries = 0;
  /** Payloads found and handed back (for tests and figures). */
  found = 0;
  private readonly pending = new Set<Pending>();
  /** The entry of each stream (and kind) still waiting: later gaps of it are merged in. */
  private readonly waiting = new Map<string, Pending>();
  private readonly queue: Pending[] = [];
  private running = 0;
  /** Per key, when its lookups of the last minute were made (least recently used first). */
  private readonly spent = new Map<string, number[]>();
  private failing = false;
  private closed = false;
  private readonly waitMs: number;

  constructor(private readonly options: RecoveryOptions) {
    this.waitMs = options.waitMs ?? RECOVERY_WAIT_MS;
  }

  missing(gap: Gap, owner: GapOwner): boolean {
    if (this.closed || gap.to < gap.from) return false;
    const slot = `${gap.quiet ? 'quiet' : 'gap'} ${gap.stream}`;
    const merging = this.waiting.get(slot);
    if (merging) {
      // One lookup for the stream's gaps of the moment: the numbers between them arrived, and
      // are not looked up again (see `unseen`).
      merging.gap.from = Math.min(merging.gap.from, gap.from);
      merging.gap.to = Math.max(merging.gap.to, gap.to);
      return true;
    }
    if (this.pending.size >= RECOVERY_LIMITS.pending) return false;
    let ofKey = 0;
    for (const p of this.pending) if (p.gap.key === gap.key) ofKey += 1;
    if (ofKey >= RECOVERY_LIMITS.pendingPerKey || !this.spend(gap.key)) return false;
    const p: Pending = { gap: { ...gap }, owner, timer: undefined, state: 'waiting' };
    this.pending.add(p);
    this.waiting.set(slot, p);
    p.timer = setTimeout(() => {
      this.waiting.delete(slot);
      p.state = 'queued';
      this.queue.push(p);
      this.next();
    }, this.waitMs);
    // A browser's timers have no unref.
    (p.timer as { unref?: () => void }).unref?.();
    return true;
  }

  /** Stops: what is waiting or being looked up is reported as lost now. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.waiting.clear();
    for (const p of [...this.pending]) {
      clearTimeout(p.timer);
      this.settle(p);
    }
  }

  /** Takes one lookup of `key` out of its budget; false when it has none left this minute. */
  private spend(key: string): boolean {
    const now = Date.now();
    const times = (this.spent.get(key) ?? []).filter((t) => now - t < MINUTE_MS);
    this.spent.delete(key);
    if (times.length >= RECOVERY_LIMITS.lookupsPerKeyPerMinute) {
      this.spent.set(key, times);
      return false;
    }
    times.push(now);
    this.spent.set(key, times);
    if (this.spent.size > RECOVERY_LIMITS.keys) this.spent.delete(this.spent.keys().next().value!);
    return true;
  }

  /** Starts queued lookups while fewer than the limit are running. */
  private next(): void {
    while (!this.closed && this.running < RECOVERY_LIMITS.running && this.queue.length > 0) {
      const p = this.queue.shift()!;
      this.running += 1;
      p.state = 'running';
      void this.lookUp(p).finally(() => {
        this.running -= 1;
        this.next();
      });
    }
  }

  private async lookUp(p: Pending): Promise<void> {
    const { gap, owner } = p;
    // What arrived meanwhile (late, not lost) is not looked up.
    if (owner.unseen(gap.from, gap.to).length === 0) return this.settle(p);
    this.lookups += 1;
    for (let page = 0; page < RECOVERY_LIMITS.pages; page += 1) {
      const unseen = owner.unseen(gap.from, gap.to);
      if (unseen.length === 0) break;
      const fromSeq = unseen[0]![0];
      const toSeq = unseen[unseen.length - 1]![1];
      this.queries += 1;
      let rows: StoredHistoryRow[];
      let opened: (OpenedRow | AlteredRow)[] = [];
      try {
        rows = await withDeadline(
          this.options.rows({
            stream: { signer: gap.signer, sender: gap.sender, fromSeq, toSeq },
            maxRows: RECOVERY_LIMITS.maxRows,
            maxBytes: RECOVERY_LIMITS.maxBytes,
          }),
          QUERY_DEADLINE_MS,
          () => new Error(`no answer in ${QUERY_DEADLINE_MS / 1000} s`),
        );
        if (p.state !== 'done') opened = await this.options.open(rows, rows);
      } catch (err) {
        if (!this.failing && !this.closed)
          this.options.warn(
            `could not read the room's history to recover missing lines (${(err as Error).message}): they are reported as lost`,
          );
        this.failing = true;
        break;
      }
      this.failing = false;
      if (p.state === 'done') return; // closed meanwhile: reported already
      const payloads = this.proven(gap, opened, fromSeq, toSeq);
      this.found += payloads.length;
      if (payloads.length > 0) owner.found(payloads);
      // A query that was not cut short holds all there is: no page more.
      let bytes = 0;
      for (const row of rows) bytes += row.payload.length;
      const cut =
        rows.length >= RECOVERY_LIMITS.maxRows ||
        bytes + MAX_ENVELOPE_BYTES > RECOVERY_LIMITS.maxBytes;
      if (!cut || payloads.length === 0) break;
    }
    this.settle(p);
  }

  /** The payloads of rows opened in `fromSeq..toSeq` that prove they are of the gap's stream. */
  private proven(
    gap: Gap,
    rows: (OpenedRow | AlteredRow)[],
    fromSeq: number,
    toSeq: number,
  ): ChatPayload[] {
    const payloads: ChatPayload[] = [];
    let altered: string | undefined;
    for (const opened of rows) {
      if (!opened.ok) {
        altered ??= opened.reason;
        continue;
      }
      // The rows asked for, and no other: the stream's own key, its numbers in the gap.
      if (opened.stream !== gap.stream) {
        altered ??= 'holds another stream than was asked for';
        continue;
      }
      for (const payload of opened.payloads)
        if (payload.seq !== undefined && payload.seq >= fromSeq && payload.seq <= toSeq)
          payloads.push(payload);
    }
    if (altered !== undefined)
      this.options.warn(`ignored a row of the room's history from ${gap.name}: ${altered}`);
    return payloads;
  }

  /** The gap is over: what is still missing is reported (once). */
  private settle(p: Pending): void {
    if (p.state === 'done') return;
    p.state = 'done';
    this.pending.delete(p);
    p.owner.settle(p.gap.from, p.gap.to);
  }
}

/**
 * Which of our own message ids (`<sender>-<seq>`, of the stream `signer`/`sender`) the room's
 * history holds: one bounded lookup, rows opened and proven as any other's.
 */
export function ownLinesInHistory(
  options: Omit<RecoveryOptions, 'warn' | 'waitMs'>,
  signer: Buffer,
  sender: string,
): (ids: string[]) => Promise<Set<string>> {
  return async (ids) => {
    const seqs = ids.map((id) => Number(id.slice(id.lastIndexOf('-') + 1)));
    const found = new Set<string>();
    if (seqs.length === 0 || !seqs.every(Number.isSafeInteger)) return found;
    const rows = await withDeadline(
      options.rows({
        stream: { signer, sender, fromSeq: Math.min(...seqs), toSeq: Math.max(...seqs) },
        maxRows: RECOVERY_LIMITS.maxRows,
        maxBytes: RECOVERY_LIMITS.maxBytes,
      }),
      QUERY_DEADLINE_MS,
      () => new Error(`no answer in ${QUERY_DEADLINE_MS / 1000} s`),
    );
    const stream = `${signer.toString('base64url')}/${sender}`;
    for (const opened of await options.open(rows, rows)) {
      if (!opened.ok || opened.stream !== stream) continue;
      for (const p of opened.payloads) if (p.id !== undefined) found.add(p.id);
    }
    return new Set(ids.filter((id) => found.has(id)));
  };
}
