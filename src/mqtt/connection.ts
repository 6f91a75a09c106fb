/**
 * The broker connection of every sunoye program, for every URL (mqtt://, mqtts://, ws://, wss://),
 * on MQTT.js. sunoye encodes and decodes no MQTT packet itself; this module decides how the
 * client is built and what it does when the broker misbehaves:
 *
 * - Built the cheap way: an `MqttClient` with a stream builder for the one transport in use (a
 *   TCP or TLS socket; MQTT.js's WebSocket builder, loaded only for ws:// and wss://), and
 *   `writeCache: false` (the default builds 65,536 small buffers on the first write).
 * - MQTT 5 first, 3.1.1 when the broker refuses 5 (by CONNACK, or by closing the connection),
 *   and that answer remembered per broker; or the version the user chose. The first connection
 *   is tried again with backoff while the broker refuses it or is not up, and either succeeds or
 *   fails with one clear line within the connect timeout; refused credentials end it at once.
 * - Once connected, it reconnects with backoff and its session; a reconnect the broker refuses for
 *   credentials or authorization, a session taken over by another client, and a broker that keeps
 *   closing the connection right after accepting it end the connection for good (`onFatal`)
 *   instead of a reconnect loop. A reconnect without the session is reported (`onSessionLost`).
 * - Every publish is checked against the broker's Maximum Packet Size before it is sent, and the
 *   CONNECT announces sunoye's own, so brokers drop oversize junk before it reaches a listener.
 * - The CONNECT opens the window of unacknowledged messages the broker may send us (MQTT 5
 *   Receive Maximum) as wide as MQTT allows, so a burst streams instead of waiting on round trips,
 *   and a stock mosquitto does not drop past its small queue while a listener keeps up.
 * - A reader that cannot keep up holds MQTT.js's `handleMessage` callback (`pause`): MQTT.js then
 *   reads nothing more, the broker keeps the messages, and pings keep the connection alive.
 * - Packets written in one turn of the event loop leave in one system call (the socket is corked
 *   until the loop turns), which is most of the cost of a burst of publishes or acknowledgements.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MqttClient,
  type IClientOptions,
  type IConnackPacket,
  type IDisconnectPacket,
  type IPublishPacket,
} from 'mqtt';
import {
  InterruptedError,
  RefusedError,
  SunoyeError,
  UnavailableError,
  UsageError,
} from '../errors.js';
import { addressUrl, brokerAddress, brokerUrls } from '../broker-url.js';
import { redactUrl } from '../redact.js';
import { describeFailure, failureWords, isSilence } from './failure.js';
import { MAX_PACKET_BYTES } from './packet-limit.js';

/** How to reach the broker (resolved from flags, environment and config). */
export interface BrokerSettings {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** PEM contents of the CA, client certificate and key for mqtts:// and wss://. */
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  keepaliveSeconds: number;
  /** The MQTT version chosen (4: 3.1.1); undefined: 5, or 3.1.1 where the broker refuses 5. */
  mqttVersion?: 4 | 5 | undefined;
  /** How long the first connection may take, retries included (default 10 s). */
  connectTimeoutMs?: number | undefined;
  /** Where the version each broker takes is remembered between runs. */
  versions?: VersionMemory | undefined;
}

/** The MQTT version each broker takes, kept between runs; brokers are named by `brokerKey`. */
export interface VersionMemory {
  recall(broker: string): 4 | 5 | undefined;
  remember(broker: string, version: 4 | 5): void;
}

/** One connection's identity and session. */
export interface ConnectOptions {
  clientId: string;
  /** false: a session kept across reconnects (and ended when the program ends normally). */
  clean: boolean;
  will?: { topic: string; payload: string } | undefined;
  /** How long the first connection may take, retries included (default: the settings'). */
  connectTimeoutMs?: number;
  /** Ctrl-C: gives up connecting at once. */
  signal?: AbortSignal | undefined;
  /** Told once, when the first connection failed and is tried again (a line, no newline). */
  onRetry?: ((line: string) => void) | undefined;
}

/** Called once per message: no error when the broker acknowledged it. */
export type AckCallback = (err?: Error & { code?: number }) => void;

/** What `publish` needs of a broker connection. */
export interface QosPublisher {
  /** How many unacknowledged messages the broker accepts from us now (MQTT 5 Receive Maximum). */
  readonly receiveMaximum: number;
  /** The largest packet the broker accepts (MQTT 5 Maximum Packet Size; unlimited if unsaid). */
  readonly maximumPacketSize: number;
  /** The largest payload a QoS 1 PUBLISH on `topic` may carry for this broker. */
  maxPayload(topic: string): number;
  publish(topic: string, payload: string, onAck: AckCallback): void;
  /** The connection ended for good (taken over, refused, the broker keeps closing it). */
  onFatal: ((err: SunoyeError) => void) | undefined;
  /**
   * Disconnects cleanly (after what was written), within half a second. With `exiting` (the
   * process ends right after), done once the DISCONNECT and the end of our side of the socket
   * are handed to the system, which delivers them whether the process is still there or not,
   * rather than once the broker has closed its side too.
   */
  end(options?: { exiting?: boolean }): Promise<void>;
  /** Drops the connection at once. */
  destroy(): void;
}

