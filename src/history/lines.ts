/**
 * A room's history as lines to show, whoever fetched and opened its rows: a listener reading the
 * registry (reader.ts), or the room page through `room serve` (its rows opened with WebCrypto).
 * Each row is believed only as far as it proves (see rows.ts), payloads read twice are dropped,
 * and the rest put in order: each sender stream by its sequence numbers, streams merged by the
 * time their payloads were signed, then by the registry's time of writing them. No Node here:
 * the page bundles it.
 */
import type { HistoryQuery, StoredHistoryRow } from '../db/index.js';
import type { ChatPayload } from '../protocol/payload.js';
import type { AlteredRow, OpenedRow } from './rows.js';

/** The most a listener reads of a room's history at once. */
export const READ_LIMITS = { payloads: 100_000, bytes: 64 * 1024 * 1024 };

/**
 * How far the registry's clock (which stamps when a row was written) may be behind the signing
 * clocks: rows written this long before a `--since` time are read too, and the lines in them
 * judged by the time they were signed.
 */
const REGISTRY_SKEW_MS = 5 * 60_000;
/** Notices (joins, leaves, ends of streams) read on top of `--last N` messages at first. */
const NOTICE_ALLOWANCE = 64;

/** One payload of the history, with what its row proved. */
export interface HistoryLine {
  payload: ChatPayload;
  /** The key that signed it. */
  signer: Buffer;
  /** Its sender stream, as the inbox names it (`<key, base64url>/<sender id>`). */
  stream: string;
  /** When the registry wrote its row. */
  sentAt: Date;
  /** Left out by `--last N` (a notice beyond the N newest): read, never shown. */
  hidden?: boolean;
}

/** What to read. */
export interface HistoryRequest {
  /** Lines signed at or after this time (ms since the epoch). */
  sinceMs?: number | undefined;
  /** The last this many chat messages (with the notices among them). */
  last?: number | undefined;
  /** Only rows the registry wrote at or after this time (the second read at the seam). */
  writtenSinceMs?: number | undefined;
  /** Rows read before (their `rows` of an earlier read): passed over. */
  skip?: ReadonlySet<string> | undefined;
  /**
   * What arrived live meanwhile: a row whose payload (as the broker carried it) `has` names and
   * that was signed at or after `sinceMs` (said as the listener started) is passed over, so that
   * its live copy shows, as live. One signed before stays history (its live copy is dropped).
   */
  live?: { sinceMs: number; has(payload: Buffer): boolean } | undefined;
}

/** What a read found. */
export interface HistoryRead {
  /** The lines, in the order to show them. */
  lines: HistoryLine[];
  /**
   * Rows that did not open or did not prove what their columns claim (never shown), each as its
   * columns name it (so that two reads count one row once).
   */
  altered: string[];
  /** When the registry wrote the newest and the oldest row read (ms since the epoch). */
  newestMs: number | undefined;
  oldestMs: number | undefined;
  /** Every row read, by its columns (for `skip` in a later read). */
  rows: Set<string>;
  /** A bound cut the read short: older lines were left out. */
  cut: boolean;
  /** Notices `--last N` left out (`hidden`): more than N among or after its messages. */
  hidden: number;
}

/** The warning for rows that did not open. */
export function alteredWarning(n: number): string {
  return `ignored ${n} history row${n === 1 ? '' : 's'} that did not open: altered in the registry`;
}

/**
 * Opens rows of the history, in order (`toOpen`): `among` is every row of the read, for what a
 * row's opening may take from the others (the seals of the rows around it).
 */
export type RowOpener = (
  toOpen: StoredHistoryRow[],
  among: readonly StoredHistoryRow[],
) => Promise<(OpenedRow | AlteredRow)[]>;

/**
 * The lines of a room's history that `request` asks for: rows fetched with `fetchRows` (newest
 * first, bounded by `limits`), opened with `open`.
 */
