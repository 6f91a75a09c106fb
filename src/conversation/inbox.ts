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
import type { BatchResult, ChatNotice, ChatPayload, RoomCodec } from '../protocol/index.js';
import type { Gap, GapOwner, GapRecovery } from './gaps.js';
import type { ReplayGuard } from './replay.js';
import type { KnownSenders, SenderView } from './senders.js';
import { noticeText } from './sender.js';
import { StreamBook, type StreamState } from './streams.js';
import { senderOf } from './tracker.js';

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
  /**
   * Read from the room's history (`listen --since`/`--last`, the room window's opening): said
   * before this listener came, shown as earlier with its signing time, never as live.
   */
  history?: boolean;
  /** Never arrived on the wire and was found in the room's history: shown late. */
  recovered?: boolean;
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
  /** How `receive` opens messages; none for an inbox fed opened ones (`receiveDecoded`). */
  codec?: RoomCodec | undefined;
  /** The id of our own join notice: what arrives before it was sent before we joined. */
  joinId: string | undefined;
  /** Chat messages to show before `countReached`; unlimited when undefined. */
  count: number | undefined;
  /** The room's senders as this user knows them (pins); unsigned when undefined. */
  senders?: KnownSenders | undefined;
  /** The defence against replays (signed rooms). */
  replay?: ReplayGuard | undefined;
  /**
   * Where the missing lines of a signed stream are looked up before they are reported as lost
   * (the room's history); none: they are reported at once.
   */
  recovery?: GapRecovery | undefined;
}

const UNSIGNED: SenderView = { trust: 'unsigned' };

/** Receives one topic's payloads and hands on what should be shown, once and in order. */
export class Inbox {
  /** Chat messages shown so far. */
  messages = 0;
  private joined: boolean;
  /** The sender streams, bounded per signing key (see streams.ts). */
  private readonly book: StreamBook;
  private retainedWarned = false;
  /** Payloads found by a recovery are being handed on: their gaps are the recovery's to report. */
  private recovering = false;
  /** Lines shown late as found in the room's history (counted for catchUp). */
  private recoveredShown = 0;

  constructor(
    private readonly options: InboxOptions,
    private readonly handlers: InboxHandlers,
  ) {
    this.joined = options.joinId === undefined;
    const { senders } = options;
    this.book = new StreamBook((key) => senders?.hasKey(key) === true);
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
    const { codec } = this.options;
    if (!codec) throw new Error('this inbox takes messages already opened (receiveDecoded)');
    this.receiveDecoded(codec.decodeAll(raw));
  }