/** Receives one message; `retained`: the broker kept it (an old message, not a live one). */
export type MessageReceiver = (topic: string, payload: Buffer, retained: boolean) => void;

/** What `listen` needs besides: a subscription, the messages, and word of the connection. */
export interface ChatConnection extends QosPublisher {
  readonly protocolVersion: 4 | 5;
  /** Whether the broker had kept a session for this client id (the last CONNACK's flag). */
  readonly sessionPresent: boolean;
  /** With a broker list (a cluster): the node in use (`host:port`); undefined with one broker. */
  readonly via: string | undefined;
  /**
   * Subscribes at QoS 1, now and after every reconnect without the session. Resolves with the
   * SUBACK's codes: 0-2 granted, 0x80 and above refused. `noLocal`: not our own messages (MQTT 5;
   * under 3.1.1 they still come). `retained`: the broker's retained message too (always under
   * 3.1.1), marked as such, for a listener that must say it dropped one.
   */
  subscribe(topic: string, options?: { noLocal?: boolean; retained?: boolean }): Promise<number[]>;
  /** Receives every message; those that arrive before it is set wait for it (unacknowledged). */
  onMessage: MessageReceiver | undefined;
  /** An established connection was lost (the client reconnects by itself). */
  onOffline: (() => void) | undefined;
  /** A reconnect found no session on the broker: messages sent meanwhile may be missing. */
  onSessionLost: (() => void) | undefined;
  /** A lost connection is back. */
  onReconnect: (() => void) | undefined;
  /** Disconnects cleanly; `endSession` also ends a kept session; `exiting`: see QosPublisher. */
  end(options?: { endSession?: boolean; exiting?: boolean }): Promise<void>;
  /** Stops taking messages (the broker keeps them; the connection is kept alive) until `resume`. */
  pause(): void;
  resume(): void;
}

/** How long a kept session outlives its connection (MQTT 5 Session Expiry Interval). */
export const SESSION_EXPIRY_SECONDS = 3600;
/** How long the first connection may take, unless a caller says otherwise. */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * With a broker list: how long messages may wait for any acknowledgement on a live connection
 * before the node is left for the next. A cluster node can take QoS 1 messages while its cluster
 * elects leaders and then never acknowledge them, and MQTT sends unacknowledged messages again
 * only on a new connection. Longer than QUICK_CLOSE_MS, so never taken for a fight.
 */
const ACK_STALL_MS = 6000;
/** The least time one node of a broker list gets to answer a CONNECT. */
const MIN_NODE_CONNECT_MS = 1000;
/** Reconnect backoff: from this, doubling up to the maximum; reset by every connect. */
export const RECONNECT_MIN_MS = 250;
export const RECONNECT_MAX_MS = 8000;
/**
 * The longest wait between two rounds of a broker list: a cluster that lost a node refuses
 * connections only while it elects leaders (about 4 s on NATS), so a round every 2 s at most
 * finds it back soon after, where doubling to 8 s cost up to 8 s more.
 */
export const RECONNECT_MAX_LIST_MS = 2000;
/** The largest packet sunoye accepts, announced in the CONNECT (see `MAX_PACKET_BYTES`). */
export const OWN_MAXIMUM_PACKET_SIZE = MAX_PACKET_BYTES;
/**
 * How many QoS 1 messages the broker may send us before we acknowledge any (MQTT 5 Receive
 * Maximum, announced in the CONNECT): the most MQTT allows. Left unsaid, mosquitto keeps its own
 * `max_inflight_messages` (20 by default) in flight and queues the rest, up to its
 * `max_queued_messages` (1000), dropping what comes beyond: a burst of a few thousand messages
 * from a fast publisher then loses messages whenever the listener answers a round trip late
 * (scheduling on a busy machine), although it reads far faster than the burst comes. With the
 * window open, the broker streams what it holds instead of waiting for acknowledgements, and a
 * paused reader (see `pause`) leaves them in the socket and the broker, not in our memory.
 */
export const OWN_RECEIVE_MAXIMUM = 65_535;
/** A connection the broker closes this soon after accepting it counts towards a fight. */
const QUICK_CLOSE_MS = 5000;
/**
 * This many quick closes in a row from one broker: another client holds our id, or the broker
 * rejects us. With a broker list, this many rounds of the list: a cluster that lost a node
 * accepts connections and closes them again while it elects leaders (about 4 s on NATS), on
 * every node in turn, and that is no fight.
 */
const QUICK_CLOSES_FATAL = 3;
/** How long a clean disconnect may take before the socket is dropped. */
const END_TIMEOUT_MS = 500;

type Failure = Error & { code?: string | number };

/** CONNACK codes that another attempt with the same credentials cannot change. */
const REFUSED_FOR_GOOD = new Set([4, 5, 0x86, 0x87, 0x8a, 0x8c]);

/** A client id the broker must accept under MQTT 3.1.1: 23 characters of [0-9a-zA-Z]. */
export function randomClientId(kind: 'l' | 'p' | 'c'): string {
  return `sunoye${kind}${randomBytes(8).toString('hex')}`;
}

type StreamBuilder = (client: MqttClient) => Duplex;

