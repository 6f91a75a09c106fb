/**
 * The page in a room: what `room chat` does for a terminal, over the same protocol core. It
 * subscribes to the room's topic, says it joined (sealed and signed, as every payload), opens
 * what arrives one message after another (one wait per message, whatever it holds) and hands it
 * to the same inbox the terminal programs use: replays refused, duplicates dropped, gaps
 * reported, names judged against the pins. Typed lines go out sealed at QoS 1; MQTT.js keeps
 * them while the broker is away and sends them when it is back. A last will, sealed like the
 * rest, tells the room when the page vanishes without a word.
 *
 * In a room that keeps its history, the page opens with its last lines, as `room chat` does:
 * what arrives live meanwhile is held and shown after them (history/show.ts), and the page's own
 * lines are kept in the history once the broker has them; lines missing from a stream are looked
 * up there (history/recovery.ts) and shown late, as recovered, before any is reported lost.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { IClientOptions, MqttClient } from 'mqtt';
import { withDeadline, withTimeout } from '../conversation/deadline.js';
import { Inbox, type ShownWith } from '../conversation/inbox.js';
import { ReplayGuard } from '../conversation/replay.js';
import { Sender } from '../conversation/sender.js';
import { KnownSenders, type SenderView } from '../conversation/senders.js';
import type { HistoryQuery, HistoryRow, StoredHistoryRow } from '../db/store.js';
import type { RoomDocument } from '../home/room-files.js';
import type { HistoryRead, HistoryRequest, RowOpener } from '../history/lines.js';
import { Recovery } from '../history/recovery.js';
import {
  boundedReading,
  CATCH_UP_MARGIN_MS,
  catchUp,
  RECOVERY_WAIT_MS,
  showHistory,
} from '../history/show.js';
import type { ChatPayload } from '../protocol/payload.js';
import type { WebRoomCodec, WebSigner } from '../protocol/web-envelope.js';

/** Where the page is with its broker. */
export type PageStatus = 'connecting' | 'online' | 'offline' | 'left';

/** What the page's window is told. */
export interface PageHandlers {
  show(payload: ChatPayload, how: ShownWith, at: Date): void;
  /** A warning line; `loss` for lines that never arrived. */
  warn(line: string, kind?: 'loss'): void;
  status(status: PageStatus): void;
  /** A `closed` notice was shown: the room may have been closed. */
  closedNotice?(): void;
  /** The history the page opened with is shown (`shown` lines of it); live follows. */
  historyShown?(shown: number): void;
}

/** The room's history, as the page reads it and keeps its own lines in it. */
export interface PageHistory {
  /** Reads what `request` asks for (history.ts's reader through `room serve`). */
  read(request: HistoryRequest): Promise<HistoryRead>;
  /** Reads rows as a store does (history.ts's, through `room serve`): gaps are looked up so. */
  rows(query: HistoryQuery): Promise<StoredHistoryRow[]>;
  /** Opens rows with the page's codec (history.ts's `pageRowOpener`). */
  open: RowOpener;
  /** Keeps the page's own rows; false when they cannot be kept (the page is no member). */
  keep(rows: HistoryRow[]): Promise<boolean>;
  /** How many messages the page opens with. */
  last: number;
}

export interface PageRoomOptions {
  /** MQTT.js's `connect` (the browser build's in a page). */
  connect: (url: string, options: IClientOptions) => MqttClient;
  /** The broker's MQTT-over-WebSocket URL. */
  url: string;
  room: string;
  topic: string;
  name: string;
  codec: WebRoomCodec;
  signer: WebSigner;
  /** Where pins and shown sequences are kept (the browser's storage); none: in memory only. */
  pins?: RoomDocument | undefined;
  seen?: RoomDocument | undefined;
  /** The room's history, when it keeps one. */
  history?: PageHistory | undefined;
  handlers: PageHandlers;
}

/** Live messages (and bytes) held at most while the history is read; past it, live goes on. */
const MAX_HELD = 10_000;
const MAX_HELD_BYTES = 64 * 2 ** 20;
/** How long the page's own rows wait to be kept, and how many go at once, and wait at most. */
const KEEP_EVERY_MS = 200;
const KEEP_AT_ONCE = 256;
const MAX_KEEPING = 5_000;
const KEEP_WARN_MS = 10_000;

