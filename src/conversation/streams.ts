/**
 * What a listener keeps of the room's sender streams, bounded per signing key, so that no
 * member's traffic can make it forget another member's streams, and no member can fill its memory.
 *
 * Keys are free to make (a member can mint any number of Ed25519 keys), so the keys themselves are
 * bounded too, in two pools:
 * - on probation: a key none of whose lines has been shown yet. Few keys (256), each with little
 *   state (2 streams, 8 runs of sequence numbers each); past 256 the oldest is forgotten whole. A
 *   key on probation has shown nothing, so forgetting it cannot let anything be shown twice.
 * - established: a key that has shown a line, or whose name this user pinned before. Up to 1024,
 *   each with 32 streams of 64 runs; past 1024 the key that showed a line least recently is
 *   forgotten (and when, so that what it signed before cannot come back as new). Pushing out an
 *   established member takes lines shown from 1024 other keys since that member's last one.
 * A key that floods (made-up streams, numbers in any order) reaches its own limits and evicts only
 * its own streams and runs. At most about 45 MB in all, most of it only by visible flooding.
 */
import { RecentIds, SeqRanges } from './tracker.js';

/** What is known of one sender stream. */
export interface StreamState {
  name: string;
  /** The highest `seq` noted, if any. */
  highest: number | undefined;
  /** When it last delivered anything (ms since the epoch; 0: not yet). */
  at: number;
  messages: boolean;
  /** It left, was lost, or ended. */
  ended: boolean;
  /** The sequence numbers seen. */
  readonly seen: SeqRanges;
  /** The connection id of its join notice, as heard by this listener. */
  conn?: string | undefined;
}

interface KeyState {
  /** Least recently active first. */
  readonly streams: Map<string, StreamState>;
  /** Ids of payloads without a `seq`. */
  readonly ids: RecentIds;
  /** When a stream of this key was last forgotten (its last activity): 0 if never. */
  forgotAt: number;
}

interface Limits {
  keys: number;
  streams: number;
  runs: number;
  ids: number;
}

/** The bounds of each pool (exported for tests). */
export const LIMITS: { probation: Limits; established: Limits; forgottenKeys: number } = {
  probation: { keys: 256, streams: 2, runs: 8, ids: 16 },
  established: { keys: 1024, streams: 32, runs: 64, ids: 1024 },
  /** Established keys forgotten whose time of forgetting is still kept. */
  forgottenKeys: 4096,
};
/** Unsigned payloads (plain rooms) all share one key, `plain`: it gets the room's worth. */
const PLAIN: Limits = { keys: 1, streams: 1024, runs: 64, ids: 20_000 };

/** The sender streams of one room, per signing key. */
export class StreamBook {
  private readonly probation = new Map<string, KeyState>(); // oldest first
  private readonly established = new Map<string, KeyState>(); // least recently shown first
  private readonly forgotten = new Map<string, number>(); // key -> when forgotten, oldest first

  constructor(
    /** Keys established from the start (their names were pinned before). */
    private readonly trusted: (key: string) => boolean = () => false,
  ) {}

  /**
   * The stream opened last, still the most recently active of its key (the lines of a batch are
   * one stream's): cleared whenever a stream or a key may be forgotten.
   */
  private lastOpened: { key: string; stream: string; state: StreamState } | undefined;
  /** The key shown last: the most recently shown of the established keys. */
  private lastShownKey: string | undefined;

  /** The stream `stream` of `key`, if it is kept. */
  get(key: string, stream: string): StreamState | undefined {
    const last = this.lastOpened;
    if (last !== undefined && last.stream === stream && last.key === key) return last.state;
    return (this.established.get(key) ?? this.probation.get(key))?.streams.get(stream);
  }

  /**
   * When a stream of `key` was last forgotten: what it signed before then may be a replay (0 if
   * never).
   */
  forgotAt(key: string): number {
    const kept = this.established.get(key) ?? this.probation.get(key);
    return kept ? kept.forgotAt : (this.forgotten.get(key) ?? 0);
  }

