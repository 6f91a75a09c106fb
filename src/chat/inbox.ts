/**
 * The way into a chat: raw MQTT payloads are decoded and their signatures checked, retained and
 * replayed messages rejected, duplicates dropped, gaps in a sender's numbering reported (also at
 * the end of its stream), what arrives before our own join notice comes round marked as sent
 * before we joined (a backlog the broker kept for a resumed session: it is shown in the order it
 * arrives, before our join line), and chat messages counted for `--count`.
 *
 * A sender stream is one sending program: its signing key (in encrypted rooms) and the random
 * prefix of its message ids. Dedupe and numbering are per stream, so no member can censor or
 * speak for another by reusing their prefix.
 */
import type { ChatNotice, ChatPayload, RoomCodec } from '../protocol/index.js';
import type { ReplayGuard } from './replay.js';
import type { KnownSenders, SenderView } from './senders.js';
import { noticeText } from './sender.js';
import { RecentIds, SeenSequences, senderOf, SequenceTracker } from './tracker.js';

/** What is shown with a payload: who sent it, and whether it came out of order. */
export interface ShownWith {
  sender: SenderView;
  /** Sent before a payload of the same stream that was already shown. */
  late: boolean;
  /**
   * A signed notice whose text is not sunoye's own sentence for its event: the sender's words,
   * shown as theirs (so nobody can post "User alice timed out." as a room notice).
   */
  ownWords?: boolean;
  /**
   * Arrived before our own join notice came round: sent before we joined (what the broker kept
   * for a resumed session while this terminal's listener was away).
   */
  beforeJoin?: boolean;
}

/** What the inbox hands on. */
export interface InboxHandlers {
  /** A payload to show, with the time it arrived. */
  show(payload: ChatPayload, at: Date, how: ShownWith): void;
  /**
   * A warning for stderr (one line, no newline); `loss` for a report of lines that never arrived,
   * which must never be rate-limited away behind other warnings.
   */
  warn(line: string, kind?: 'loss'): void;
  /** A `closed` notice was shown: the room may have closed. */
  closedNotice(): void;
  /** `count` chat messages have been shown. */
  countReached(): void;
}

/** Where the inbox listens and what it waits for. */
export interface InboxOptions {
  topic: string;
  codec: RoomCodec;
  /** The id of our own join notice: what arrives before it was sent before we joined. */
  joinId: string | undefined;
  /** Chat messages to show before `countReached`; unlimited when undefined. */
  count: number | undefined;
  /** The room's senders as this user knows them (pins); unsigned when undefined. */
  senders?: KnownSenders | undefined;
  /** The defence against replays (signed rooms). */
  replay?: ReplayGuard | undefined;
}

/** What the inbox knows of one sender stream, for reports after a reconnect. */
interface StreamState {
  name: string;
  seq: number;
  at: number;
  messages: boolean;
  ended: boolean;
}

const UNSIGNED: SenderView = { trust: 'unsigned' };
/** Sender streams remembered at most: in all, and per signing key (one per sending program). */
const MAX_STREAMS = 10_000;
const MAX_STREAMS_PER_KEY = 64;

/** Receives one topic's payloads and hands on what should be shown, once and in order. */
export class Inbox {
  /** Chat messages shown so far. */
  messages = 0;
  private joined: boolean;
  private readonly seen = new RecentIds(); // payloads with an id and no seq
  // The inbox forgets streams itself (below), before these would.
  private readonly seenSeq = new SeenSequences(2 * MAX_STREAMS); // sunoye's payloads: id and seq
  private readonly sequences = new SequenceTracker(2 * MAX_STREAMS);
  private readonly streams = new Map<string, StreamState>();
  /** Each signing key's streams, oldest first. */
  private readonly keyStreams = new Map<string, string[]>();
  /** When a stream of a key (or, for `''`, of anyone) was last forgotten. */
  private readonly forgotAt = new Map<string, number>();
  private retainedWarned = false;

  constructor(
    private readonly options: InboxOptions,
    private readonly handlers: InboxHandlers,
  ) {
    this.joined = options.joinId === undefined;
  }

  /** Whether our join notice came round (or waiting for it was given up). */
  get hasJoined(): boolean {
    return this.joined;
  }