/** The stream builder for the broker URL's transport: only that transport's code is loaded. */
async function streamBuilderFor(node: string, settings: BrokerSettings): Promise<StreamBuilder> {
  const url = new URL(node);
  const scheme = url.protocol.slice(0, -1);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (scheme === 'ws' || scheme === 'wss') {
    const { webSocketBuilder } = await import('./websocket.js');
    return webSocketBuilder(url, settings);
  }
  if (scheme === 'mqtts' || scheme === 'ssl') {
    const { connect } = process.getBuiltinModule('node:tls');
    const { isIP } = process.getBuiltinModule('node:net');
    const port = Number(url.port || 8883);
    return () =>
      connect({
        host: hostname,
        port,
        ca: settings.ca,
        cert: settings.cert,
        key: settings.key,
        servername: isIP(hostname) ? undefined : hostname,
      }).setNoDelay(true);
  }
  const { connect } = process.getBuiltinModule('node:net');
  const port = Number(url.port || 1883);
  return () => connect({ host: hostname, port }).setNoDelay(true);
}

function clientOptions(
  settings: BrokerSettings,
  options: ConnectOptions,
  version: 4 | 5,
  connectTimeoutMs: number,
): IClientOptions {
  // MQTT 3.1.1 forbids it, and MQTT.js sends it under neither version.
  if (settings.password !== undefined && settings.username === undefined) {
    throw new UsageError(
      'a broker password needs a user name (MQTT 3.1.1 takes no password without one); set SUNOYE_BROKER_USER or put the user in the broker URL',
    );
  }
  return {
    protocolVersion: version,
    clientId: options.clientId,
    clean: options.clean,
    keepalive: settings.keepaliveSeconds,
    connectTimeout: connectTimeoutMs,
    reconnectPeriod: 0, // no retry until the first connection succeeded
    reconnectOnConnackError: true, // transient refusals are retried; the others end it (below)
    // Subscribed again by `Connection` itself, before anything published meanwhile goes out.
    resubscribe: false,
    writeCache: false,
    // Pings on the keepalive's own schedule: by default MQTT.js stops and starts its keepalive
    // timer again at every acknowledgement, which costs `publish` two timer operations a line
    // in a plain room (a message a line). The broker sees a ping each keepalive period instead.
    reschedulePings: false,
    username: settings.username,
    password: settings.password,
    ...(version === 5
      ? {
          properties: {
            maximumPacketSize: OWN_MAXIMUM_PACKET_SIZE,
            receiveMaximum: OWN_RECEIVE_MAXIMUM,
            ...(options.clean ? {} : { sessionExpiryInterval: SESSION_EXPIRY_SECONDS }),
          },
        }
      : {}),
    ...(options.will
      ? {
          will: {
            topic: options.will.topic,
            payload: Buffer.from(options.will.payload),
            qos: 1,
            retain: false,
          },
        }
      : {}),
  };
}

/** One node of the broker: its stream builder, and how messages name it. */
interface BrokerNode {
  build: StreamBuilder;
  /** The URL, credentials redacted. */
  label: string;
  /** `host:port` for mqtt://, the URL otherwise: where a reconnect went. */
  via: string;
  /** As its MQTT version is remembered. */
  key: string;
}

/**
 * The nodes of a broker (one, or a cluster's), taken in turn the way MQTT.js's `servers` option
 * takes them: every new stream goes to the node after the last one's. MQTT.js does that only
 * for the streams it builds itself, so the same rotation is done here around sunoye's builders.
 */
class NodeRing {
  /** The node of the last stream built. */
  current = 0;
  /** The node the next stream goes to. */
  next = 0;
  /** The node of the last successful connection. */
  connected = 0;

  /**
   * @param nodeTimeoutMs how long one node of several may take to answer a CONNECT: its share of
   *   the connect timeout, so that a node that accepts the connection and never answers leaves
   *   time to try the others (with one node, the whole timeout)
   */
  constructor(
    readonly nodes: BrokerNode[],
    readonly nodeTimeoutMs: number,
  ) {}

  get size(): number {
    return this.nodes.length;
  }

  get node(): BrokerNode {
    return this.nodes[this.current]!;
  }

  /** The stream builder MQTT.js calls for every connection, the first and every reconnect. */
  readonly build: StreamBuilder = (client) => {
    this.current = this.next;
    this.next = (this.next + 1) % this.nodes.length;
    return this.nodes[this.current]!.build(client);
  };
}