/** A payload as the held live ones are known by (its SHA-256, base64). */
const digest = (payload: Uint8Array): string => Buffer.from(sha256(payload)).toString('base64');

/** How long the page waits for the broker to take its join notice. */
const JOIN_ACK_MS = 10_000;

/** A page in a room. */
export class PageRoom {
  private opening: Promise<void> = Promise.resolve();
  private sealing: Promise<string> = Promise.resolve('');
  private left = false;
  /** What arrived live while the history is read (known by its digest), until it is shown. */
  private held: [Buffer, boolean][] | undefined;
  private heldBytes = 0;
  private readonly heldDigests = new Set<string>();
  private history: Promise<void> = Promise.resolve();
  /** The page's own rows waiting to be kept, and those that could not be (told once). */
  private keeping: HistoryRow[] = [];
  private keepTimer: ReturnType<typeof setTimeout> | undefined;
  private kept: Promise<void> = Promise.resolve();
  private notKept = 0;
  private notKeptToldAt = -Infinity;
  /** When the page came: what was said before it is the history it opened with. */
  private readonly startedAt = Date.now();

  private constructor(
    private readonly options: PageRoomOptions,
    readonly sender: Sender,
    private readonly client: MqttClient,
    private readonly inbox: Inbox,
    private readonly senders: KnownSenders,
    private readonly replay: ReplayGuard,
    private readonly recovery: Recovery | undefined,
  ) {}

  /** Connects, subscribes and says it joined; rejects with a line to show when it cannot. */
  static async enter(options: PageRoomOptions): Promise<PageRoom> {
    const { codec, topic, room, name, handlers } = options;
    const sender = new Sender(name);
    const will = await codec.sealBatch([sender.notice('lost', topic, room)]);
    const join = sender.notice('join', topic, room);
    const joinPayload = await codec.sealBatch([join]);
    const startedAt = Date.now();
    const senders = new KnownSenders(
      options.pins,
      { name, publicKey: Buffer.from(options.signer.publicKey) },
      (line) => handlers.warn(line),
    );
    const replay = new ReplayGuard(options.seen, startedAt, (line) => handlers.warn(line));
    // A gap in a stream is looked up in the room's history, as a listener does, before it is
    // reported lost.
    const { history } = options;
    const recovery =
      history &&
      new Recovery({
        rows: (query) => history.rows(query),
        open: history.open,
        warn: (line) => handlers.warn(line),
      });
    const inbox = new Inbox(
      { topic, joinId: join.id, count: undefined, senders, replay, recovery },
      {
        show: (payload, at, how) => handlers.show(payload, how, at),
        warn: (line, kind) => handlers.warn(line, kind),
        closedNotice: () => handlers.closedNotice?.(),
        countReached: () => undefined,
      },
    );
    handlers.status('connecting');
    const client = options.connect(options.url, {
      clientId: `sunoyep${Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(8))).toString('hex')}`,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      // MQTT.js's default keepalive timer is a Worker made from a blob: URL, which the page's
      // CSP (worker-src 'self') refuses.
      timerVariant: 'native',
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: { topic, payload: Buffer.from(will), qos: 1, retain: false },
    });
    const page = new PageRoom(options, sender, client, inbox, senders, replay, recovery);
    if (options.history) page.held = [];
    client.on('message', (_topic, payload, packet) => page.arrived(payload, packet.retain));
    let away: number | undefined;
    const offline = (): void => {
      if (page.left) return;
      away ??= Date.now();
      handlers.status('offline');
    };
    client.on('offline', offline);
    client.on('close', offline);
    client.on('connect', () => {
      handlers.status('online');
      // The page's session starts anew on each connection: what the room said meanwhile is
      // not delivered, and a stream whose lines all fell in the gap has nothing to show it by.
      if (away !== undefined && !page.left) {
        const seconds = Math.max(1, Math.round((Date.now() - away) / 1000));
        const lost = `the connection to the broker was lost for ${seconds} s`;
        if (options.history) page.catchUpFrom(away, lost);
        else handlers.warn(`${lost}: lines sent in the room meanwhile may be missing`, 'loss');
      }
      away = undefined;
    });
    try {
      await page.joinWith(joinPayload);
    } catch (err) {
      recovery?.close();
      client.end(true);
      throw err;
    }
    page.keep(joinPayload, join);
    page.history = page.showHistory(startedAt);
    return page;
  }

