/**
 * The WebSocket transport (ws://, wss://): MQTT.js's own stream builder, in a module of its own so
 * that only programs talking to a WebSocket broker load it.
 */
import type { Duplex } from 'node:stream';
import type { MqttClient } from 'mqtt';
import { streamBuilder } from 'mqtt/lib/connect/ws';

/** TLS material for wss://. */
export interface WebSocketTls {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
}

/** A stream builder for the broker at `url` (ws: or wss:). */
export function webSocketBuilder(url: URL, tls: WebSocketTls): (client: MqttClient) => Duplex {
  const scheme = url.protocol === 'wss:' ? 'wss' : 'ws';
  const port = Number(url.port || (scheme === 'wss' ? 443 : 80));
  return (client) =>
    streamBuilder(client, {
      protocol: scheme,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      path: `${url.pathname}${url.search}`,
      ...tls,
      wsOptions: {},
    });
}