export async function readLines(
  fetchRows: (query: HistoryQuery) => Promise<StoredHistoryRow[]>,
  open: RowOpener,
  request: HistoryRequest,
  limits = READ_LIMITS,
): Promise<HistoryRead> {
  const query: HistoryQuery = { maxRows: limits.payloads, maxBytes: limits.bytes };
  const since = Math.max(
    request.sinceMs === undefined ? -Infinity : request.sinceMs - REGISTRY_SKEW_MS,
    request.writtenSinceMs ?? -Infinity,
  );
  if (since > -Infinity) query.sinceMs = since;
  const { last } = request;
  let want = last === undefined ? undefined : Math.min(last + NOTICE_ALLOWANCE, limits.payloads);
  for (;;) {
    // Always the newest rows first: a read cut by a bound leaves out the oldest.
    query.last = want ?? limits.payloads;
    const rows = await fetchRows(query);
    const read = await openRows(open, rows, request, limits);
    const payloads = rows.reduce((n, row) => n + Math.max(0, row.lastSeq - row.firstSeq + 1), 0);
    // Too few messages among as many payloads as asked for (notices took room): read more.
    if (
      last === undefined ||
      want === undefined ||
      read.messages >= last ||
      payloads < want ||
      read.result.cut ||
      want >= limits.payloads
    )
      return read.result;
    want = Math.min(want * 2, limits.payloads);
  }
}

/** Opens, dedupes, orders and cuts the rows read. */
async function openRows(
  open: RowOpener,
  rows: StoredHistoryRow[],
  request: HistoryRequest,
  limits: typeof READ_LIMITS,
): Promise<{ result: HistoryRead; messages: number }> {
  const altered: string[] = [];
  let newestMs: number | undefined;
  let oldestMs: number | undefined;
  let bytes = 0;
  const read = new Set<string>();
  const streams = new Map<string, Map<number, HistoryLine>>();
  /** Per stream, the first sequence number that came live: from it on, live shows the stream. */
  const liveFrom = new Map<string, number>();
  // Decided once, before opening (what arrives live meanwhile does not change it).
  const passed = rows.map((row) => request.skip?.has(rowId(row)) === true);
  const live = rows.map((row, i) => !passed[i] && request.live?.has(row.payload) === true);
  const openedRows = await open(
    rows.filter((_, i) => !passed[i]),
    rows,
  );
  let next = 0;
  for (const [i, row] of rows.entries()) {
    bytes += row.payload.length;
    const sentMs = row.sentAt.getTime();
    if (Number.isFinite(sentMs)) {
      newestMs = Math.max(newestMs ?? -Infinity, sentMs);
      oldestMs = Math.min(oldestMs ?? Infinity, sentMs);
    }
    const id = rowId(row);
    read.add(id);
    if (passed[i]) continue;
    const opened = openedRows[next++]!;
    if (!opened.ok) {
      altered.push(id);
      continue;
    }
    if (live[i] && signedSince(opened.payloads, opened.sentAt, request.live!.sinceMs)) {
      // What the stream said after it is on its way live too (one publisher's messages keep
      // their order), though its copy may not have come yet: it is left to live as well.
      let first = liveFrom.get(opened.stream) ?? Infinity;
      for (const payload of opened.payloads) first = Math.min(first, payload.seq!);
      liveFrom.set(opened.stream, first);
      continue;
    }
    let lines = streams.get(opened.stream);
    if (!lines) {
      lines = new Map<number, HistoryLine>();
      streams.set(opened.stream, lines);
    }
    for (const payload of opened.payloads) {
      // A payload read twice (rows that overlap) is kept once.
      if (lines.has(payload.seq!)) continue;
      lines.set(payload.seq!, {
        payload,
        signer: opened.signer,
        stream: opened.stream,
        sentAt: opened.sentAt,
      });
    }
  }
  // The read was cut by a bound when it returned as much as the bound allows.
  let cut = rows.length >= limits.payloads || bytes >= limits.bytes * 0.99;
  const ordered: HistoryLine[][] = [];
  for (const [stream, lines] of streams) {
    const upTo = liveFrom.get(stream) ?? Infinity;
    const sorted = [...lines.values()]
      .filter((line) => line.payload.seq! < upTo)
      .sort((a, b) => a.payload.seq! - b.payload.seq!);
    // --since: what each stream signed before that time is left out (a stream's first part only,
    // so no gap is made inside one).
    let start = 0;
    if (request.sinceMs !== undefined)
      while (start < sorted.length && signedAt(sorted[start]!) < request.sinceMs) start += 1;
    if (start < sorted.length) ordered.push(start === 0 ? sorted : sorted.slice(start));
  }
  let lines = merge(ordered);
  // --last N: from the Nth chat message from the end on, and at most the payload bound.
  let from = Math.max(0, lines.length - limits.payloads);
  if (from > 0) cut = true;
  let messages = 0;
  for (let i = lines.length - 1; i >= from; i--) {
    if (lines[i]!.payload.type !== 'message') continue;
    messages += 1;
    if (request.last !== undefined && messages === request.last) {
      from = i;
      break;
    }
  }
  if (from > 0) lines = lines.slice(from);
  const hidden = request.last === undefined ? 0 : hideNotices(lines, request.last);
  return { result: { lines, altered, newestMs, oldestMs, rows: read, cut, hidden }, messages };
}

