/**
 * sunoye's own MQTT client for mqtt:// and mqtts:// brokers, for `publish` and `listen`. They need
 * little of MQTT: QoS 1 both ways, one subscription, a will and a kept session. Doing just that is
 * several times cheaper per message, and in memory, than a general client, and keeps that client's
 * start-up cost off every program.
 *
 * It connects like connectBroker (MQTT 5, then 3.1.1 when the broker refuses 5; the same one-line
 * failures) and writes each turn of the event loop's packets in one system call. After a lost
 * connection it reconnects with backoff, subscribes again, and sends again, marked as duplicates,
 * the messages not yet acknowledged (listeners drop copies by their id). WebSocket URLs use the
 * general client through the same interface (see `openConnection`).
 */
import { randomBytes } from 'node:crypto';
import { isIP, connect as tcpConnect, type Socket } from 'node:net';
import type { connect as TlsConnect } from 'node:tls';
import { redactUrl } from '../db/url.js';
import { UnavailableError } from '../errors.js';
import type { BrokerSettings, ConnectOptions } from './connect.js';
import { describeFailure } from './failure.js';
import {
  CONNECT_TIMEOUT_MS,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  SESSION_EXPIRY_SECONDS,
} from './settings.js';
import {
  CONNACK,
  DISCONNECT,
  PINGREQ_PACKET,
  PUBACK,
  PUBLISH,
  MalformedPacket,
  PacketPool,
  PacketReader,
  SUBACK,
  connackProperties,
  connectPacket,
  disconnectPacket,
  markDuplicate,
  pubackPacket,
  publishPacket,
  readPublish,
  readSuback,
  subscribePacket,
  type SessionOptions,
} from './wire.js';

/** Called once per message: no error when the broker acknowledged it. */
export type AckCallback = (err?: Error & { code?: number }) => void;

/** What `publish` needs of a broker connection. */
export interface QosPublisher {
  /** How many unacknowledged messages the broker accepts from us. */
  readonly receiveMaximum: number;
  /** The largest packet the broker accepts (MQTT 5 Maximum Packet Size; unlimited if unsaid). */
  readonly maximumPacketSize: number;
  publish(topic: string, payload: string, onAck: AckCallback): void;
  /** Disconnects cleanly (after what was written). */
  end(): Promise<void>;
  /** Drops the connection at once. */
  destroy(): void;
}

/** What `listen` needs besides: a subscription, the messages, and word of a lost connection. */
export interface ChatConnection extends QosPublisher {
  readonly protocolVersion: 4 | 5;
  /**
   * Subscribes at QoS 1, now and after every reconnect. Resolves with the SUBACK's codes: 0-2
   * granted, 0x80 and above refused.
   */
  subscribe(topic: string): Promise<number[]>;
  /** Receives every message; those that arrive before it is set wait for it (unacknowledged). */
  onMessage: ((topic: string, payload: Buffer) => void) | undefined;
  /** Called when an established connection is lost (the client reconnects by itself). */
  onOffline: (() => void) | undefined;
  /** Disconnects cleanly; `endSession` also ends a kept MQTT 5 session. */
  end(options?: { endSession?: boolean }): Promise<void>;
  /**
   * Stops reading messages (the broker keeps them; the connection is kept alive), for a reader
   * that cannot keep up, until `resume`.
   */
  pause(): void;
  resume(): void;
}

type Failure = Error & { code?: string | number };

/** Connects: this module's client for mqtt(s)/tcp/ssl, MQTT.js for WebSockets. */
export async function openConnection(
  settings: BrokerSettings,
  options: ConnectOptions,
): Promise<ChatConnection> {
  if (/^(mqtt|mqtts|tcp|ssl):/.test(settings.url)) return LeanClient.open(settings, options);
  const { libraryConnection } = await import('./library-client.js');
  return libraryConnection(settings, options);
}

