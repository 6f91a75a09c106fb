/**
 * No replay shown as new. A listener keeps, per room and sender stream (a signing key and one
 * sending program), the highest sequence number it has shown, in `$SUNOYE_HOME/seen/`, so a
 * restarted listener rejects what it showed before; and it rejects a message signed before it
 * started (less a clock-skew allowance), which can only be an old message sent again. Both are
 * bounded per key.
 */
import type { ChatPayload } from '../protocol/payload.js';
import type { RoomDocument } from '../home/room-files.js';

/** How far a sender's clock may be behind ours before its messages look old. */
export const CLOCK_SKEW_MS = 120_000;
/**
 * What is kept, per room: the streams of at most 1024 keys (those that showed a line most
 * recently), and at most 16 streams per key (the most recently shown), so that a key making up
 * streams forgets only its own; only keys that showed a line are written (see streams.ts).
 */
const MAX_KEYS = 1024;
const MAX_STREAMS_PER_KEY = 16;
const FORMAT = 1;

interface SeenFile {
  format: number;
  streams: Record<string, { seq: number; at: number }>;
}

/** Why a payload was rejected, if it was. */
export type Verdict = { replay: 'shown before' } | { replay: 'signed before start'; ageMs: number };

/** The key part of a stream `<key>/<sender>`. */
const keyOf = (stream: string): string => stream.slice(0, stream.indexOf('/'));

/** The entries to keep of `streams`: per key and in all, the most recently shown. */
function bounded(streams: SeenFile['streams']): SeenFile['streams'] {
  const entries = Object.entries(streams).sort((a, b) => b[1].at - a[1].at);
  const perKey = new Map<string, number>();
  const kept = Object.create(null) as SeenFile['streams'];
  for (const [stream, s] of entries) {
    const key = keyOf(stream);
    const n = perKey.get(key) ?? 0;
    if (n >= MAX_STREAMS_PER_KEY || (n === 0 && perKey.size >= MAX_KEYS)) continue;
    perKey.set(key, n + 1);
    kept[stream] = s;
  }
  return kept;
}

/** The well-formed entries of a seen file (a damaged entry is dropped, never trusted or thrown on). */
function streamsOf(value: unknown): SeenFile['streams'] {
  const v = value as Partial<SeenFile> | undefined;
  const streams = Object.create(null) as SeenFile['streams'];
  if (v?.format !== FORMAT || typeof v.streams !== 'object' || v.streams === null) return streams;
  for (const [stream, s] of Object.entries(v.streams as Record<string, unknown>)) {
    const e = s as { seq?: unknown; at?: unknown } | null;
    if (Number.isSafeInteger(e?.seq) && typeof e?.at === 'number' && Number.isFinite(e.at))
      streams[stream] = { seq: e.seq as number, at: e.at };
  }
  return streams;
}

/** A listener's defence against replays in one room. */
export class ReplayGuard {
  private readonly before = new Map<string, number>(); // shown by earlier listeners
  /** Per key (least recently shown first), its streams (least recently shown first). */
  private readonly shownNow = new Map<string, Map<string, { seq: number; at: number }>>();
  private dirty = false;

  private writeFailed = false;

  constructor(
    private readonly document: RoomDocument | undefined,
    /** When this listener started (ms since the epoch). */
    private readonly since: number,
    /** Told once when what was shown cannot be written down. */
    private readonly warn: (line: string) => void = () => undefined,
  ) {
    if (document)
      for (const [stream, s] of Object.entries(bounded(streamsOf(document.read()))))
        this.before.set(stream, s.seq);
  }

  /**
   * Whether a signed payload of `stream` is a replay; undefined when it may be shown. Last wills
   * are not judged here: one is live only for a connection the inbox heard join.
   */
  check(stream: string | undefined, payload: ChatPayload): Verdict | undefined {
    if (stream !== undefined && payload.seq !== undefined) {
      const shown = this.before.get(stream);
      if (shown !== undefined && payload.seq <= shown) return { replay: 'shown before' };
    }
    const signedAt = payload.ts === undefined ? NaN : this.parsed(payload.ts);
    const ageMs = this.since - signedAt;
    if (!(ageMs <= CLOCK_SKEW_MS)) return { replay: 'signed before start', ageMs };
    return undefined;
  }

  /** The last timestamp parsed, and its time: the lines of a batch are stamped alike. */
  private lastTs: string | undefined;
  private lastTime = NaN;

  private parsed(ts: string): number {
    if (ts !== this.lastTs) {
      this.lastTime = Date.parse(ts);
      this.lastTs = ts;
    }
    return this.lastTime;
  }

  /** The stream shown last and its entry: the lines of a batch are one stream's, one after another. */
  private lastShown: { stream: string; entry: { seq: number; at: number } } | undefined;

  /** Whether this listener had started by `time` (ms since the epoch). */
  startedBefore(time: number): boolean {
    return this.since <= time;
  }

  /** Notes that `seq` of `stream` was shown. */
  shown(stream: string, seq: number): void {
    // The stream shown last is already the most recent of its key, and its key of all.
    const last = this.lastShown;
    if (last !== undefined && last.stream === stream) {
      if (last.entry.seq < seq) {
        last.entry.seq = seq;
        last.entry.at = Date.now();
        this.dirty = true;
      }
      return;
    }
    const key = keyOf(stream);
    const streams = this.shownNow.get(key) ?? new Map<string, { seq: number; at: number }>();
    const s = streams.get(stream);
    if (s && s.seq >= seq) return;
    // Most recently shown last: past the caps, the key's own stream shown least recently is
    // forgotten, and past the keys, the key that showed least recently (the file keeps no more).
    this.shownNow.delete(key);
    this.shownNow.set(key, streams);
    streams.delete(stream);
    const entry = { seq, at: Date.now() };
    streams.set(stream, entry);
    this.lastShown = { stream, entry };
    if (streams.size > MAX_STREAMS_PER_KEY) streams.delete(streams.keys().next().value!);
    if (this.shownNow.size > MAX_KEYS) this.shownNow.delete(this.shownNow.keys().next().value!);
    this.dirty = true;
  }

  /** Writes what was shown, merged with what other listeners of the room wrote. */
  save(): void {
    if (!this.dirty || !this.document) return;
    this.dirty = false;
    try {
      this.write(this.document);
    } catch (err) {
      this.dirty = true; // tried again at the next save
      if (!this.writeFailed)
        this.warn(
          `cannot write ${this.document.name} (${this.document.problem(err)}): a listener started later may show again what this one showed`,
        );
      this.writeFailed = true;
    }
  }

  private write(document: RoomDocument): void {
    document.update((current) => {
      const streams = streamsOf(current);
      for (const kept of this.shownNow.values())
        for (const [stream, s] of kept)
          if (!(streams[stream]?.seq !== undefined && streams[stream].seq >= s.seq))
            streams[stream] = s;
      return { format: FORMAT, streams: bounded(streams) };
    });
  }
}