  /** Starts (or continues) `stream` of `key`, forgetting that key's least active stream past its limit. */
  open(key: string, stream: string): StreamState {
    const last = this.lastOpened;
    if (last !== undefined && last.stream === stream && last.key === key) return last.state;
    const kept = this.keyState(key);
    let s = kept.streams.get(stream);
    if (s) {
      kept.streams.delete(stream); // most recently active last
    } else {
      s = {
        name: '',
        highest: undefined,
        at: 0,
        messages: false,
        ended: false,
        seen: new SeqRanges(),
      };
      if (kept.streams.size >= this.limits(key).streams) {
        this.lastOpened = undefined;
        const [oldest, old] = kept.streams.entries().next().value!;
        kept.streams.delete(oldest);
        kept.forgotAt = Math.max(kept.forgotAt, old.at);
      }
    }
    kept.streams.set(stream, s);
    this.lastOpened = { key, stream, state: s };
    return s;
  }

  /** Records `seq` of a kept stream; false when it was seen before. */
  addSeq(key: string, s: StreamState, seq: number): boolean {
    return s.seen.add(seq, this.limits(key).runs);
  }

  /** Records the id of a payload without `seq`; false when it was seen before. */
  addId(key: string, id: string): boolean {
    return this.keyState(key).ids.add(id);
  }

  /** A line of `key` was shown: the key is established, most recently shown last. */
  shown(key: string): void {
    if (key === this.lastShownKey) return;
    this.lastShownKey = key;
    let kept = this.established.get(key);
    if (kept) this.established.delete(key);
    else {
      kept = this.probation.get(key) ?? this.fresh(key, LIMITS.established);
      this.probation.delete(key);
      kept.ids.capacity = LIMITS.established.ids;
    }
    this.established.set(key, kept);
    if (this.established.size > LIMITS.established.keys) {
      const [oldest, old] = this.established.entries().next().value!;
      this.established.delete(oldest);
      this.remember(oldest, old);
      this.lastOpened = undefined;
    }
  }

  /** Whether `key` has shown a line (or was pinned before). */
  isEstablished(key: string): boolean {
    return this.established.has(key);
  }

  /** Every kept stream. */
  *all(): Generator<[string, StreamState]> {
    for (const pool of [this.established, this.probation])
      for (const kept of pool.values()) yield* kept.streams;
  }

  private limits(key: string): Limits {
    if (key === 'plain') return PLAIN;
    return this.established.has(key) ? LIMITS.established : LIMITS.probation;
  }

  private keyState(key: string): KeyState {
    const kept = this.established.get(key) ?? this.probation.get(key);
    if (kept) return kept;
    if (key === 'plain' || this.trusted(key)) {
      const made = this.fresh(key, key === 'plain' ? PLAIN : LIMITS.established);
      this.established.set(key, made);
      this.shown(key); // past the limit, the least recently shown is forgotten
      return made;
    }
    const made = this.fresh(key, LIMITS.probation);
    this.probation.set(key, made);
    if (this.probation.size > LIMITS.probation.keys) {
      // Nothing of it was shown: forgotten whole, nothing can be shown twice because of it.
      this.probation.delete(this.probation.keys().next().value!);
      this.lastOpened = undefined;
    }
    return made;
  }

  private fresh(key: string, limits: Limits): KeyState {
    const forgotAt = this.forgotten.get(key) ?? 0;
    this.forgotten.delete(key);
    return { streams: new Map(), ids: new RecentIds(limits.ids), forgotAt };
  }

  /** Keeps when an established key was forgotten (its last activity), oldest dropped first. */
  private remember(key: string, kept: KeyState): void {
    let last = kept.forgotAt;
    for (const s of kept.streams.values()) last = Math.max(last, s.at);
    this.forgotten.delete(key);
    this.forgotten.set(key, last);
    if (this.forgotten.size > LIMITS.forgottenKeys)
      this.forgotten.delete(this.forgotten.keys().next().value!);
  }
}