/** A connection for `publish`: a clean session under a random client id. */
export function openPublisher(settings: BrokerSettings): Promise<QosPublisher> {
  return openConnection(settings, {
    clientId: `sunoye-p-${randomBytes(8).toString('hex')}`,
    clean: true,
  });
}

/** Publishes at QoS 1; resolves when the broker acknowledged, rejects when it refused. */
export function publishAcked(
  connection: QosPublisher,
  topic: string,
  payload: string,
): Promise<void> {
  return new Promise((resolve, reject) =>
    connection.publish(topic, payload, (err) => (err ? reject(err) : resolve())),
  );
}

interface Pending {
  packet: Buffer;
  onAck: AckCallback;
  sent: boolean;
  /** The packet's memory came from the pool and goes back to it on PUBACK. */
  pooled: boolean;
}

class LeanClient implements ChatConnection {
  receiveMaximum = 65_535;
  maximumPacketSize = Infinity;
  protocolVersion: 4 | 5 = 5;
  onOffline: (() => void) | undefined;
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Pending>();
  /** SUBSCRIBEs waiting for their SUBACK: the topic and who waits for the codes. */
  private readonly subscribing = new Map<
    number,
    { topic: string; done: ((codes: number[]) => void) | undefined }
  >();
  private readonly subscriptions = new Set<string>();
  private nextId = 1;
  private outgoing: Buffer[] = [];
  private flushScheduled = false;
  private wroteSince = false;
  private lastHeard = 0;
  private ending = false;
  private paused = false;
  private backoff = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly topics = new Map<string, Buffer>();
  private readonly pool = new PacketPool();
  private tlsConnect: typeof TlsConnect | undefined;
  private receiver: ((topic: string, payload: Buffer) => void) | undefined;
  /** Messages that arrived before anyone listened, with their packet ids to acknowledge. */
  private early: { topic: string; payload: Buffer; id: number | undefined }[] = [];
  private readonly session: SessionOptions;

  private constructor(
    private readonly settings: BrokerSettings,
    private readonly options: ConnectOptions,
  ) {
    this.session = {
      clean: options.clean,
      sessionExpirySeconds: options.clean ? undefined : SESSION_EXPIRY_SECONDS,
      will: options.will,
    };
  }

  static async open(settings: BrokerSettings, options: ConnectOptions): Promise<LeanClient> {
    const client = new LeanClient(settings, options);
    // TLS is loaded only for mqtts:// (it is a good part of a start otherwise).
    if (/^(mqtts|ssl):/.test(settings.url))
      client.tlsConnect = process.getBuiltinModule('node:tls').connect;
    try {
      try {
        await client.connect();
      } catch (err) {
        const code = (err as Failure).code;
        if (code !== 1 && code !== 132) throw err; // unsupported protocol version
        client.protocolVersion = 4;
        await client.connect();
      }
    } catch (err) {
      throw new UnavailableError(
        `cannot connect to the broker ${redactUrl(settings.url)}: ${describeFailure(err as Failure)}`,
        { cause: err },
      );
    }
    return client;
  }

  get onMessage(): ((topic: string, payload: Buffer) => void) | undefined {
    return this.receiver;
  }

  set onMessage(receiver: ((topic: string, payload: Buffer) => void) | undefined) {
    this.receiver = receiver;
    if (!receiver) return;
    for (const m of this.early.splice(0)) this.deliver(m.topic, m.payload, m.id);
  }

