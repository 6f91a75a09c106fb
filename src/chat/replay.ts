/**
 * No replay shown as new. A listener keeps, per room and sender stream (a signing key and one
 * sending program), the highest sequence number it has shown, in `$SUNOYE_HOME/seen/`, so a
 * restarted listener rejects what it showed before; and it rejects a message signed before it
 * started (less a clock-skew allowance), which can only be an old message sent again.
 */
import { fileProblem, readRoomFile, roomFilePath, updateRoomFile } from '../home/room-files.js';
import type { ChatPayload } from '../protocol/index.js';

/** How far a sender's clock may be behind ours before its messages look old. */
export const CLOCK_SKEW_MS = 120_000;
/** Streams remembered per room, at most (the least recently seen are forgotten first). */
const MAX_STREAMS = 10_000;
const FORMAT = 1;

interface SeenFile {
  format: number;
  streams: Record<string, { seq: number; at: number }>;
}

/** Why a payload was rejected, if it was. */
export type Verdict =
  { replay: 'shown before' } | { replay: 'signed before start' | 'old will'; ageMs: number };

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

/** Where a room's shown sequences are kept. */
export function seenPath(home: string, store: string, room: string): string {
  return roomFilePath(home, 'seen', store, room);
}

/** A listener's defence against replays in one room. */
export class ReplayGuard {
  private readonly before = new Map<string, number>(); // shown by earlier listeners
  private readonly shownNow = new Map<string, { seq: number; at: number }>();
  private dirty = false;

  private writeFailed = false;

  constructor(
    private readonly path: string | undefined,
    /** When this listener started (ms since the epoch). */
    private readonly since: number,
    /** Told once when what was shown cannot be written down. */
    private readonly warn: (line: string) => void = () => undefined,
  ) {
    if (path)
      for (const [stream, s] of Object.entries(streamsOf(readRoomFile(path))))
        this.before.set(stream, s.seq);
  }

  /** Whether a signed payload of `stream` is a replay; undefined when it may be shown. */
  check(
    stream: string | undefined,
    payload: ChatPayload,
    /** The stream was heard from by this listener. */
    heard = false,
  ): Verdict | undefined {
    // A last will is signed (and numbered first) when its listener starts, and sent by the
    // broker when it dies: it counts as live for a listener that heard from that listener, here
    // or before a restart; for others it is as old as any message signed before they started.
    const will = payload.type === 'notice' && payload.event === 'lost';
    if (will) {
      if (heard || (stream !== undefined && this.before.has(stream))) return undefined;
    } else if (stream !== undefined && payload.seq !== undefined) {
      const shown = this.before.get(stream);
      if (shown !== undefined && payload.seq <= shown) return { replay: 'shown before' };
    }
    const signedAt = payload.ts === undefined ? NaN : Date.parse(payload.ts);
    const ageMs = this.since - signedAt;
    if (!(ageMs <= CLOCK_SKEW_MS))
      // A will of a listener that was there before us may be news: shown, marked as old.
      return will ? { replay: 'old will', ageMs } : { replay: 'signed before start', ageMs };
    return undefined;
  }

  /** Whether this listener had started by `time` (ms since the epoch). */
  startedBefore(time: number): boolean {
    return this.since <= time;
  }

  /** Notes that `seq` of `stream` was shown. */
  shown(stream: string, seq: number): void {
    const s = this.shownNow.get(stream);
    if (s && s.seq >= seq) return;
    // Most recently shown last: past the cap, the stream shown least recently is forgotten (the
    // file keeps no more either), so a member making up streams cannot fill memory.
    this.shownNow.delete(stream);
    this.shownNow.set(stream, { seq, at: Date.now() });
    if (this.shownNow.size > MAX_STREAMS) this.shownNow.delete(this.shownNow.keys().next().value!);
    this.dirty = true;
  }

  /** Writes what was shown, merged with what other listeners of the room wrote. */
  save(): void {
    if (!this.dirty || !this.path) return;
    this.dirty = false;
    try {
      this.write(this.path);
    } catch (err) {
      this.dirty = true; // tried again at the next save
      if (!this.writeFailed)
        this.warn(
          `cannot write ${this.path} (${fileProblem(err)}): a listener started later may show again what this one showed`,
        );
      this.writeFailed = true;
    }
  }

  private write(path: string): void {
    updateRoomFile(path, (current) => {
      const streams = streamsOf(current);
      for (const [stream, s] of this.shownNow)
        if (!(streams[stream]?.seq !== undefined && streams[stream].seq >= s.seq))
          streams[stream] = s;
      const entries = Object.entries(streams);
      if (entries.length > MAX_STREAMS) {
        entries.sort((a, b) => b[1].at - a[1].at);
        return { format: FORMAT, streams: Object.fromEntries(entries.slice(0, MAX_STREAMS)) };
      }
      return { format: FORMAT, streams };
    });
  }
}