  /** Takes one MQTT payload (one message or a sealed batch); `retained`: the broker kept it. */
  receive(raw: Buffer, retained = false): void {
    if (retained) {
      // A retained message is an old one the broker kept (or a replay someone left there).
      if (!this.retainedWarned)
        this.handlers.warn(
          `ignored a retained message on ${this.options.topic}: retained messages are old, never shown as live`,
        );
      this.retainedWarned = true;
      return;
    }
    const decoded = this.options.codec.decodeAll(raw);
    if (!decoded.ok) {
      this.handlers.warn(`ignored a payload on ${this.options.topic}: ${decoded.reason}`);
      return;
    }
    const at = new Date();
    // One signer for the whole message: its key is written out once, not once per payload.
    const { signer } = decoded;
    const key = signer ? signer.toString('base64url') : 'plain';
    for (const payload of decoded.payloads) this.handle(payload, at, signer, key);
  }

  /** Stops waiting for our join notice (it may never come round): nothing more is a backlog. */
  release(): void {
    this.joined = true;
  }

  /** The streams that carried messages and have not ended, as they stand now. */
  openStreams(): { stream: string; name: string; seq: number; at: number }[] {
    return [...this.streams]
      .filter(([, s]) => s.messages && !s.ended)
      .map(([stream, s]) => ({ stream, name: s.name, seq: s.seq, at: s.at }));
  }

  /** When `stream` last delivered anything (ms since the epoch). */
  lastHeard(stream: string): number | undefined {
    return this.streams.get(stream)?.at;
  }

  private handle(
    payload: ChatPayload,
    at: Date,
    signer: Buffer | undefined,
    /** The signer's key as text (`plain` when unsigned). */
    key: string,
  ): void {
    const sender = this.options.senders?.classify(payload.from, signer) ?? UNSIGNED;
    const stream = payload.id === undefined ? undefined : `${key}/${senderOf(payload.id)}`;
    const name = sender.trust === 'changed' ? `key ${sender.key}` : payload.from;
    // A last will signed before we started, of a listener we never heard from: shown as late.
    let oldWill = false;
    if (signer && this.options.replay) {
      const heard = stream !== undefined && this.streams.has(stream);
      const verdict = this.options.replay.check(stream, payload, heard);
      if (verdict?.replay === 'old will') oldWill = true;
      else if (verdict) {
        this.handlers.warn(
          verdict.replay === 'shown before'
            ? `ignored a replayed message from ${name}: it was shown before`
            : `ignored a message from ${name} signed ${Math.round(verdict.ageMs / 1000)} s before this listener started: an old message sent again (or a clock that far behind)`,
        );
        return;
      }
    }
    if (signer && stream !== undefined && payload.seq !== undefined && !this.streams.has(stream)) {
      // A stream forgotten to make room (a member flooding made-up streams) must not come back
      // as new: what it signed before it was forgotten is taken for a replay.
      const forgot = Math.max(this.forgotAt.get(key) ?? 0, this.forgotAt.get('') ?? 0);
      const signedAt = payload.ts === undefined ? NaN : Date.parse(payload.ts);
      if (forgot > 0 && !(signedAt >= forgot)) {
        this.handlers.warn(`ignored an old message from ${name}: sent again, or too late to tell`);
        return;
      }
      this.track(stream, key);
    }
    let late = false;
    if (stream !== undefined) {
      const isNew =
        payload.seq !== undefined ? this.seenSeq.add(stream, payload.seq) : this.seen.add(stream);
      if (!isNew) return;
    }
    if (stream !== undefined && payload.seq !== undefined) {
      const highest = this.sequences.highest(stream);
      const lost = payload.type === 'notice' && payload.event === 'lost';
      late = (highest !== undefined && payload.seq < highest && !lost) || oldWill;
      if (payload.type === 'notice' && payload.event === 'end') {
        this.ended(stream, payload, name, highest);
        return;
      }
      const gap = this.sequences.note(stream, payload.seq);
      if (gap) this.reportMissing(name, gap.from, gap.to);
      this.note(stream, payload, name);
    }
    const how: ShownWith = { sender, late };
    if (signer && payload.type === 'notice' && !this.isOwnSentence(payload)) how.ownWords = true;
    // Shown as it comes, in the broker's order: what arrives before our join notice was sent
    // before it, so it goes above our join line, never after it.
    if (!this.joined) {
      if (payload.id === this.options.joinId) this.joined = true;
      else how.beforeJoin = true;
    }
    this.show(payload, at, how, stream);
    if (payload.type === 'notice' && payload.event === 'closed') this.handlers.closedNotice();
  }

