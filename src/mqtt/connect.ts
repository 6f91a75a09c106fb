/**
 * Connecting with MQTT.js, for the broker URLs sunoye's own client (client.ts) does not speak:
 * ws:// and wss://. MQTT 5 first, falling back to 3.1.1 when the broker refuses 5; a broker that
 * cannot be reached at start is a clear error within a bounded time, never a silent retry. Once
 * connected, the client reconnects with backoff and resubscribes by itself.
 */
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { UnavailableError } from '../errors.js';
import { redactUrl } from '../db/url.js';
import { describeFailure } from './failure.js';
import {
  CONNECT_TIMEOUT_MS,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  SESSION_EXPIRY_SECONDS,
} from './settings.js';

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
}

/** One connection's identity and session. */
export interface ConnectOptions {
  clientId: string;
  /** false: a persistent session that survives disconnects (about an hour on MQTT 5). */
  clean: boolean;
  will?: { topic: string; payload: string } | undefined;
  /** How long the first connection may take before giving up. */
  connectTimeoutMs?: number;
}

/** A connected client and the protocol version the broker accepted. */
export interface BrokerConnection {
  client: MqttClient;
  protocolVersion: 4 | 5;
  /** How many unacknowledged QoS 1 messages the broker accepts from us (MQTT 5 Receive Maximum). */
  receiveMaximum: number;
}

function clientOptions(
  settings: BrokerSettings,
  options: ConnectOptions,
  version: 4 | 5,
): IClientOptions {
  return {
    protocolVersion: version,
    clientId: options.clientId,
    clean: options.clean,
    keepalive: settings.keepaliveSeconds,
    connectTimeout: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    reconnectPeriod: 0, // no retry until the first connection succeeded
    resubscribe: true,
    username: settings.username,
    password: settings.password,
    ca: settings.ca,
    cert: settings.cert,
    key: settings.key,
    ...(version === 5 && !options.clean
      ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS } }
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

function attempt(
  url: string,
  opts: IClientOptions,
): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, opts);
    const timer = setTimeout(
      () => fail(Object.assign(new Error('timed out connecting'), { code: 'ETIMEDOUT' })),
      (opts.connectTimeout ?? CONNECT_TIMEOUT_MS) + 500,
    );
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Only our own listeners go: MQTT.js's internal ones clear its timers on close.
      client.removeListener('error', fail);
      client.removeListener('close', onClose);
      client.on('error', () => undefined);
      client.end(true);
      reject(err);
    };
    client.once('connect', (connack) => {
      settled = true;
      clearTimeout(timer);
      client.removeListener('error', fail);
      client.removeListener('close', onClose);
      resolve({ client, connack });
    });
    const onClose = (): void =>
      fail(Object.assign(new Error('the broker closed the connection'), { code: 'ECONNRESET' }));
    client.on('error', fail);
    client.on('close', onClose);
  });
}

/** Reconnects with exponential backoff (250 ms up to 8 s), reset by every successful connect. */
function enableReconnect(client: MqttClient): void {
  let period = RECONNECT_MIN_MS;
  client.options.reconnectPeriod = period;
  client.on('connect', () => {
    period = RECONNECT_MIN_MS;
    client.options.reconnectPeriod = period;
  });
  // Runs before MQTT.js's own close handler, which (re)arms its reconnect timer with the period.
  client.prependListener('close', () => {
    const internal = client as unknown as {
      reconnectTimer?: ReturnType<typeof setInterval> | null;
    };
    if (internal.reconnectTimer) {
      clearInterval(internal.reconnectTimer);
      internal.reconnectTimer = null;
      period = Math.min(period * 2, RECONNECT_MAX_MS);
    }
    client.options.reconnectPeriod = period;
  });
  // Errors after the first connect are transient (the client reconnects); callers log them.
  client.on('error', () => undefined);
}

/** Connects to the broker, or throws a clear exit-4 error naming it (without its password). */
export async function connectBroker(
  settings: BrokerSettings,
  options: ConnectOptions,
): Promise<BrokerConnection> {
  const label = redactUrl(settings.url);
  let connected: { client: MqttClient; connack: IConnackPacket };
  let protocolVersion: 4 | 5 = 5;
  try {
    try {
      connected = await attempt(settings.url, clientOptions(settings, options, 5));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 1 && code !== 132) throw err; // 1 (3.1.1) / 132 (5): unsupported protocol version
      protocolVersion = 4;
      connected = await attempt(settings.url, clientOptions(settings, options, 4));
    }
  } catch (err) {
    throw new UnavailableError(
      `cannot connect to the broker ${label}: ${describeFailure(err as Error)}`,
      {
        cause: err,
      },
    );
  }
  const { client, connack } = connected;
  enableReconnect(client);
  return { client, protocolVersion, receiveMaximum: connack.properties?.receiveMaximum ?? 65_535 };
}
