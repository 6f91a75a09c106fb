/**
 * The way into a chat: raw MQTT payloads are decoded, duplicates dropped, gaps in a sender's
 * numbering reported, everything held back until our own join notice comes round (so the
 * conversation starts where we joined), and chat messages counted for `--count`.
 */
import type { ChatPayload, RoomCodec } from '../protocol/index.js';
import { RecentIds, SeenSequences, senderOf, SequenceTracker } from './tracker.js';

/** What the inbox hands on. */
export interface InboxHandlers {
  /** A payload to show, with the time it arrived. */
  show(payload: ChatPayload, at: Date): void;
  /** A warning for stderr (one line, no newline). */
  warn(line: string): void;
  /** A `closed` notice was shown: the room may have closed. */
  closedNotice(): void;
  /** `count` chat messages have been shown. */
  countReached(): void;
}

/** Where the inbox listens and what it waits for. */
export interface InboxOptions {
  topic: string;
  codec: RoomCodec;
  /** The id of our own join notice: other payloads wait until it arrives. */
  joinId: string | undefined;
  /** Chat messages to show before `countReached`; unlimited when undefined. */
  count: number | undefined;
}

/** Receives one topic's payloads and hands on what should be shown, once and in order. */
export class Inbox {
  /** Chat messages shown so far. */
  messages = 0;
  private joined: boolean;
  private readonly held: { payload: ChatPayload; at: Date }[] = [];
  private readonly seen = new RecentIds(); // payloads with an id and no seq
  private readonly seenSeq = new SeenSequences(); // sunoye's payloads: id and seq
  private readonly sequences = new SequenceTracker();

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

  /** Takes one MQTT payload (one message or a sealed batch). */
  receive(raw: Buffer): void {
    const decoded = this.options.codec.decodeAll(raw);
    if (!decoded.ok) {
      this.handlers.warn(`ignored a payload on ${this.options.topic}: ${decoded.reason}`);
      return;
    }
    const at = new Date();
    for (const payload of decoded.payloads) this.handle(payload, at);
  }

  /** Stops holding payloads back: shows what was held, and everything from now on. */
  release(): void {
    this.joined = true;
    for (const h of this.held.splice(0)) this.show(h.payload, h.at);
  }

  private handle(payload: ChatPayload, at: Date): void {
    if (payload.id !== undefined) {
      const isNew =
        payload.seq !== undefined
          ? this.seenSeq.add(senderOf(payload.id), payload.seq)
          : this.seen.add(payload.id);
      if (!isNew) return;
    }
    if (payload.id !== undefined && payload.seq !== undefined) {
      const gap = this.sequences.note(senderOf(payload.id), payload.seq);
      if (gap) {
        const n = gap.to - gap.from + 1;
        this.handlers.warn(
          `${n} message${n === 1 ? '' : 's'} from ${payload.from} did not arrive (seq ${gap.from}-${gap.to})`,
        );
      }
    }
    if (!this.joined) {
      if (payload.id === this.options.joinId) {
        this.show(payload, at);
        this.release();
      } else this.held.push({ payload, at });
      return;
    }
    this.show(payload, at);
    if (payload.type === 'notice' && payload.event === 'closed') this.handlers.closedNotice();
  }

  private show(payload: ChatPayload, at: Date): void {
    const { count } = this.options;
    // --count reached: nothing more is shown (a batch may hold more than was asked for).
    if (count !== undefined && this.messages >= count) return;
    this.handlers.show(payload, at);
    if (payload.type === 'message') {
      this.messages += 1;
      if (count !== undefined && this.messages >= count) this.handlers.countReached();
    }
  }
}
