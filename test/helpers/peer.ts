/**
 * A scripted MQTT peer, for what no real broker can be made to do on cue: resend at QoS 2, take a
 * session over, refuse a reconnect, lower its limits on a reconnect, say nothing at all. Packets
 * are read and written with mqtt-packet (MQTT.js's own codec); the test says what to answer.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/** One connection to the peer: what it received, and a way to answer. */
export interface PeerConnection {
  /** 1 for the first connection, 2 for the next, … */
  readonly n: number;
  readonly received: Packet[];
  /** The protocol version of its CONNECT (4 or 5), once received. */
  version: 4 | 5;
  send(packet: Packet): void;
  readonly socket: Socket;
}

export interface ScriptedPeer {
  readonly url: string;
  readonly connections: PeerConnection[];
  /** Every packet received, on any connection, in order. */
  all(): { n: number; packet: Packet }[];
  close(): Promise<void>;
}

/** Starts a peer on a free port of 127.0.0.1 that calls `script` for every packet it receives. */
export async function scriptedPeer(
  script: (connection: PeerConnection, packet: Packet) => void,
): Promise<ScriptedPeer> {
  const connections: PeerConnection[] = [];
  const log: { n: number; packet: Packet }[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const connection: PeerConnection = {
      n: connections.length + 1,
      received: [],
      version: 5,
      socket,
      send: (packet) => {
        if (!socket.destroyed)
          socket.write(mqttPacket.generate(packet, { protocolVersion: connection.version }));
      },
    };
    connections.push(connection);
    parser.on('packet', (packet: Packet) => {
      if (packet.cmd === 'connect') connection.version = packet.protocolVersion === 5 ? 5 : 4;
      connection.received.push(packet);
      log.push({ n: connection.n, packet });
      script(connection, packet);
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    connections,
    all: () => log,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A successful CONNACK for a connection's protocol version, with MQTT 5 properties if given. */
export function connack(
  connection: PeerConnection,
  options: { sessionPresent?: boolean; properties?: Record<string, number> } = {},
): Packet {
  return connection.version === 5
    ? {
        cmd: 'connack',
        sessionPresent: options.sessionPresent ?? false,
        reasonCode: 0,
        ...(options.properties ? { properties: options.properties } : {}),
      }
    : { cmd: 'connack', sessionPresent: options.sessionPresent ?? false, returnCode: 0 };
}
