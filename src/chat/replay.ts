/**
 * No replay shown as new. A listener keeps, per room and sender stream (a signing key and one
 * sending program), the highest sequence number it has shown, in `$SUNOYE_HOME/seen/`, so a
 * restarted listener rejects what it showed before; and it rejects a message signed before it
 * started (less a clock-skew allowance), which can only be an old message sent again.
 */
import { readRoomFile, roomFilePath, updateRoomFile } from '../home/room-files.js';
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
export type Verdict = { replay: 'shown before' } | { replay: 'signed before start'; ageMs: number };

function streamsOf(value: unknown): SeenFile['streams'] {
  const v = value as Partial<SeenFile> | undefined;
  if (v?.format !== FORMAT || typeof v.streams !== 'object' || v.streams === null) return {};
  return v.streams;
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

  constructor(
    private readonly path: string | undefined,
    /** When this listener started (ms since the epoch). */
    private readonly since: number,
  ) {
    if (path)
      for (const [stream, s] of Object.entries(streamsOf(readRoomFile(path))))
        if (Number.isSafeInteger(s?.seq)) this.before.set(stream, s.seq);
  }

  /** Whether a signed payload of `stream` is a replay; undefined when it may be shown. */
  check(stream: string | undefined, payload: ChatPayload): Verdict | undefined {
    if (stream !== undefined && payload.seq !== undefined) {
      const shown = this.before.get(stream);
      if (shown !== undefined && payload.seq <= shown) return { replay: 'shown before' };
    }
    // A last will is signed when its listener starts, and sent by the broker when it dies.
    if (payload.type === 'notice' && payload.event === 'lost') return undefined;
    const signedAt = payload.ts === undefined ? NaN : Date.parse(payload.ts);
    const ageMs = this.since - signedAt;
    if (!(ageMs <= CLOCK_SKEW_MS)) return { replay: 'signed before start', ageMs };
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
    this.shownNow.set(stream, { seq, at: Date.now() });
    this.dirty = true;
  }

  /** Writes what was shown, merged with what other listeners of the room wrote. */
  save(): void {
    if (!this.dirty || !this.path) return;
    this.dirty = false;
    updateRoomFile(this.path, (current) => {
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