/** One connection attempt to node `index`: resolves on a successful CONNACK, rejects with the reason. */
function attempt(
  ring: NodeRing,
  index: number,
  opts: IClientOptions,
  options: ConnectOptions,
): Promise<Connection> {
  const signal = options.signal;
  return new Promise((resolve, reject) => {
    ring.next = index;
    const client = new MqttClient(ring.build, opts);
    // Wrapped at once: a message may come with the CONNACK, before the attempt is over.
    const connection = new Connection(client, ring, opts.protocolVersion === 4 ? 4 : 5, options);
    let settled = false;
    const fail = (err: Failure): void => {
      if (settled) return;
      settled = true;
      cleanup();
      client.on('error', () => undefined);
      client.end(true);
      reject(err);
    };
    // MQTT.js's own connack timer ends the attempt; this one is a backstop for a stuck stream.
    const timer = setTimeout(
      () => fail(Object.assign(new Error('timed out connecting'), { code: 'ETIMEDOUT' })),
      (opts.connectTimeout ?? CONNECT_TIMEOUT_MS) + 500,
    );
    const onClose = (): void =>
      fail(Object.assign(new Error('the broker closed the connection'), { code: 'ECONNRESET' }));
    const onAbort = (): void =>
      fail(Object.assign(new Error('interrupted while connecting'), { code: 'ABORT_ERR' }));
    const cleanup = (): void => {
      clearTimeout(timer);
      client.removeListener('error', fail);
      client.removeListener('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };
    client.once('connect', () => {
      if (settled) return;
      settled = true;
      cleanup();
      connection.activate();
      resolve(connection);
    });
    client.on('error', fail);
    client.on('close', onClose);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** CONNACK codes of a broker that does not speak the version asked (3.1.1: 1; MQTT 5: 0x84). */
function refusesVersion(err: Failure): boolean {
  return err.code === 1 || err.code === 0x84;
}

/** The broker closed (or reset) the connection after our CONNECT, without any CONNACK. */
function closedWithoutConnack(err: Failure): boolean {
  return err.code === 'ECONNRESET' || err.code === 'EPIPE';
}

/** CONNACK codes that may be gone a moment later: unavailable, busy, over quota or rate. */
const REFUSED_FOR_NOW = new Set([3, 0x80, 0x88, 0x89, 0x97, 0x9f]);
/** Network failures that a broker starting or recovering gives. */
const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
]);

/** Whether another attempt at the first connection may succeed where this one failed. */
function worthRetrying(err: Failure): boolean {
  if (typeof err.code === 'number') return REFUSED_FOR_NOW.has(err.code);
  if (typeof err.code === 'string') return TRANSIENT.has(err.code);
  return err.message === 'connack timeout';
}

/**
 * The part of a node's connect time an MQTT 5 CONNECT gets in automatic mode before it is asked
 * again under 3.1.1: a quarter (2.5 s of the default 10 s), at least a second where there is
 * time for both. Brokers answer in milliseconds; some never answer a version they do not speak.
 */
export function v5Share(nodeTimeoutMs: number): number {
  return Math.max(Math.floor(nodeTimeoutMs / 4), Math.min(1000, Math.floor(nodeTimeoutMs / 2)));
}

/** First-connection retries: from this, doubling up to the maximum, within the connect timeout. */
export const FIRST_RETRY_MIN_MS = 250;
export const FIRST_RETRY_MAX_MS = 2000;

/** The broker as its MQTT version is remembered: scheme://host:port, without credentials. */
export function brokerKey(url: string): string {
  const address = brokerAddress(url);
  return address ? addressUrl(address) : url;
}

/** The message of a broker that refused the version the user chose. */
function versionRefusal(label: string, version: 4 | 5, err: Failure): UnavailableError {
  const name = version === 5 ? '5' : '3.1.1';
  return new UnavailableError(
    `the broker ${label} does not take MQTT ${name} (it refused it); leave --mqtt-version unset to use what it takes`,
    { cause: err },
  );
}

/**
 * Connects, or throws one clear line: exit 4 for the broker, 2 for settings, 130 for Ctrl-C.
 * MQTT 5 unless chosen otherwise; a broker that refuses 5, by its CONNACK or by closing the
 * connection, is asked again under 3.1.1 and the answer remembered (`settings.versions`). A
 * broker that refuses the connection or is not up yet is tried again, with backoff, until the
 * connect timeout; a refusal for credentials or authorization ends it at once.
 */
export async function openConnection(
  settings: BrokerSettings,
  options: ConnectOptions,
): Promise<ChatConnection> {
  const urls = brokerUrls(settings.url);
  const label = urls.map(redactUrl).join(',');
  const timeoutMs = options.connectTimeoutMs ?? settings.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const ring = new NodeRing(
    await Promise.all(
      urls.map(async (url) => {
        const parsed = new URL(url);
        return {
          build: await streamBuilderFor(url, settings),
          label: redactUrl(url),
          via:
            parsed.protocol === 'mqtt:' || parsed.protocol === 'tcp:'
              ? parsed.host
              : redactUrl(url),
          key: brokerKey(url),
        };
      }),
    ),
    urls.length > 1
      ? Math.max(MIN_NODE_CONNECT_MS, Math.floor(timeoutMs / urls.length))
      : timeoutMs,
  );
  const fixed = settings.mqttVersion;
  const deadline = Date.now() + timeoutMs;
  /** Asks node `index` under `version`, for at most `limitMs` (its share of the timeout). */
  const tryVersion = (index: number, version: 4 | 5, limitMs = ring.nodeTimeoutMs) =>
    attempt(
      ring,
      index,
      clientOptions(
        settings,
        options,
        version,
        Math.max(Math.min(deadline - Date.now(), limitMs), 250),
      ),
      options,
    );
  /** The version each node is asked first: the one chosen, or remembered, or 5. */
  const firsts = ring.nodes.map((node): 4 | 5 => {
    if (fixed !== undefined) return fixed;
    try {
      return settings.versions?.recall(node.key) ?? 5;
    } catch {
      return 5; // a cache: an unreadable one is empty
    }
  });
  /** One node's round: its usual version, then the other when the broker refuses it. */
  const round = async (index: number): Promise<Connection> => {
    const node = ring.nodes[index]!;
    const usual = fixed === undefined ? firsts[index]! : fixed;
    const first = firsts[index]!;
    // Some brokers never answer an MQTT 5 CONNECT: in automatic mode, 5 gets a share of the
    // time, and silence then is asked again under 3.1.1 with the rest.
    const probing = fixed === undefined && first === 5;
    try {
      return await tryVersion(index, first, probing ? v5Share(ring.nodeTimeoutMs) : undefined);
    } catch (err) {
      const failure = err as Failure;
      if (fixed !== undefined && refusesVersion(failure))
        throw versionRefusal(node.label, fixed, failure);
      const refused = refusesVersion(failure);
      const closed = first === 5 && (closedWithoutConnack(failure) || isSilence(failure));
      if (fixed !== undefined || !(refused || closed)) throw err;
      if (deadline - Date.now() <= 0) throw err;
      const other = first === 5 ? 4 : 5;
      // A refusal by CONNACK is the broker's answer; a closed connection may have been chance.
      if (refused) firsts[index] = other;
      const connection = await tryVersion(index, other);
      if (other !== usual) {
        try {
          settings.versions?.remember(node.key, other);
        } catch {
          // a cache: the next start asks again
        }
      }
      return connection;
    }
  };
  /** One pass over the nodes, the first that accepts; throws the failure worth telling. */
  const pass = async (): Promise<Connection> => {
    let failure: unknown;
    for (let index = 0; index < ring.size; index += 1) {
      try {
        return await round(index);
      } catch (err) {
        // Credentials, authorization, a version refused: every node of one broker says the same.
        if (err instanceof SunoyeError || (err as Failure).code === 'ABORT_ERR') throw err;
        if (typeof (err as Failure).code === 'number' && !worthRetrying(err as Failure)) throw err;
        if (failure === undefined || !worthRetrying(failure as Failure)) failure = err;
        if (deadline - Date.now() <= 0) break;
      }
    }
    throw failure;
  };
  try {
    let backoff = FIRST_RETRY_MIN_MS;
    for (;;) {
      try {
        return await pass();
      } catch (err) {
        if (err instanceof SunoyeError || !worthRetrying(err as Failure)) throw err;
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw err;
        if (backoff === FIRST_RETRY_MIN_MS) {
          const { reason, advice } = failureWords(err as Failure);
          options.onRetry?.(
            `cannot reach the broker ${label} yet: ${reason}; trying again for up to ${Math.ceil(remaining / 1000)} s` +
              (advice === undefined ? '' : ` (${advice})`),
          );
        }
        await sleep(Math.min(backoff, remaining), undefined, { signal: options.signal });
        backoff = Math.min(backoff * 2, FIRST_RETRY_MAX_MS);
      }
    }
  } catch (err) {
    if (err instanceof SunoyeError) throw err;
    if ((err as Failure).code === 'ABORT_ERR')
      throw new InterruptedError('interrupted while connecting to the broker');
    const failure = err as Failure;
    let words = describeFailure(failure);
    if (fixed === 5 && closedWithoutConnack(failure))
      words += '; a broker that speaks only MQTT 3.1.1 may do that: try --mqtt-version 3.1.1';
    else if (fixed === undefined && isSilence(failure))
      words =
        `${failureWords(failure).reason}, under MQTT 5 or 3.1.1; is this an MQTT broker? ` +
        'If it is a slow one, --mqtt-version 5 (or 3.1.1) gives that version the whole timeout';
    throw new UnavailableError(`cannot connect to the broker ${label}: ${words}`, { cause: err });
  }
}

/** A connection for `publish`: a clean session under a random client id. */
export function openPublisher(
  settings: BrokerSettings,
  signal?: AbortSignal,
  onRetry?: (line: string) => void,
): Promise<ChatConnection> {
  return openConnection(settings, { clientId: randomClientId('p'), clean: true, signal, onRetry });
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

function varintLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

class Connection implements ChatConnection {
  onMessage_: MessageReceiver | undefined;
  onOffline: (() => void) | undefined;
  onSessionLost: (() => void) | undefined;
  onReconnect: (() => void) | undefined;
  private fatalListener: ((err: SunoyeError) => void) | undefined;
  /** Why the connection ended for good, kept for a listener that comes later. */
  private fatalError: SunoyeError | undefined;
  private connack: IConnackPacket = { cmd: 'connack', sessionPresent: false };
  /** Past the first connection: from then on, it reconnects. */
  private active = false;
  private paused = false;
  /** MQTT.js's go-ahead for the next packet, held while paused or while nobody listens. */
  private held: ((err?: Error) => void) | undefined;
  /** A message that arrived before anyone listened (MQTT.js reads no further until it is taken). */
  private early: { topic: string; payload: Buffer; retained: boolean } | undefined;
  private pinger: NodeJS.Timeout | undefined;
  /** QoS 1 messages sent and not yet acknowledged, and when the last acknowledgement came. */
  private unacked = 0;
  private ackedAt = 0;
  /** When the last CONNACK came (MQTT.js sends what waits again before its `connect` event). */
  private connackAt = 0;
  private ackWatch: NodeJS.Timeout | undefined;
  private corked = false;
  private ending = false;
  private connectedAt = Date.now();
  private quickCloses = 0;
  /** The last error of the current connection, to tell why it closed. */
  private lastError: Failure | undefined;
  private backoff = RECONNECT_MIN_MS;
  /** What was subscribed to: subscribed again after a reconnect that found no session. */
  private readonly subscriptions = new Map<string, { noLocal: boolean }>();
  /**
   * False from a lost connection until the next one is back and subscribed again: messages
   * published meanwhile wait here (`waiting`), and go out after the subscriptions.
   */
  private ready = true;
  private waiting: { topic: string; payload: string; done: (err: Error | undefined) => void }[] =
    [];
  /** Counts connections, so that the subscriptions made again for an earlier one are ignored. */
  private generation = 0;

  constructor(
    private readonly client: MqttClient,
    private readonly ring: NodeRing,
    readonly protocolVersion: 4 | 5,
    private readonly options: ConnectOptions,
  ) {
    client.handleMessage = (_packet: IPublishPacket, callback: (err?: Error) => void) => {
      if (this.paused || !this.onMessage_) this.held = callback;
      else callback();
    };
    client.on('message', (topic, payload, packet) => {
      const retained = packet.retain === true;
      if (this.onMessage_) this.onMessage_(topic, payload, retained);
      else this.early = { topic, payload, retained };
    });
    client.on('packetreceive', (packet) => {
      this.cork();
      // The broker's limits count from its CONNACK, before MQTT.js resends what was pending.
      if (packet.cmd === 'connack') {
        this.connack = packet;
        this.connackAt = Date.now();
      }
    });
    client.on('connect', (packet) => this.connected(packet));
    client.on('disconnect', (packet) => this.disconnected(packet));
    client.on('offline', () => this.onOffline?.());
    client.on('error', (err) => this.failed(err));
    // Runs before MQTT.js's own close handler, which arms its reconnect timer with the period.
    client.prependListener('close', () => this.closed());
  }

  /** The first connection succeeded: reconnect from now on. */
  activate(): void {
    this.active = true;
    this.client.options.reconnectPeriod = this.backoff;
    // Every reconnect gives a node its share of the time, as the first connection did.
    if (this.ring.size > 1) this.client.options.connectTimeout = this.ring.nodeTimeoutMs;
  }

  /** The broker node in use, as messages name it. */
  private get label(): string {
    return this.ring.node.label;
  }

  get via(): string | undefined {
    return this.ring.size > 1 ? this.ring.node.via : undefined;
  }

  get onFatal(): ((err: SunoyeError) => void) | undefined {
    return this.fatalListener;
  }

  set onFatal(listener: ((err: SunoyeError) => void) | undefined) {
    this.fatalListener = listener;
    if (listener && this.fatalError) listener(this.fatalError);
  }

  get sessionPresent(): boolean {
    return this.connack.sessionPresent;
  }

  get receiveMaximum(): number {
    return this.connack.properties?.receiveMaximum ?? 65_535;
  }

  get maximumPacketSize(): number {
    return this.connack.properties?.maximumPacketSize ?? Infinity;
  }

  maxPayload(topic: string): number {
    const limit = this.maximumPacketSize;
    if (limit === Infinity) return Infinity;
    // Fixed header (1 + up to 4), topic (2 + bytes), packet id (2), MQTT 5 properties length (1).
    const overhead = 1 + 2 + Buffer.byteLength(topic) + 2 + (this.protocolVersion === 5 ? 1 : 0);
    let payload = limit - overhead - 1;
    while (payload > 0 && overhead + payload + varintLength(overhead - 1 + payload) > limit)
      payload -= 1;
    return Math.max(0, payload);
  }

  get onMessage(): MessageReceiver | undefined {
    return this.onMessage_;
  }

  set onMessage(receiver: MessageReceiver | undefined) {
    this.onMessage_ = receiver;
    if (!receiver) return;
    const early = this.early;
    this.early = undefined;
    if (early) receiver(early.topic, early.payload, early.retained);
    if (!this.paused) this.release();
  }

  private release(): void {
    const go = this.held;
    this.held = undefined;
    go?.();
  }

  /** Holds the socket's writes until the event loop turns, so they leave in one system call. */
  private cork(): void {
    if (this.corked) return;
    const stream = this.client.stream as Partial<Duplex> | undefined;
    if (!stream?.cork || !stream.uncork) return;
    this.corked = true;
    stream.cork();
    setImmediate(() => {
      this.corked = false;
      stream.uncork!();
    });
  }

  private connected(connack: IConnackPacket): void {
    this.connack = connack;
    this.connectedAt = Date.now();
    this.ring.connected = this.ring.current;
    this.lastError = undefined;
    this.backoff = RECONNECT_MIN_MS;
    if (!this.active) return;
    this.client.options.reconnectPeriod = this.backoff;
    if (!this.options.clean && !connack.sessionPresent) this.onSessionLost?.();
    this.resubscribe(connack.sessionPresent && !this.options.clean);
  }

  /**
   * After a reconnect: a broker that kept no session (it restarted, or the session is clean) has
   * no subscription of ours either. Subscribed again first, and only then what was published
   * while the connection was down goes out: else the broker takes a message before anyone
   * (the sender's own window among them) is subscribed again, and delivers it to nobody.
   * (MQTT.js's own resubscription comes after what it sends again from its store.)
   */
  private resubscribe(sessionKept: boolean): void {
    const generation = ++this.generation;
    const topics = sessionKept ? [] : [...this.subscriptions];
    let left = topics.length;
    const back = (): void => {
      if (generation !== this.generation || this.ending || !this.client.connected) return;
      this.ready = true;
      for (const m of this.waiting.splice(0)) this.send(m.topic, m.payload, m.done);
      this.onReconnect?.();
    };
    if (left === 0) return back();
    for (const [topic, { noLocal }] of topics)
      this.client.subscribe(topic, { qos: 1, rh: 2, nl: noLocal }, () => {
        left -= 1;
        if (left === 0) back();
      });
  }

  private disconnected(packet: IDisconnectPacket): void {
    if (!this.active) return;
    const code = packet.reasonCode ?? 0;
    if (code === 0x8e) {
      this.fatal(
        new RefusedError(
          'this session was taken over by another client with the same id; stopping (nothing else reconnects as this listener)',
        ),
      );
    } else if (code === 0x95) {
      this.fatal(
        new UnavailableError(
          `the broker ${this.label} dropped us for a packet larger than it takes`,
        ),
      );
    }
  }

  private failed(err: Failure): void {
    this.lastError = err;
    if (this.ending || !this.active) return;
    // MQTT.js reports a packet it cannot parse and reads on: this connection cannot be trusted
    // any more (it is made anew, and the broker sends again what was not acknowledged).
    if (err.code === undefined && !this.client.stream.destroyed) this.client.stream.destroy();
    if (typeof err.code === 'number' && REFUSED_FOR_GOOD.has(err.code)) {
      this.fatal(
        new UnavailableError(
          `the broker ${this.label} refused to reconnect: ${describeFailure(err)}`,
          { cause: err },
        ),
      );
    }
  }

  private closed(): void {
    this.stopPinging();
    this.corked = false;
    if (this.active) this.ready = false;
    // The packets MQTT.js was working through belong to the lost connection: the broker sends
    // the messages again, and their go-ahead must not acknowledge anything on the next one.
    this.held = undefined;
    this.early = undefined;
    if (this.ending || !this.active) return;
    // A network failure or our own keepalive giving up is no sign of a fight; the broker closing
    // the connection, or breaking the protocol, right after accepting it is.
    const err = this.lastError;
    this.lastError = undefined;
    const network =
      err !== undefined && (typeof err.code === 'string' || /keepalive/i.test(err.message));
    const quick = Date.now() - this.connectedAt < QUICK_CLOSE_MS && !network;
    this.quickCloses = quick ? this.quickCloses + 1 : 0;
    if (this.quickCloses >= QUICK_CLOSES_FATAL * this.ring.size) {
      this.fatal(
        err
          ? new UnavailableError(
              `the broker ${this.label} broke the protocol ${this.quickCloses} times in a row right after accepting the connection (${err.message})`,
            )
          : new RefusedError(
              `the broker ${this.label} closed this connection ${this.quickCloses} times right after accepting it: another client may be using the same id`,
            ),
      );
      return;
    }
    // Backoff: MQTT.js re-arms its timer with this period after this handler.
    const internal = this.client as unknown as { reconnectTimer?: NodeJS.Timeout | null };
    if (internal.reconnectTimer) {
      clearInterval(internal.reconnectTimer);
      internal.reconnectTimer = null;
    }
    // A cluster's other nodes are tried at once, one after the other; the backoff grows with
    // every round that comes back to the node last connected to.
    if (this.ring.size > 1 && this.ring.next !== this.ring.connected) {
      this.client.options.reconnectPeriod = RECONNECT_MIN_MS;
      return;
    }
    this.client.options.reconnectPeriod = this.backoff;
    this.backoff = Math.min(
      this.backoff * 2,
      this.ring.size > 1 ? RECONNECT_MAX_LIST_MS : RECONNECT_MAX_MS,
    );
  }

  private fatal(err: SunoyeError): void {
    if (this.ending) return;
    this.ending = true;
    this.stopPinging();
    this.client.end(true);
    this.fatalError = err;
    this.fatalListener?.(err);
  }

  subscribe(
    topic: string,
    options: { noLocal?: boolean; retained?: boolean } = {},
  ): Promise<number[]> {
    return new Promise((resolve, reject) => {
      // MQTT 5: the broker sends no retained message on subscribing (rh 2) unless asked; they
      // are old, and a listener asks only to say that it dropped one.
      const nl = options.noLocal === true;
      const rh = options.retained === true ? 0 : 2;
      this.subscriptions.set(topic, { noLocal: nl });
      this.client.subscribe(topic, { qos: 1, rh, nl }, (err, granted) => {
        if (err && !(granted && granted.length > 0)) reject(err);
        else resolve((granted ?? []).map((g) => g.qos));
      });
    });
  }

  publish(topic: string, payload: string, onAck: AckCallback): void {
    if (Buffer.byteLength(payload) > this.maxPayload(topic)) {
      const err = Object.assign(
        new Error(
          `the message is larger than the broker takes (packets of at most ${this.maximumPacketSize} bytes)`,
        ),
        { code: 0x95 },
      );
      setImmediate(() => onAck(err));
      return;
    }
    this.cork();
    if (this.unacked === 0) this.ackedAt = Date.now();
    this.unacked += 1;
    this.watchAcks();
    const done = (err: Error | undefined): void => {
      this.unacked -= 1;
      this.ackedAt = Date.now();
      if (this.unacked === 0) this.stopWatchingAcks();
      onAck(err);
    };
    // Connection down (or being set up again): sent once it is back and subscribed again.
    if (!this.ready && !this.ending) this.waiting.push({ topic, payload, done });
    else this.send(topic, payload, done);
  }

  /**
   * Publishes at QoS 1 until acknowledged. MQTT.js sends what it had written again on the next
   * connection, but what was still waiting its turn behind that (published while it was sending
   * them again after a reconnect) it fails with "Connection closed" if that connection is lost
   * too: such a message is handed to the client again, for the connection after, unless we are
   * ending. Listeners drop the copies.
   */
  private send(topic: string, payload: string, done: (err: Error | undefined) => void): void {
    this.client.publish(topic, payload, { qos: 1 }, (err) => {
      if (err?.message !== 'Connection closed' || this.ending || !this.active)
        return done(err ?? undefined);
      // Later, not now: MQTT.js fails them while it walks its queue, and a message queued again
      // at once would be walked, and failed, again, without end. Once it is done, a message
      // published while disconnected waits for the next connection (`waiting`).
      setImmediate(() => {
        if (this.ending) done(err);
        else if (!this.ready) this.waiting.push({ topic, payload, done });
        else this.send(topic, payload, done);
      });
    });
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    // Pings while paused: the broker's answers wait unread, but the broker sees us alive, and
    // MQTT.js's keepalive (which counts answers) does not take a paused reader for a dead broker.
    const keepalive = this.client.options.keepalive ?? 0;
    if (keepalive > 0) {
      this.pinger = setInterval(
        () => {
          if (!this.client.connected) return;
          this.client.sendPing();
          this.client.keepaliveManager?.reschedule();
        },
        (keepalive * 1000) / 2,
      );
      this.pinger.unref();
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.stopPinging();
    this.client.keepaliveManager?.reschedule();
    if (this.onMessage_) this.release();
  }

  private stopPinging(): void {
    clearInterval(this.pinger);
    this.pinger = undefined;
  }

  /**
   * With a broker list, leaves a node that has acknowledged nothing for ACK_STALL_MS while
   * messages wait (counted from the last acknowledgement, or from the CONNACK): the next node
   * gets them again, and listeners drop the copies.
   */
  private watchAcks(): void {
    if (this.ring.size < 2 || this.ackWatch !== undefined) return;
    this.ackWatch = setInterval(() => {
      if (this.ending || !this.active || !this.client.connected) return;
      if (Date.now() - Math.max(this.ackedAt, this.connackAt) <= ACK_STALL_MS) return;
      this.lastError = Object.assign(new Error(`no acknowledgement for ${ACK_STALL_MS / 1000} s`), {
        code: 'EACKSTALL',
      });
      this.client.stream.destroy();
    }, 500);
  }

  private stopWatchingAcks(): void {
    clearInterval(this.ackWatch);
    this.ackWatch = undefined;
  }

  async end(options: { endSession?: boolean; exiting?: boolean } = {}): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    this.stopPinging();
    this.stopWatchingAcks();
    const endSession = options.endSession === true && !this.options.clean;
    const clean = await this.disconnect(
      this.client,
      endSession && this.protocolVersion === 5
        ? { properties: { sessionExpiryInterval: 0 } }
        : undefined,
      options.exiting === true && !endSession,
    );
    // MQTT 3.1.1 has no session expiry: a kept session is ended by connecting once with a clean
    // session under the same id (when the broker is answering at all).
    if (clean && endSession && this.protocolVersion === 4) {
      const opts = {
        ...this.client.options,
        clean: true,
        will: undefined,
        reconnectPeriod: 0,
        connectTimeout: END_TIMEOUT_MS,
      };
      // On the node of this connection: a cluster's other nodes may be down.
      const sweeper = new MqttClient(this.ring.node.build, opts);
      sweeper.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, END_TIMEOUT_MS);
        sweeper.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        sweeper.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await this.disconnect(sweeper, undefined);
    }
  }

  /**
   * A clean DISCONNECT, or the socket dropped when the broker does not let it go in time.
   * Resolves true when the disconnect was clean; with `exiting`, as soon as our side of the
   * socket is ended after the DISCONNECT (see `QosPublisher.end`).
   */
  private disconnect(
    client: MqttClient,
    packet: Partial<IDisconnectPacket> | undefined,
    exiting = false,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        // MQTT.js ignores a second end() while the first is under way: the socket goes itself.
        client.stream?.destroy();
        client.end(true);
        resolve(false);
      }, END_TIMEOUT_MS);
      if (!client.connected) {
        clearTimeout(timer);
        client.end(true, () => resolve(false));
        return;
      }
      client.end(false, packet ?? {}, () => {
        clearTimeout(timer);
        resolve(true);
      });
      // MQTT.js ends the stream once the DISCONNECT is written: both are then the system's.
      if (exiting)
        client.stream?.once('finish', () => {
          clearTimeout(timer);
          resolve(true);
        });
    });
  }

  destroy(): void {
    this.ending = true;
    this.stopPinging();
    this.stopWatchingAcks();
    this.client.end(true);
  }
}
