// A peer that breaks MQTT: sunoye's own client drops such a connection, makes a new one, and goes
// on; messages that arrive before anyone listens wait, unacknowledged, instead of being lost.
import { expect } from 'chai';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { openConnection, type ChatConnection } from '../../src/mqtt/client.js';
import { PacketReader } from '../../src/mqtt/wire.js';
import { waitFor } from '../helpers/wait.js';

/** A TCP peer that answers each connection's CONNECT as `script` says, and records packets. */
function peer(script: (socket: Socket, connection: number) => void): {
  server: Server;
  received: [number, number, Buffer][]; // connection, packet type, body
  url: () => string;
} {
  const received: [number, number, Buffer][] = [];
  let connections = 0;
  const server = createServer((socket) => {
    const n = ++connections;
    const reader = new PacketReader();
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const [type, body] of reader.push(chunk)) {
        received.push([n, type, body]);
        if (type === 1) script(socket, n); // CONNECT
      }
    });
  });
  return {
    server,
    received,
    url: () => `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
  };
}

const CONNACK_V5 = Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]);
/** PUBLISH on topic "t" with packet id 7, at QoS 1, or with the QoS 2 bits set (never subscribed). */
const publish = (qos: 1 | 2, text: string): Buffer =>
  Buffer.concat([
    Buffer.from([0x30 | (qos << 1), 2 + 1 + 2 + 1 + text.length, 0, 1, 0x74, 0, 7, 0]),
    Buffer.from(text),
  ]);

describe("sunoye's client and a peer that breaks MQTT", function () {
  let connection: ChatConnection | undefined;
  let server: Server | undefined;
  afterEach(async function () {
    connection?.destroy();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  });

  async function connect(p: ReturnType<typeof peer>): Promise<ChatConnection> {
    server = p.server;
    await new Promise<void>((resolve) => p.server.listen(0, '127.0.0.1', resolve));
    connection = await openConnection(
      { url: p.url(), keepaliveSeconds: 30 },
      { clientId: 'hostile-test', clean: false },
    );
    return connection;
  }

  it('drops a connection that sends QoS 2 or garbage, reconnects, and takes the next message', async function () {
    const p = peer((socket, n) => {
      socket.write(CONNACK_V5);
      if (n === 1) socket.write(publish(2, 'not for us'));
      else if (n === 2)
        socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])); // length > 4 bytes
      else socket.write(publish(1, 'hello'));
    });
    const client = await connect(p);
    const got: string[] = [];
    let offline = 0;
    client.onOffline = () => offline++;
    client.onMessage = (topic, payload) => got.push(`${topic}:${payload.toString()}`);
    await waitFor('the message on the third connection', () => got.length === 1, 10_000);
    expect(got).to.deep.equal(['t:hello']);
    // Three connections: each bad one dropped by the client and made anew.
    const connects = p.received.filter(([, type]) => type === 1).map(([n]) => n);
    expect(connects).to.deep.equal([1, 2, 3]);
    // (The first may be lost before onOffline is set: it broke right with its CONNACK.)
    expect(offline).to.be.within(1, 2);
    // Acknowledged, on the connection it came on.
    await waitFor('its PUBACK', () => p.received.some(([n, type]) => n === 3 && type === 4));
    const puback = p.received.find(([n, type]) => n === 3 && type === 4)!;
    expect([...puback[2]]).to.deep.equal([0, 7]);
  });

  it('holds messages that arrive before anyone listens, and acknowledges them once handed over', async function () {
    const p = peer((socket) => {
      socket.write(Buffer.concat([CONNACK_V5, publish(1, 'early')]));
    });
    // It came with the CONNACK, so it was read before the connection was handed over.
    const client = await connect(p);
    expect(p.received.some(([, type]) => type === 4)).to.equal(false);
    const got: string[] = [];
    client.onMessage = (_topic, payload) => got.push(payload.toString());
    expect(got).to.deep.equal(['early']);
    await waitFor('its PUBACK', () => p.received.some(([, type]) => type === 4));
  });
});