  /** One connection attempt: resolves on a successful CONNACK, rejects with the reason. */
  private connect(): Promise<void> {
    const url = new URL(this.settings.url);
    const tls = url.protocol === 'mqtts:' || url.protocol === 'ssl:';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || (tls ? 8883 : 1883));
    return new Promise((resolve, reject) => {
      const socket: Socket = tls
        ? this.tlsConnect!({
            host,
            port,
            ca: this.settings.ca,
            cert: this.settings.cert,
            key: this.settings.key,
            servername: isIP(host) ? undefined : host,
          })
        : tcpConnect({ host, port });
      socket.setNoDelay(true);
      let settled = false;
      const fail = (err: Failure): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(Object.assign(new Error('timed out connecting'), { code: 'ETIMEDOUT' })),
        this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      );
      const reader = new PacketReader();
      socket.once(tls ? 'secureConnect' : 'connect', () =>
        socket.write(
          connectPacket(this.settings, this.protocolVersion, this.options.clientId, this.session),
        ),
      );
      socket.on('error', (err) => (settled ? this.lost(socket) : fail(err)));
      socket.on('close', () =>
        settled
          ? this.lost(socket)
          : fail(
              Object.assign(new Error('the broker closed the connection'), { code: 'ECONNRESET' }),
            ),
      );
      socket.on('data', (chunk: Buffer) => {
        this.lastHeard = Date.now();
        try {
          for (const [type, body, flags] of reader.push(chunk)) {
            if (settled) {
              this.received(socket, type, body, flags);
              continue;
            }
            if (type !== CONNACK) return fail(new Error('the broker did not answer with CONNACK'));
            const code = body[1] ?? 0;
            if (code !== 0) {
              return fail(Object.assign(new Error(`connection refused, code ${code}`), { code }));
            }
            settled = true;
            clearTimeout(timer);
            const properties = this.protocolVersion === 5 ? connackProperties(body) : {};
            this.receiveMaximum = properties.receiveMaximum ?? 65_535;
            this.maximumPacketSize = properties.maximumPacketSize ?? Infinity;
            this.up(socket, properties.serverKeepAlive ?? this.settings.keepaliveSeconds);
            resolve();
          }
        } catch (err) {
          if (!settled) fail(err as Failure);
          // A malformed packet: this connection cannot be trusted any more (it is made anew).
          else if (err instanceof MalformedPacket) socket.destroy();
          // Anything else is a fault of the program's own, and is not to be hidden.
          else throw err;
        }
      });
    });
  }

  /** A packet on an established connection. */
  private received(socket: Socket, type: number, body: Buffer, flags: number): void {
    if (type === PUBACK) this.acknowledged(body);
    else if (type === PUBLISH) {
      const message = readPublish(flags, body, this.protocolVersion);
      if (this.receiver) this.deliver(message.topic, message.payload, message.id);
      else this.early.push(message);
    } else if (type === SUBACK) {
      const { id, codes } = readSuback(body, this.protocolVersion);
      const waiting = this.subscribing.get(id);
      this.subscribing.delete(id);
      waiting?.done?.(codes);
    } else if (type === DISCONNECT) socket.destroy();
  }

  /** Hands a message over, then acknowledges it (a crash in between means it comes again). */
  private deliver(topic: string, payload: Buffer, id: number | undefined): void {
    this.receiver!(topic, payload);
    if (id !== undefined) this.queue(pubackPacket(id));
  }

  /** Connected: subscribe and send again what is pending, and keep the connection alive. */
  private up(socket: Socket, keepaliveSeconds: number): void {
    this.socket = socket;
    if (this.paused) socket.pause();
    this.backoff = RECONNECT_MIN_MS;
    // Subscriptions again (a kept session has them; asking again does no harm).
    const waiting = new Map<string, ((codes: number[]) => void) | undefined>();
    for (const s of this.subscribing.values()) waiting.set(s.topic, s.done);
    this.subscribing.clear();
    for (const topic of this.subscriptions) this.sendSubscribe(topic, waiting.get(topic));
    for (const p of this.pending.values()) {
      if (p.sent) {
        // A copy: the old connection may not be done with the original (it is not pooled again).
        p.packet = markDuplicate(p.packet);
        p.pooled = false;
      }
      p.sent = true;
      this.outgoing.push(p.packet);
    }
    this.flush();
    if (keepaliveSeconds > 0) {
      // A packet at least every half keepalive; a broker silent for 1.5 keepalives is gone.
      this.pingTimer = setInterval(
        () => {
          // Paused, the broker's answers wait unread: silence proves nothing then.
          if (!this.paused && Date.now() - this.lastHeard > keepaliveSeconds * 1500)
            socket.destroy();
          else if (!this.wroteSince) socket.write(PINGREQ_PACKET);
          this.wroteSince = false;
        },
        (keepaliveSeconds * 1000) / 2,
      );
      this.pingTimer.unref();
    }
  }

  /** The connection dropped: try again with backoff, keeping every message not acknowledged. */
  private lost(socket: Socket): void {
    if (socket !== this.socket) return; // an earlier connection's late event
    socket.destroy();
    this.socket = undefined;
    clearInterval(this.pingTimer);
    if (this.ending) return;
    this.outgoing = [];
    this.early = []; // unacknowledged: the broker sends them again
    this.onOffline?.();
    this.reconnect();
  }

  private reconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch(() => {
        this.backoff = Math.min(this.backoff * 2, RECONNECT_MAX_MS);
        if (!this.ending) this.reconnect();
      });
    }, this.backoff);
  }

  private acknowledged(body: Buffer): void {
    if (body.length < 2) throw new MalformedPacket('malformed PUBACK from the broker');
    const id = body.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    // Acknowledged, so the broker has it all: the socket is done with these bytes.
    if (p.pooled) this.pool.give(p.packet);
    const code = this.protocolVersion === 5 && body.length > 2 ? body[2]! : 0;
    if (code < 0x80) p.onAck();
    else
      p.onAck(Object.assign(new Error(`the broker refused the message, code ${code}`), { code }));
  }

  /** A packet id in use by nothing waiting for an answer. */
  private takeId(): number {
    while (this.pending.has(this.nextId) || this.subscribing.has(this.nextId))
      this.nextId = (this.nextId % 65_535) + 1;
    const id = this.nextId;
    this.nextId = (this.nextId % 65_535) + 1;
    return id;
  }

  subscribe(topic: string): Promise<number[]> {
    this.subscriptions.add(topic);
    return new Promise((resolve) => {
      if (this.socket) this.sendSubscribe(topic, resolve);
      else this.subscribing.set(this.takeId(), { topic, done: resolve }); // sent when up again
    });
  }

  private sendSubscribe(topic: string, done: ((codes: number[]) => void) | undefined): void {
    const id = this.takeId();
    this.subscribing.set(id, { topic, done });
    this.queue(subscribePacket(this.protocolVersion, id, topic));
  }

  publish(topic: string, payload: string, onAck: AckCallback): void {
    let topicBytes = this.topics.get(topic);
    if (!topicBytes) this.topics.set(topic, (topicBytes = Buffer.from(topic, 'utf8')));
    const id = this.takeId();
    const packet = publishPacket(this.protocolVersion, topicBytes, id, payload, this.pool);
    const connected = this.socket !== undefined;
    this.pending.set(id, { packet, onAck, sent: connected, pooled: true });
    if (connected) this.queue(packet);
  }

  /** Sends `packet` with the rest of this turn of the event loop's (if connected). */
  private queue(packet: Buffer): void {
    if (!this.socket) return;
    this.outgoing.push(packet);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what this turn of the event loop produced, in one call. */
  private flush(): void {
    this.flushScheduled = false;
    if (!this.socket || this.outgoing.length === 0) return;
    const socket = this.socket;
    const packets = this.outgoing;
    this.outgoing = [];
    this.wroteSince = true;
    // Corked, the packets leave in one writev, without being copied into one buffer first.
    socket.cork();
    for (const packet of packets) socket.write(packet);
    socket.uncork();
  }

  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.paused = false;
    this.lastHeard = Date.now();
    this.socket?.resume();
  }

  async end(options: { endSession?: boolean } = {}): Promise<void> {
    this.ending = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const socket = this.socket;
    if (!socket) return;
    this.flush();
    socket.resume(); // to read the broker's side closing
    // A broker that does not close its side within 2 s is not waited for.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 2000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end(disconnectPacket(this.protocolVersion, options.endSession === true));
    });
  }

  destroy(): void {
    this.ending = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.socket?.destroy();
  }
}