/**
 * `--last N` shows N messages and, of the notices among and after them, the N newest: a room
 * where many came and went since it last spoke shows who did last, not a screenful of comings
 * and goings. Marks the older ones hidden; returns how many.
 */
function hideNotices(lines: HistoryLine[], last: number): number {
  let notices = 0;
  let hidden = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const { payload } = lines[i]!;
    // An end of a stream is never shown: it takes no place.
    if (payload.type !== 'notice' || payload.event === 'end') continue;
    notices += 1;
    if (notices <= last) continue;
    lines[i] = { ...lines[i]!, hidden: true };
    hidden += 1;
  }
  return hidden;
}

/** A row's name: its stream and first sequence number (the registry's key for it). */
function rowId(row: StoredHistoryRow): string {
  return `${row.signer.toString('base64url')}/${row.sender}/${row.firstSeq}`;
}

/** When a line was signed (ms; its row's writing time if it carries no signing time). */
function signedAt(line: HistoryLine): number {
  const ts = line.payload.ts === undefined ? NaN : Date.parse(line.payload.ts);
  return Number.isFinite(ts) ? ts : line.sentAt.getTime();
}

/** Whether the payloads of a row were signed at or after `sinceMs` (the first of them). */
function signedSince(payloads: ChatPayload[], sentAt: Date, sinceMs: number): boolean {
  const first = payloads[0];
  const ts = first?.ts === undefined ? NaN : Date.parse(first.ts);
  return (Number.isFinite(ts) ? ts : sentAt.getTime()) >= sinceMs;
}

/** Whether line `a` goes before line `b` of another stream. */
function before(a: HistoryLine, b: HistoryLine): boolean {
  const ta = signedAt(a);
  const tb = signedAt(b);
  if (ta !== tb) return ta < tb;
  const wa = a.sentAt.getTime();
  const wb = b.sentAt.getTime();
  if (wa !== wb) return wa < wb;
  return a.stream < b.stream;
}

/**
 * Merges streams, each in its own order, into one: at each step the head signed first. A heap of
 * the streams' heads, so many streams cost little.
 */
function merge(streams: HistoryLine[][]): HistoryLine[] {
  if (streams.length === 1) return streams[0]!;
  const heads = streams.map(() => 0);
  const heap: number[] = [];
  const less = (i: number, j: number): boolean =>
    before(streams[i]![heads[i]!]!, streams[j]![heads[j]!]!);
  const down = (at: number): void => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let min = at;
      if (l < heap.length && less(heap[l]!, heap[min]!)) min = l;
      if (r < heap.length && less(heap[r]!, heap[min]!)) min = r;
      if (min === at) return;
      [heap[at], heap[min]] = [heap[min]!, heap[at]!];
      at = min;
    }
  };
  for (let i = 0; i < streams.length; i++) heap.push(i);
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  const out: HistoryLine[] = [];
  while (heap.length > 0) {
    const s = heap[0]!;
    out.push(streams[s]![heads[s]!]!);
    heads[s]! += 1;
    if (heads[s]! >= streams[s]!.length) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    if (heap.length > 0) down(0);
  }
  return out;
}