  /** Shows the history the page opens with, then what was held meanwhile. */
  private async showHistory(startedAt: number): Promise<void> {
    const { history, room, handlers } = this.options;
    if (!history) return;
    const read = (request: HistoryRequest): Promise<HistoryRead | Error> =>
      boundedReading(history.read(request));
    const held = {
      sinceMs: startedAt,
      has: (payload: Buffer) => this.heldDigests.has(digest(payload)),
    };
    const plan = { sinceMs: undefined, last: history.last };
    let shown = 0;
    try {
      shown = await showHistory(
        { plan, held, first: read({ last: history.last, live: held }), startedAt },
        room,
        read,
        this.inbox,
        {
          live: () => this.held === undefined,
          warn: (line) => handlers.warn(line),
          // The page asks for a screenful: nothing to explain about what it left out.
          note: () => undefined,
          nextTurn: () => new Promise((resolve) => setTimeout(resolve, 0)),
        },
      );
    } finally {
      this.senders.save();
      this.replay.save();
      if (this.held) handlers.historyShown?.(shown);
      this.goLive();
    }
  }

  /**
   * What the room said while the page was away (its session starts anew on each connection),
   * read from the history once senders have stored it, and shown late, as recovered.
   */
  private catchUpFrom(lostAt: number, lost: string): void {
    const history = this.options.history!;
    const since = Math.max(this.startedAt, lostAt - CATCH_UP_MARGIN_MS);
    setTimeout(() => {
      if (this.left) return;
      const reading = boundedReading(history.read({ writtenSinceMs: since }));
      // After what arrived before it: the inbox knows what it showed.
      this.opening = this.opening.then(() =>
        catchUp(reading, lost, this.inbox, {
          over: () => this.left,
          report: (line) => this.options.handlers.warn(line, 'loss'),
        }),
      );
    }, RECOVERY_WAIT_MS);
  }

  /** Live from now on: what was held is shown, after the history. */
  private goLive(): void {
    const held = this.held;
    this.held = undefined;
    this.heldBytes = 0;
    this.heldDigests.clear();
    for (const [payload, retained] of held ?? []) this.arrived(payload, retained);
  }

  private async joinWith(payload: string): Promise<void> {
    const { client } = this;
    const { topic } = this.options;
    const granted = await withDeadline(
      client.subscribeAsync(topic, { qos: 1 }),
      JOIN_ACK_MS,
      () => new Error('the broker did not answer'),
    );
    if (granted.some((g) => g.qos > 2))
      throw new Error(`the broker does not allow this page on ${topic}`);
    await withDeadline(
      client.publishAsync(topic, payload, { qos: 1 }),
      JOIN_ACK_MS,
      () =>
        new Error(`the broker did not acknowledge our join notice within ${JOIN_ACK_MS / 1000} s`),
    );
  }

  /** One MQTT message: opened after those before it, then handed to the inbox. */
  private arrived(payload: Buffer, retained: boolean): void {
    if (this.held) {
      if (this.held.length < MAX_HELD && this.heldBytes + payload.length <= MAX_HELD_BYTES) {
        this.held.push([payload, retained]);
        this.heldBytes += payload.length;
        this.heldDigests.add(digest(payload));
        return;
      }
      // Too much arrives while the history is read: live goes on, the history is left.
      this.options.handlers.warn(
        'the room is too busy to show its history first: showing live messages',
      );
      this.goLive();
    }
    this.opening = this.opening.then(async () => {
      if (retained) this.inbox.receive(payload, true);
      else this.inbox.receiveDecoded(await this.options.codec.openAll(payload));
      this.senders.save();
      this.replay.save();
    });
  }

  /** The history is shown, and every message that arrived so far (for tests and leaving). */
  async settled(): Promise<void> {
    await this.history;
    await this.opening;
  }

