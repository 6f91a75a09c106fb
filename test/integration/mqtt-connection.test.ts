// The broker connection against peers that do what real brokers do on a bad day: resend at QoS 2,
// take the session over, refuse a reconnect, come back without the session, announce small
// limits, say nothing at all. Each case is a scripted peer (test/helpers/peer.ts) or aedes.
import { expect } from 'chai';
import type { Packet } from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ExitCode, type SunoyeError } from '../../src/errors.js';
import {
  OWN_MAXIMUM_PACKET_SIZE,
  openConnection,
  publishAcked,
  randomClientId,
  type ChatConnection,
} from '../../src/mqtt/connection.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { connack, scriptedPeer, type PeerConnection, type ScriptedPeer } from '../helpers/peer.js';
import { elapse, waitFor } from '../helpers/wait.js';

/** How long to watch for a reconnect that must not come: several times the first backoff. */
const NO_RECONNECT_WATCH_MS = 1200;

describe('the broker connection (MQTT.js) against scripted peers', function () {
  let peer: ScriptedPeer | undefined;
  const sockets: Socket[] = [];
  let connection: ChatConnection | undefined;
  afterEach(async function () {
    connection?.destroy();
    connection = undefined;
    await peer?.close();
    peer = undefined;
  });

  async function open(
    p: ScriptedPeer,
    options: { clean?: boolean; keepaliveSeconds?: number } = {},
  ): Promise<ChatConnection> {
    peer = p;
    connection = await openConnection(
      { url: p.url, keepaliveSeconds: options.keepaliveSeconds ?? 30 },
      { clientId: randomClientId('l'), clean: options.clean ?? false },
    );
    return connection;
  }

  const publishPacket = (
    qos: 1 | 2,
    id: number,
    text: string | Buffer,
    dup = false,
  ): mqttPacket.IPublishPacket => ({
    cmd: 'publish',
    topic: 't',
    payload: typeof text === 'string' ? Buffer.from(text) : text,
    qos,
    messageId: id,
    dup,
    retain: false,
  });

  /** A peer that speaks only MQTT 3.1.1, as NATS does: version 5 is refused with code 1. */
  const v311 = (then: (c: PeerConnection, packet: Packet) => void) =>
    scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect' && packet.protocolVersion === 5) {
        c.version = 4;
        c.send({ cmd: 'connack', sessionPresent: false, returnCode: 1 });
        c.socket.end();
        return;
      }
      then(c, packet);
    });

  it('receives a QoS 2 message resent in a resumed session once, with PUBREC, PUBREL, PUBCOMP', async function () {
    const p = await scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect') {
        c.send(connack(c, { sessionPresent: true }));
        // Resent by the broker: once, then again as a duplicate before the release.
        c.send(publishPacket(2, 7, 'from the session'));
        c.send(publishPacket(2, 7, 'from the session', true));
      }
      if (packet.cmd === 'pubrec' && c.received.filter((x) => x.cmd === 'pubrec').length === 1)
        c.send({ cmd: 'pubrel', messageId: 7 });
    });
    const client = await open(p);
    const got: string[] = [];
    client.onMessage = (topic, payload) => got.push(`${topic}:${payload.toString()}`);
    await waitFor('PUBCOMP', () => p.connections[0]!.received.some((x) => x.cmd === 'pubcomp'));
    const pubcomp = p.connections[0]!.received.find((x) => x.cmd === 'pubcomp');
    expect(pubcomp).to.include({ messageId: 7 });
    expect(got).to.deep.equal(['t:from the session']);
    expect(p.connections).to.have.length(1); // no reconnect over it
  });

  it('stops for good, exit 3, when the broker says another client took the session over (0x8E)', async function () {
    const p = await scriptedPeer((c, packet) => {
      if (packet.cmd !== 'connect') return;
      c.send(connack(c));
      setImmediate(() => c.send({ cmd: 'disconnect', reasonCode: 0x8e }));
    });
    const client = await open(p);
    const fatal = await new Promise<SunoyeError>((resolve) => (client.onFatal = resolve));
    expect(fatal.exitCode).to.equal(ExitCode.refused);
    expect(fatal.message).to.match(/taken over by another client with the same id/);
    await elapse(NO_RECONNECT_WATCH_MS);
    expect(p.connections).to.have.length(1);
  });

  it('on MQTT 3.1.1, stops (exit 3) when the broker keeps closing the connection right after accepting it', async function () {
    const p = await v311((c, packet) => {
      if (packet.cmd !== 'connect') return;
      c.send(connack(c));
      // Another client connected with this id: a 3.1.1 broker just closes the old connection.
      if (c.n > 2) setImmediate(() => c.socket.end());
    });
    const client = await open(p);
    expect(client.protocolVersion).to.equal(4);
    const connect = p.connections[1]!.received[0] as mqttPacket.IConnectPacket;
    // 3.1.1 brokers need accept only 23 characters of [0-9a-zA-Z].
    expect(connect.clientId).to.match(/^[0-9a-zA-Z]{1,23}$/);
    let fatal: SunoyeError | undefined;
    client.onFatal = (err) => (fatal = err);
    p.connections[1]!.socket.end();
    await waitFor('the connection to give up', () => fatal);
    expect(fatal!.exitCode).to.equal(ExitCode.refused);
    expect(fatal!.message).to.match(/closed this connection 3 times right after accepting it/);
    const attempts = p.connections.length;
    await elapse(NO_RECONNECT_WATCH_MS);
    expect(p.connections.length).to.equal(attempts);
  });

  it('refuses a password without a user name (exit 2) before sending it', async function () {
    peer = await v311((c, packet) => {
      if (packet.cmd === 'connect') c.send(connack(c));
    });
    const err = await openConnection(
      { url: peer.url, keepaliveSeconds: 30, password: 'only-a-password' },
      { clientId: randomClientId('p'), clean: true },
    ).catch((e: SunoyeError) => e);
    expect(err).to.have.property('exitCode', ExitCode.usage);
    expect((err as Error).message).to.match(/^a broker password needs a user name/);
    expect(peer.connections).to.have.length(0);
  });

  it('on MQTT 3.1.1, a listener that ends leaves no session behind (a clean connect ends it)', async function () {
    const p = await v311((c, packet) => {
      if (packet.cmd === 'connect') c.send(connack(c, { sessionPresent: false }));
      if (packet.cmd === 'disconnect') c.socket.end();
    });
    const client = await open(p);
    expect(client.protocolVersion).to.equal(4);
    await client.end({ endSession: true });
    const connects = p
      .all()
      .filter(({ packet }) => packet.cmd === 'connect')
      .map(({ packet }) => packet as mqttPacket.IConnectPacket);
    // Refused 5, the listener's kept session, then the clean one that ends it, all with one id.
    expect(connects.map((c) => [c.protocolVersion, c.clean])).to.deep.equal([
      [5, false],
      [4, false],
      [4, true],
    ]);
    expect(new Set(connects.map((c) => c.clientId)).size).to.equal(1);
    const last = p.connections.at(-1)!.received.map((x) => x.cmd);
    expect(last).to.deep.equal(['connect', 'disconnect']);
  });

  it('says when a reconnect finds no session, and subscribes again then (only then)', async function () {
    const p = await scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect') c.send(connack(c, { sessionPresent: c.n === 3 }));
      if (packet.cmd === 'subscribe')
        c.send({ cmd: 'suback', messageId: packet.messageId, granted: [1] });
    });
    const client = await open(p);
    let lost = 0;
    client.onSessionLost = () => lost++;
    expect(await client.subscribe('t')).to.deep.equal([1]);
    p.connections[0]!.socket.destroy(); // the broker restarted and forgot the session
    await waitFor('the second connection to subscribe', () =>
      p.connections[1]?.received.some((x) => x.cmd === 'subscribe'),
    );
    expect(lost).to.equal(1);
    p.connections[1]!.socket.destroy(); // a blip: the session is still there
    await waitFor('the third connection', () =>
      p.connections[2]?.received.some((x) => x.cmd === 'pingreq' || x.cmd === 'connect'),
    );
    await client.subscribe('u'); // something after the reconnect, to be sure it is settled
    expect(lost).to.equal(1);
    const third = p.connections[2]!.received.filter((x) => x.cmd === 'subscribe');
    expect(third.map((x) => x.subscriptions[0]!.topic)).to.deep.equal(['u']);
  });

  it('after a reconnect without the session, sends what was published meanwhile only once subscribed again', async function () {
    let suback: (() => void) | undefined;
    const p = await scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect') c.send(connack(c));
      if (packet.cmd === 'subscribe') {
        const ack = (): void =>
          c.send({ cmd: 'suback', messageId: packet.messageId, granted: [1] });
        // The broker restarted: the second connection's subscription is acknowledged on cue.
        if (c.n === 1) ack();
        else suback = ack;
      }
      if (packet.cmd === 'publish')
        c.send({ cmd: 'puback', messageId: packet.messageId, reasonCode: 0 });
    });
    const client = await open(p);
    await client.subscribe('t');
    let offline = false;
    let back = false;
    client.onOffline = () => (offline = true);
    client.onReconnect = () => (back = true);
    p.connections[0]!.socket.destroy();
    await waitFor('the connection lost', () => offline);
    const acked = publishAcked(client, 't', 'typed while offline');
    await waitFor('the subscription made again', () => suback);
    const second = p.connections[1]!;
    // Nothing went before the subscription: the broker would have delivered it to nobody.
    expect(second.received.map((x) => x.cmd)).to.deep.equal(['connect', 'subscribe']);
    expect(back).to.equal(false);
    suback!();
    await acked;
    expect(second.received.map((x) => x.cmd)).to.deep.equal(['connect', 'subscribe', 'publish']);
    expect(back).to.equal(true);
  });

  it('stops with exit 4 when a reconnect is refused for credentials, instead of retrying', async function () {
    const p = await scriptedPeer((c, packet) => {
      if (packet.cmd !== 'connect') return;
      if (c.n === 1) c.send(connack(c));
      else c.send({ cmd: 'connack', sessionPresent: false, reasonCode: 0x86 });
    });
    const client = await open(p);
    let fatal: SunoyeError | undefined;
    client.onFatal = (err) => (fatal = err);
    p.connections[0]!.socket.destroy();
    await waitFor('the refusal', () => fatal);
    expect(fatal!.exitCode).to.equal(ExitCode.unavailable);
    expect(fatal!.message).to.match(/refused to reconnect: bad user name or password/);
    await elapse(NO_RECONNECT_WATCH_MS);
    expect(p.connections).to.have.length(2);
  });

  it("announces its own Maximum Packet Size and never sends a packet over the broker's", async function () {
    const LIMIT = 200;
    const p = await scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect')
        c.send(connack(c, { properties: { maximumPacketSize: LIMIT } }));
      if (packet.cmd === 'publish')
        c.send({ cmd: 'puback', messageId: packet.messageId, reasonCode: 0 });
    });
    const client = await open(p, { clean: true });
    const connect = p.connections[0]!.received[0] as mqttPacket.IConnectPacket;
    expect(connect.properties?.maximumPacketSize).to.equal(OWN_MAXIMUM_PACKET_SIZE);
    expect(client.maximumPacketSize).to.equal(LIMIT);
    const topic = 'sunoye/room/482913';
    const fits = client.maxPayload(topic);
    expect(fits).to.be.within(LIMIT - 30, LIMIT - 20);
    // One byte more is refused before it is sent; the largest that fits goes, within the limit.
    const refused = await publishAcked(client, topic, 'x'.repeat(fits + 1)).catch(
      (err: { code?: number }) => err,
    );
    expect(refused).to.have.property('code', 0x95);
    await publishAcked(client, topic, 'y'.repeat(fits));
    const sent = p.connections[0]!.received.filter((x) => x.cmd === 'publish');
    expect(sent).to.have.length(1);
    const size = mqttPacket.generate(sent[0]!, { protocolVersion: 5 }).length;
    expect(size).to.be.at.most(LIMIT);
    expect(size).to.be.at.least(LIMIT - 4);
  });

  it('takes a 40 MB message from a 3.1.1 broker in linear time and goes on', async function () {
    const big = Buffer.alloc(40 * 1024 * 1024, 0x61);
    let sentAt = 0;
    const p = await v311((c, packet) => {
      if (packet.cmd === 'connect') c.send(connack(c));
    });
    const client = await open(p);
    const got: number[] = [];
    client.onMessage = (_topic, payload) => got.push(payload.length);
    const c = p.connections.at(-1)!;
    sentAt = Date.now();
    // In 64 KiB writes, as a socket delivers it: a reader that copies all it has on every chunk
    // takes quadratic time here.
    const packet = mqttPacket.generate(publishPacket(1, 11, big), { protocolVersion: 4 });
    for (let at = 0; at < packet.length; at += 65_536)
      c.socket.write(packet.subarray(at, at + 65_536));
    c.send(publishPacket(1, 12, 'next'));
    await waitFor('both messages', () => got.length === 2, 15_000);
    expect(got).to.deep.equal([big.length, 4]);
    expect(Date.now() - sentAt).to.be.below(3000);
    expect(p.connections.length).to.equal(2); // the refused 5, then this one
  });

  it('drops a connection that sends a malformed packet, and takes the next message on a new one', async function () {
    const p = await scriptedPeer((c, packet) => {
      if (packet.cmd !== 'connect') return;
      c.send(connack(c, { sessionPresent: true }));
      if (c.n === 2) c.socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
      if (c.n === 3) c.send(publishPacket(1, 5, 'hello'));
    });
    const client = await open(p);
    const got: string[] = [];
    client.onMessage = (_topic, payload) => got.push(payload.toString());
    p.connections[0]!.socket.destroy(); // a blip first, so that the bad one is not the first
    await waitFor('the message on the third connection', () => got.length === 1);
    expect(got).to.deep.equal(['hello']);
    expect(p.connections).to.have.length(3);
  });

  it('holds messages that arrive before anyone listens, and acknowledges them once handed over', async function () {
    const p = await scriptedPeer((c, packet) => {
      if (packet.cmd !== 'connect') return;
      c.send(connack(c));
      c.send(publishPacket(1, 9, 'early'));
    });
    const client = await open(p);
    // Read by the client and held back (its field, for lack of any other sign of it).
    await waitFor('the message to be read', () => (client as unknown as { early?: object }).early);
    expect(p.connections[0]!.received.some((x) => x.cmd === 'puback')).to.equal(false);
    const got: string[] = [];
    client.onMessage = (_topic, payload) => got.push(payload.toString());
    expect(got).to.deep.equal(['early']);
    await waitFor('its PUBACK', () => p.connections[0]!.received.some((x) => x.cmd === 'puback'));
  });

  it('gives up within the connect timeout on a broker that accepts TCP and says nothing', async function () {
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const started = Date.now();
    try {
      const err = await openConnection(
        { url: `mqtt://127.0.0.1:${port}`, keepaliveSeconds: 30 },
        { clientId: 'sunoyeltest1', clean: true, connectTimeoutMs: 1000 },
      ).catch((e: SunoyeError) => e);
      expect(err).to.have.property('exitCode', ExitCode.unavailable);
      expect((err as Error).message).to.match(/cannot connect to the broker mqtt:\/\/127\.0\.0\.1/);
      expect(Date.now() - started).to.be.below(2500);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('stops connecting at once on Ctrl-C (exit 130)', async function () {
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const abort = new AbortController();
    silent.once('connection', () => abort.abort());
    try {
      const err = await openConnection(
        { url: `mqtt://127.0.0.1:${port}`, keepaliveSeconds: 30 },
        { clientId: 'sunoyeltest2', clean: true, signal: abort.signal },
      ).catch((e: SunoyeError) => e);
      expect(err).to.have.property('exitCode', ExitCode.interrupted);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('the broker connection (MQTT.js) on aedes', function () {
  let broker: TestBroker;
  before(async function () {
    broker = await startAedes();
  });
  after(async function () {
    await broker.stop();
  });

  it('stays connected while paused longer than its keepalive, and delivers what waited', async function () {
    const reader = await openConnection(
      { url: broker.url, keepaliveSeconds: 1 },
      { clientId: 'sunoyelpause000001', clean: false },
    );
    const writer = await openConnection(
      { url: broker.url, keepaliveSeconds: 30 },
      { clientId: 'sunoyeppause000001', clean: true },
    );
    try {
      let offline = 0;
      reader.onOffline = () => offline++;
      const got: string[] = [];
      reader.onMessage = (_topic, payload) => {
        got.push(payload.toString());
        reader.pause(); // the output is full
      };
      await reader.subscribe('pause/t');
      for (let i = 0; i < 5; i++) await publishAcked(writer, 'pause/t', `m${i}`);
      await waitFor('the first message', () => got.length === 1);
      // Three keepalives paused: an unanswered ping would have dropped the connection by now.
      await elapse(3000);
      expect(got).to.deep.equal(['m0']);
      reader.onMessage = (_topic, payload) => got.push(payload.toString());
      reader.resume();
      await waitFor('the rest', () => got.length === 5);
      expect(got).to.deep.equal(['m0', 'm1', 'm2', 'm3', 'm4']);
      expect(offline).to.equal(0);
    } finally {
      await reader.end({ endSession: true });
      await writer.end();
    }
  });
});
