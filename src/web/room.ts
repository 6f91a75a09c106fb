/**
 * The page in a room: what `room chat` does for a terminal, over the same protocol core. It
 * subscribes to the room's topic, says it joined (sealed and signed, as every payload), opens
 * what arrives one message after another (one wait per message, whatever it holds) and hands it
 * to the same inbox the terminal programs use: replays refused, duplicates dropped, gaps
 * reported, names judged against the pins. Typed lines go out sealed at QoS 1; MQTT.js keeps
 * them while the broker is away and sends them when it is back. A last will, sealed like the
 * rest, tells the room when the page vanishes without a word.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { withDeadline, withTimeout } from '../conversation/deadline.js';
import { Inbox, type ShownWith } from '../conversation/inbox.js';
import { ReplayGuard } from '../conversation/replay.js';
import { Sender } from '../conversation/sender.js';
import { KnownSenders, type SenderView } from '../conversation/senders.js';
import type { RoomDocument } from '../home/room-files.js';
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
  handlers: PageHandlers;
}

/** How long the page waits for the broker to take its join notice. */
const JOIN_ACK_MS = 10_000;

/** A page in a room. */
export class PageRoom {
  private opening: Promise<void> = Promise.resolve();
  private sealing: Promise<string> = Promise.resolve('');
  private left = false;

  private constructor(
    private readonly options: PageRoomOptions,
    readonly sender: Sender,
    private readonly client: MqttClient,
    private readonly inbox: Inbox,
    private readonly senders: KnownSenders,
    private readonly replay: ReplayGuard,
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
    const inbox = new Inbox(
      { topic, joinId: join.id, count: undefined, senders, replay },
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
    const page = new PageRoom(options, sender, client, inbox, senders, replay);
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
        handlers.warn(
          `the connection to the broker was lost for ${seconds} s: lines sent in the room meanwhile may be missing`,
          'loss',
        );
      }
      away = undefined;
    });
    try {
      await page.joinWith(joinPayload);
    } catch (err) {
      client.end(true);
      throw err;
    }
    return page;
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
    this.opening = this.opening.then(async () => {
      if (retained) this.inbox.receive(payload, true);
      else this.inbox.receiveDecoded(await this.options.codec.openAll(payload));
      this.senders.save();
      this.replay.save();
    });
  }

  /** Every message that arrived so far has been shown (for tests and for leaving). */
  settled(): Promise<void> {
    return this.opening;
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
    const { topic, room, codec, handlers } = this.options;
    try {
      if (this.client.connected) {
        const leave = await codec.sealBatch([this.sender.notice('leave', topic, room)]);
        await withTimeout(this.client.publishAsync(topic, leave, { qos: 1 }), 1000);
      }
    } catch {
      // Leaving goes on: the will is dropped with a clean disconnect either way.
    }
    await this.client.endAsync();
    this.senders.save();
    this.replay.save();
    handlers.status('left');
  }
}