  private isOwnSentence(notice: ChatNotice): boolean {
    if (notice.event === undefined) return false;
    const room = this.options.topic.slice(this.options.topic.lastIndexOf('/') + 1);
    return notice.notice === noticeText(notice.event, notice.from, this.options.topic, room);
  }

  private reportMissing(name: string, from: number, to: number): void {
    const n = to - from + 1;
    this.handlers.warn(
      `${n} message${n === 1 ? '' : 's'} from ${name} did not arrive (seq ${from === to ? from : `${from}-${to}`})`,
      'loss',
    );
  }

  /**
   * Starts tracking a new stream of `key`, forgetting the oldest past the limits: that key's own
   * first (a member flooding made-up streams forgets only theirs), or anyone's past the total.
   */
  private track(stream: string, key: string): void {
    this.streams.set(stream, { name: '', seq: 0, at: 0, messages: false, ended: false });
    const mine = this.keyStreams.get(key) ?? [];
    mine.push(stream);
    this.keyStreams.set(key, mine);
    if (mine.length > MAX_STREAMS_PER_KEY) this.forget(mine.shift()!, key);
    if (this.streams.size > MAX_STREAMS) {
      const oldest = this.streams.keys().next().value!;
      const owner = oldest.slice(0, oldest.indexOf('/'));
      const list = this.keyStreams.get(owner);
      list?.splice(list.indexOf(oldest), 1);
      if (list?.length === 0) this.keyStreams.delete(owner);
      this.forget(oldest, '');
    }
  }

  /**
   * Forgets a stream; what `key` (or anyone, for `''`) signed up to its last line may no longer
   * be told from a replay.
   */
  private forget(stream: string, key: string): void {
    const last = this.streams.get(stream)?.at ?? 0;
    this.forgotAt.set(key, Math.max(this.forgotAt.get(key) ?? 0, last));
    this.streams.delete(stream);
    this.seenSeq.forget(stream);
    this.sequences.forget(stream);
  }

  private note(stream: string, payload: ChatPayload, name: string): void {
    let s = this.streams.get(stream);
    if (!s) {
      s = { name, seq: 0, at: 0, messages: false, ended: false };
      this.streams.set(stream, s);
      if (this.streams.size > MAX_STREAMS) this.streams.delete(this.streams.keys().next().value!);
    }
    s.name = name;
    s.seq = Math.max(s.seq, payload.seq ?? 0);
    s.at = Date.now();
    if (payload.type === 'message') s.messages = true;
    if (payload.type === 'notice' && (payload.event === 'leave' || payload.event === 'lost'))
      s.ended = true;
  }

  /**
   * A sender's stream ended at `end.seq`: what it sent after the last payload we saw never
   * arrived. A stream we never saw counts from its first payload, if that was after we started.
   */
  private ended(stream: string, end: ChatNotice, name: string, highest: number | undefined): void {
    const last = end.seq! - 1;
    this.options.replay?.shown(stream, end.seq!);
    this.note(stream, end, name);
    this.streams.get(stream)!.ended = true;
    if (highest !== undefined) {
      if (last > highest) this.reportMissing(name, highest + 1, last);
    } else if (last > 0 && this.startedAfterUs(end.since)) this.reportMissing(name, 1, last);
    this.sequences.note(stream, end.seq!);
  }

  private startedAfterUs(since: string | undefined): boolean {
    return since !== undefined && this.options.replay?.startedBefore(Date.parse(since)) === true;
  }

  private show(payload: ChatPayload, at: Date, how: ShownWith, stream?: string): void {
    const { count } = this.options;
    // --count reached: nothing more is shown (a batch may hold more than was asked for).
    if (count !== undefined && this.messages >= count) return;
    this.handlers.show(payload, at, how);
    if (stream !== undefined && payload.seq !== undefined && how.sender.trust !== 'unsigned')
      this.options.replay?.shown(stream, payload.seq);
    if (payload.type === 'message') {
      this.messages += 1;
      if (count !== undefined && this.messages >= count) this.handlers.countReached();
    }
  }
}