  /**
   * Keeps one of the page's own messages in the room's history, once the broker has it: rows
   * wait a moment and go together (a bounded queue; what does not fit is told, not kept).
   */
  private keep(envelope: string, payload: ChatPayload): void {
    if (!this.options.history || payload.id === undefined || payload.seq === undefined) return;
    if (this.keeping.length >= MAX_KEEPING) {
      this.notKept += 1;
      return;
    }
    this.keeping.push({
      signer: Buffer.from(this.options.signer.publicKey),
      sender: this.sender.id,
      firstSeq: payload.seq,
      lastSeq: payload.seq,
      payload: Buffer.from(envelope),
    });
    this.keepTimer ??= setTimeout(() => {
      this.keepTimer = undefined;
      this.kept = this.kept.then(() => this.keepWaiting());
    }, KEEP_EVERY_MS);
  }

  /** Keeps the rows waiting, a batch at a time; tells what could not be kept. */
  private async keepWaiting(): Promise<void> {
    const history = this.options.history!;
    while (this.keeping.length > 0) {
      const rows = this.keeping.splice(0, KEEP_AT_ONCE);
      let why: string | undefined;
      try {
        if (!(await history.keep(rows))) why = 'this page is not a member of the room';
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
      if (why === undefined) continue;
      this.notKept += rows.length;
      // Told at most every KEEP_WARN_MS, with what was not kept meanwhile.
      const now = Date.now();
      if (now - this.notKeptToldAt < KEEP_WARN_MS) continue;
      this.notKeptToldAt = now;
      const n = this.notKept;
      this.notKept = 0;
      this.options.handlers.warn(
        `${n} of your line${n === 1 ? '' : 's'} not kept in the room's history (${why}); the room saw ${n === 1 ? 'it' : 'them'}`,
      );
    }
  }

  /** The page's own rows are kept, or told as not kept (for tests and leaving). */
  async keptAll(): Promise<void> {
    if (this.keepTimer !== undefined) {
      clearTimeout(this.keepTimer);
      this.keepTimer = undefined;
      this.kept = this.kept.then(() => this.keepWaiting());
    }
    await this.kept;
  }

  /**
   * Sends a typed line (`/me waves` as MQTT-Chat's action): its id at once, and `sent`, resolved
   * when the broker has it. While the broker is away MQTT.js holds it and sends it when it is
   * back. Lines are sealed one after another, so they leave in the order they were typed.
   */
  say(text: string): { id: string; sent: Promise<void> } {
    if (this.left) throw new Error('this page has left the room');
    const payload = this.sender.message(text);
    const sealed = this.sealing.then(() => this.options.codec.sealBatch([payload]));
    // A line that could not be sealed fails alone; the next is sealed after it all the same.
    this.sealing = sealed.catch(() => '');
    const sent = sealed.then(async (envelope) => {
      await this.client.publishAsync(this.options.topic, envelope, { qos: 1 });
      this.keep(envelope, payload);
    });
    return { id: payload.id!, sent };
  }

  /** How far `name` under `key` can be trusted here (the pins), without pinning anything. */
  classify(name: string, key: Uint8Array): SenderView {
    return this.senders.classify(name, Buffer.from(key));
  }

  /** Whether the broker connection is up. */
  get online(): boolean {
    return this.client.connected;
  }

  /** Says it leaves (within a second), then disconnects without its will. */
  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    // What is still being looked up is reported lost now (as a listener does when it ends).
    this.recovery?.close();
    const { topic, room, codec, handlers } = this.options;
    try {
      if (this.client.connected) {
        const notice = this.sender.notice('leave', topic, room);
        const leave = await codec.sealBatch([notice]);
        await withTimeout(
          this.client.publishAsync(topic, leave, { qos: 1 }).then(() => this.keep(leave, notice)),
          1000,
        );
        await withTimeout(this.keptAll(), 1000);
      }
    } catch {
      // Leaving goes on: the will is dropped with a clean disconnect either way.
    }
    // A clean end waits for what is in flight: without a broker, not for long.
    let ended = false;
    await withTimeout(
      this.client.endAsync().then(() => (ended = true)),
      1000,
    );
    if (!ended) await this.client.endAsync(true);
    this.senders.save();
    this.replay.save();
    handlers.status('left');
  }
}
