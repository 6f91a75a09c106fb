/**
 * sunoye's own QoS 1 publisher for mqtt:// and mqtts:// brokers: `publish` needs nothing else of
 * MQTT, and doing just this is several times cheaper per message than a general client, and keeps
 * that client's start-up cost off every `publish`. It connects like connectBroker (MQTT 5, then
 * 3.1.1 when the broker refuses 5; the same one-line failures), writes each turn of the event loop's
 * packets in one system call, and after a lost connection reconnects with backoff and sends again,
 * marked as duplicates, the messages not yet acknowledged (listeners drop copies by their id).
 * WebSocket URLs use the general client through the same interface (see `openPublisher`).
 */
import { randomBytes } from 'node:crypto';
import { isIP, connect as tcpConnect, type Socket } from 'node:net';
import type { connect as TlsConnect } from 'node:tls';
import { redactUrl } from '../db/url.js';
import { UnavailableError } from '../errors.js';
import type { BrokerSettings } from './connect.js';
import { describeFailure } from './failure.js';
import {
  CONNACK,
  DISCONNECT,
  DISCONNECT_PACKET,
  PINGREQ_PACKET,
  PUBACK,
  PacketReader,
  connackProperties,
  connectPacket,
  markDuplicate,
  PacketPool,
  publishPacket,
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

const CONNECT_TIMEOUT_MS = 10_000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 8000;

type Failure = Error & { code?: string | number };

/** Opens a connection: this module's publisher for mqtt(s)/tcp/ssl, MQTT.js for WebSockets. */
export async function openPublisher(settings: BrokerSettings): Promise<QosPublisher> {
  if (/^(mqtt|mqtts|tcp|ssl):/.test(settings.url)) return LeanPublisher.open(settings);
  const { libraryPublisher } = await import('./library-publisher.js');
  return libraryPublisher(settings);
}

interface Pending {
  packet: Buffer;
  onAck: AckCallback;
  sent: boolean;
  /** The packet's memory came from the pool and goes back to it on PUBACK. */
  pooled: boolean;
}

class LeanPublisher implements QosPublisher {
  receiveMaximum = 65_535;
  maximumPacketSize = Infinity;
  private socket: Socket | undefined;
  private version: 4 | 5 = 5;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private outgoing: Buffer[] = [];
  private flushScheduled = false;
  private wroteSince = false;
  private lastHeard = 0;
  private ending = false;
  private backoff = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly topics = new Map<string, Buffer>();
  private readonly pool = new PacketPool();
  private readonly clientId = `sunoye-p-${randomBytes(8).toString('hex')}`;
  private tlsConnect: typeof TlsConnect | undefined;

  private constructor(private readonly settings: BrokerSettings) {}

  static async open(settings: BrokerSettings): Promise<LeanPublisher> {
    const publisher = new LeanPublisher(settings);
    // TLS is loaded only for mqtts:// (it is a good part of a start otherwise).
    if (/^(mqtts|ssl):/.test(settings.url))
      publisher.tlsConnect = process.getBuiltinModule('node:tls').connect;
    try {
      try {
        await publisher.connect();
      } catch (err) {
        const code = (err as Failure).code;
        if (code !== 1 && code !== 132) throw err; // unsupported protocol version
        publisher.version = 4;
        await publisher.connect();
      }
    } catch (err) {
      throw new UnavailableError(
        `cannot connect to the broker ${redactUrl(settings.url)}: ${describeFailure(err as Failure)}`,
        { cause: err },
      );
    }
    return publisher;
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
        CONNECT_TIMEOUT_MS,
      );
      const reader = new PacketReader();
      socket.once(tls ? 'secureConnect' : 'connect', () =>
        socket.write(connectPacket(this.settings, this.version, this.clientId)),
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
        let packets: [number, Buffer][];
        try {
          packets = reader.push(chunk);
        } catch (err) {
          if (!settled) fail(err as Failure);
          else socket.destroy();
          return;
        }
        for (const [type, body] of packets) {
          if (!settled) {
            if (type !== CONNACK) return fail(new Error('the broker did not answer with CONNACK'));
            const code = body[1] ?? 0;
            if (code !== 0) {
              return fail(Object.assign(new Error(`connection refused, code ${code}`), { code }));
            }
            settled = true;
            clearTimeout(timer);
            const properties = this.version === 5 ? connackProperties(body) : {};
            this.receiveMaximum = properties.receiveMaximum ?? 65_535;
            this.maximumPacketSize = properties.maximumPacketSize ?? Infinity;
            this.up(socket, properties.serverKeepAlive ?? this.settings.keepaliveSeconds);
            resolve();
          } else if (type === PUBACK) {
            this.acknowledged(body);
          } else if (type === DISCONNECT) {
            socket.destroy();
          }
        }
      });
    });
  }

  /** Connected: send again whatever is unacknowledged, and keep the connection alive. */
  private up(socket: Socket, keepaliveSeconds: number): void {
    this.socket = socket;
    this.backoff = RECONNECT_MIN_MS;
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
          if (Date.now() - this.lastHeard > keepaliveSeconds * 1500) socket.destroy();
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
    const id = body.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    // Acknowledged, so the broker has it all: the socket is done with these bytes.
    if (p.pooled) this.pool.give(p.packet);
    const code = this.version === 5 && body.length > 2 ? body[2]! : 0;
    if (code < 0x80) p.onAck();
    else
      p.onAck(Object.assign(new Error(`the broker refused the message, code ${code}`), { code }));
  }

  publish(topic: string, payload: string, onAck: AckCallback): void {
    let topicBytes = this.topics.get(topic);
    if (!topicBytes) this.topics.set(topic, (topicBytes = Buffer.from(topic, 'utf8')));
    while (this.pending.has(this.nextId)) this.nextId = (this.nextId % 65_535) + 1;
    const id = this.nextId;
    this.nextId = (this.nextId % 65_535) + 1;
    const packet = publishPacket(this.version, topicBytes, id, payload, this.pool);
    const connected = this.socket !== undefined;
    this.pending.set(id, { packet, onAck, sent: connected, pooled: true });
    if (connected) {
      this.outgoing.push(packet);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
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

  async end(): Promise<void> {
    this.ending = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const socket = this.socket;
    if (!socket) return;
    this.flush();
    // A broker that does not close its side within 2 s is not waited for.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 2000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end(DISCONNECT_PACKET);
    });
  }

  destroy(): void {
    this.ending = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.socket?.destroy();
  }
}