  /**
   * Takes one MQTT payload already opened (by a codec that must wait, as a page's WebCrypto
   * does: its caller opens the messages one after another and hands them on in arrival order).
   */
  receiveDecoded(decoded: BatchResult): void {
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

  /**
   * Takes one payload read from the room's history (each stream in the order of its sequence
   * numbers, before anything live): its sender is judged by the pins as on the wire, it is
   * shown once (the same payload arriving live later is dropped), as history: never as live,
   * and without the replay defence's rules for live lines (it was signed before this listener
   * started; that is what history is). A gap between two payloads of a stream is a row the
   * registry lost or had deleted: reported as history incomplete. History counts for no
   * `--count`, and leaves a stream's live lines neither late nor missing. A line `hidden` (one
   * `--last N` leaves out) counts as read without being shown. Returns whether it was shown.
   */
  receiveHistory(line: { payload: ChatPayload; signer: Buffer; hidden?: boolean }): boolean {
    const { payload, signer } = line;
    if (payload.id === undefined || payload.seq === undefined) return false; // every row proves both
    // Our own stream is live by definition (its join notice, read back from the registry at the
    // seam, must come round live for us to know we joined).
    if (this.isOwn(senderOf(payload.id))) return false;
    const sender = this.options.senders?.classify(payload.from, signer) ?? UNSIGNED;
    const name = sender.trust === 'changed' ? `key ${sender.key}` : payload.from;
    const key = signer.toString('base64url');
    const stream = `${key}/${senderOf(payload.id)}`;
    const state = this.book.open(key, stream);
    const { highest } = state;
    if (!this.book.addSeq(key, state, payload.seq)) return false;
    if (highest !== undefined && payload.seq > highest + 1) {
      const n = payload.seq - highest - 1;
      this.handlers.warn(
        `history incomplete: ${n} line${n === 1 ? '' : 's'} of ${name}'s missing (seq ${n === 1 ? highest + 1 : `${highest + 1}-${payload.seq - 1}`}: deleted from the registry)`,
        'loss',
      );
    }
    // What the stream was, not news of now: its time of last hearing and `messages` stay as they
    // were, so that history makes no stream look gone quiet.
    state.name = name;
    state.highest = Math.max(highest ?? 0, payload.seq);
    if (payload.type === 'notice') {
      if (payload.event === 'join') state.conn = payload.conn;
      if (payload.event === 'leave' || payload.event === 'lost' || payload.event === 'end')
        state.ended = true;
      if (payload.event === 'end') {
        if (this.book.isEstablished(key)) this.options.replay?.shown(stream, payload.seq);
        return false;
      }
    }
    if (line.hidden === true) {
      if (sender.trust !== 'unsigned') this.options.replay?.shown(stream, payload.seq);
      return false;
    }
    const how: ShownWith = { sender, late: false, history: true };
    if (payload.type === 'notice' && !this.isOwnSentence(payload)) how.ownWords = true;
    this.handlers.show(payload, new Date(), how);
    if (sender.trust !== 'unsigned') this.options.replay?.shown(stream, payload.seq);
    this.book.shown(key);
    if (sender.trust === 'new') this.options.senders?.pin(payload.from, signer);
    return true;
  }

  /** Stops waiting for our join notice (it may never come round): nothing more is a backlog. */
  release(): void {
    this.joined = true;
  }

  /** The streams that carried messages and have not ended, as they stand now. */
  openStreams(): { stream: string; name: string; seq: number; at: number }[] {
    return [...this.book.all()]
      .filter(([, s]) => s.messages && !s.ended)
      .map(([stream, s]) => ({ stream, name: s.name, seq: s.highest ?? 0, at: s.at }));
  }

  /** When `stream` last delivered anything (ms since the epoch). */
  lastHeard(stream: string): number | undefined {
    return this.book.get(stream.slice(0, stream.indexOf('/')), stream)?.at;
  }

  /**
   * Lines found in the room's history after the broker lost our session (what was sent while we
   * were away, of any stream, also one that began and ended meanwhile): each not shown yet is
   * shown late, as recovered, through the same checks as live ones; a hole among them is not
   * looked up again; our own stream is passed over (it comes round live). Returns how many
   * were shown.
   */
  catchUp(lines: { payload: ChatPayload; signer: Buffer }[]): number {
    const before = this.recoveredShown;
    this.recovering = true;
    try {
      for (const { payload, signer } of lines) {
        // Our own stream comes round live (the window sends again what did not).
        if (payload.id !== undefined && this.isOwn(senderOf(payload.id))) continue;
        this.handle(payload, new Date(), signer, signer.toString('base64url'), true);
      }
    } finally {
      this.recovering = false;
    }
    return this.recoveredShown - before;
  }

  /**
   * A stream gone quiet across a reconnect: what it may have sent past the last number heard
   * (`span` numbers) is looked up, and what is found shown late. `none` is called when nothing
   * was found. False when it is not looked up (the caller reports as without recovery).
   */
  recoverQuiet(stream: string, span: number, none: () => void): boolean {
    const key = stream.slice(0, stream.indexOf('/'));
    const state = this.book.get(key, stream);
    const { recovery } = this.options;
    if (!recovery || !state || state.highest === undefined) return false;
    if (key === 'plain' || !this.book.isEstablished(key)) return false;
    const from = state.highest + 1;
    const gap = this.gapOf(key, stream, state.name, from, from + span - 1);
    let highestFound = 0;
    const owner = this.ownerOf(gap);
    return recovery.missing(
      { ...gap, quiet: true },
      {
        unseen: (from, to) => owner.unseen(from, to),
        found: (payloads) => {
          for (const p of payloads) highestFound = Math.max(highestFound, p.seq ?? 0);
          owner.found(payloads);
        },
        // What was not found past the last one found may never have been sent.
        settle: (first) => (highestFound >= first ? owner.settle(first, highestFound) : none()),
      },
    );
  }

  private handle(
    payload: ChatPayload,
    at: Date,
    signer: Buffer | undefined,
    /** The signer's key as text (`plain` when unsigned). */
    key: string,
    /** Found in the room's history after it did not arrive: shown late. */
    recovered = false,
  ): void {
    const sender = this.options.senders?.classify(payload.from, signer) ?? UNSIGNED;
    const stream = payload.id === undefined ? undefined : `${key}/${senderOf(payload.id)}`;
    const name = sender.trust === 'changed' ? `key ${sender.key}` : payload.from;
    const will = payload.type === 'notice' && payload.event === 'lost';
    // Shown already (from the room's history, or a redelivery): dropped quietly, never taken
    // for a replay.
    if (stream !== undefined && payload.seq !== undefined && !will)
      if (this.book.get(key, stream)?.seen.has(payload.seq) === true) return;
    if (signer && this.options.replay && !will) {
      const verdict = this.options.replay.check(stream, payload);
      if (verdict) {
        this.handlers.warn(
          verdict.replay === 'shown before'
            ? `ignored a replayed message from ${name}: it was shown before`
            : `ignored a message from ${name} signed ${Math.round(verdict.ageMs / 1000)} s before this listener started: an old message sent again (or a clock that far behind)`,
        );
        return;
      }
    }
    let state = stream === undefined ? undefined : this.book.get(key, stream);
    if (signer && stream !== undefined && payload.seq !== undefined && !state) {
      // A stream forgotten to make room (its key made too many) must not come back as new:
      // what that key signed before it was forgotten is taken for a replay.
      const forgot = this.book.forgotAt(key);
      const signedAt = payload.ts === undefined ? NaN : Date.parse(payload.ts);
      if (forgot > 0 && !(signedAt >= forgot)) {
        this.handlers.warn(`ignored an old message from ${name}: sent again, or too late to tell`);
        return;
      }
    }
    if (stream !== undefined && payload.seq !== undefined) state = this.book.open(key, stream);
    // A last will is live news only for the connection it was made with, whose join notice this
    // listener heard and that has not left since; any other is old (or a replay).
    let oldWill = false;
    if (will && signer) {
      if (state?.ended && payload.seq !== undefined && !state.seen.has(payload.seq)) {
        this.handlers.warn(
          `ignored a last will of ${name}: that listener had left (an old will sent again)`,
        );
        return;
      }
      oldWill = !(state?.conn !== undefined && state.conn === payload.conn);
    }
    let late = false;
    if (stream !== undefined) {
      const isNew =
        state && payload.seq !== undefined
          ? this.book.addSeq(key, state, payload.seq)
          : this.book.addId(key, stream);
      if (!isNew) return;
    }
    if (state && payload.seq !== undefined) {
      const { highest } = state;
      // Before our join came round, a will is marked as such (it is not news of now either).
      late = (highest !== undefined && payload.seq < highest && !will) || (oldWill && this.joined);
      if (payload.type === 'notice' && payload.event === 'end') {
        this.ended(key, stream!, state, payload, name, signer);
        return;
      }
      if (highest !== undefined && payload.seq > highest + 1)
        this.reportMissing(key, name, highest + 1, payload.seq - 1, stream, signer);
      this.note(state, payload, name);
    }
    const how: ShownWith = { sender, late: late || recovered };
    if (recovered) how.recovered = true;
    if (signer && payload.type === 'notice' && !this.isOwnSentence(payload)) how.ownWords = true;
    // Shown as it comes, in the broker's order: what arrives before our join notice was sent
    // before it, so it goes above our join line, never after it.
    if (!this.joined && !recovered) {
      if (payload.id === this.options.joinId) this.joined = true;
      else how.beforeJoin = true;
    }
    if (!this.show(payload, at, how, stream)) return;
    if (recovered) this.recoveredShown += 1;
    if (signer) {
      this.book.shown(key);
      if (sender.trust === 'new') this.options.senders?.pin(payload.from, signer);
    }
    if (payload.type === 'notice' && payload.event === 'closed') this.handlers.closedNotice();
  }

  /** Whether `sender` (a sender id, the stream's part after its key) is our own program. */
  private isOwn(sender: string): boolean {
    const { joinId } = this.options;
    return joinId !== undefined && sender === senderOf(joinId);
  }

  private isOwnSentence(notice: ChatNotice): boolean {
    if (notice.event === undefined) return false;
    const room = this.options.topic.slice(this.options.topic.lastIndexOf('/') + 1);
    return notice.notice === noticeText(notice.event, notice.from, this.options.topic, room);
  }

  /**
   * Reports lines of `key` that never arrived: as a loss report, never summed up, for a key that
   * showed lines (or unsigned); for a key on probation, as a warning like others (a member minting
   * keys could otherwise fill the terminal with reports about streams made up for it). With a
   * recovery, the gap of an established signed stream is handed to it first: it reports only
   * what it could not find.
   */
  private reportMissing(
    key: string,
    name: string,
    from: number,
    to: number,
    stream?: string,
    signer?: Buffer,
  ): void {
    // Found by a recovery: what it did not find is reported when it settles.
    if (this.recovering) return;
    // Our own stream's lines are the window's to report (not delivered, or kept in history).
    if (stream !== undefined && this.isOwn(stream.slice(stream.indexOf('/') + 1))) return;
    const { recovery } = this.options;
    if (recovery && stream !== undefined && signer && key !== 'plain') {
      // A key on probation gets no lookups: its gaps are reported as warnings, as before.
      if (this.book.isEstablished(key)) {
        const gap = this.gapOf(key, stream, name, from, to);
        if (recovery.missing(gap, this.ownerOf(gap))) return;
      }
    }
    this.lost(key, name, from, to);
  }

  /** The gap `from..to` of a signed stream. */
  private gapOf(key: string, stream: string, name: string, from: number, to: number): Gap {
    const signer = Buffer.from(key, 'base64url');
    return { signer, key, sender: stream.slice(key.length + 1), stream, name, from, to };
  }

  /** What a recovery may do for `gap`: see what still is missing, hand on what it found. */
  private ownerOf(gap: Gap): GapOwner {
    const { key, stream, signer } = gap;
    const unseen = (from: number, to: number): [number, number][] =>
      this.book.get(key, stream)?.seen.unseen(from, to) ?? [[from, to]];
    return {
      unseen,
      found: (payloads) => {
        // A stream forgotten meanwhile cannot tell what was shown: nothing of it is.
        if (!this.book.get(key, stream)) return;
        const ordered = payloads
          .filter((p) => p.id !== undefined && p.seq !== undefined)
          .filter((p) => `${key}/${senderOf(p.id!)}` === stream)
          .sort((a, b) => a.seq! - b.seq!);
        this.recovering = true;
        try {
          for (const p of ordered) this.handle(p, new Date(), signer, key, true);
        } finally {
          this.recovering = false;
        }
      },
      settle: (from, to) => {
        const name = this.book.get(key, stream)?.name || gap.name;
        for (const [a, b] of unseen(from, to)) this.lost(key, name, a, b);
      },
    };
  }

  /** Reports `from..to` of `key` as lost (see reportMissing). */
  private lost(key: string, name: string, from: number, to: number): void {
    const n = to - from + 1;
    const kind = key === 'plain' || this.book.isEstablished(key) ? 'loss' : undefined;
    this.handlers.warn(
      `${n} message${n === 1 ? '' : 's'} from ${name} did not arrive (seq ${from === to ? from : `${from}-${to}`})`,
      kind,
    );
  }

  private note(s: StreamState, payload: ChatPayload, name: string): void {
    s.name = name;
    s.highest = Math.max(s.highest ?? 0, payload.seq ?? 0);
    s.at = Date.now();
    if (payload.type === 'message') s.messages = true;
    if (payload.type !== 'notice') return;
    if (payload.event === 'join' && payload.seq !== undefined) s.conn = payload.conn;
    if (payload.event === 'leave' || payload.event === 'lost') s.ended = true;
  }

  /**
   * A sender's stream ended at `end.seq`: what it sent after the last payload we saw never
   * arrived. A stream we never saw counts from its first payload, if that was after we started.
   */
  private ended(
    key: string,
    stream: string,
    s: StreamState,
    end: ChatNotice,
    name: string,
    signer: Buffer | undefined,
  ): void {
    const last = end.seq! - 1;
    const { highest } = s;
    // Written down only for a key that showed lines: a key on probation is forgotten whole.
    if (this.book.isEstablished(key)) this.options.replay?.shown(stream, end.seq!);
    this.note(s, end, name);
    s.ended = true;
    if (highest !== undefined) {
      if (last > highest) this.reportMissing(key, name, highest + 1, last, stream, signer);
    } else if (last > 0 && this.startedAfterUs(end.since))
      this.reportMissing(key, name, 1, last, stream, signer);
  }

  private startedAfterUs(since: string | undefined): boolean {
    return since !== undefined && this.options.replay?.startedBefore(Date.parse(since)) === true;
  }

  /** Hands a payload on to be shown; false when --count was reached (nothing more is shown). */
  private show(payload: ChatPayload, at: Date, how: ShownWith, stream?: string): boolean {
    const { count } = this.options;
    if (count !== undefined && this.messages >= count) return false;
    this.handlers.show(payload, at, how);
    if (stream !== undefined && payload.seq !== undefined && how.sender.trust !== 'unsigned')
      this.options.replay?.shown(stream, payload.seq);
    if (payload.type === 'message') {
      this.messages += 1;
      if (count !== undefined && this.messages >= count) this.handlers.countReached();
    }
    return true;
  }
}
