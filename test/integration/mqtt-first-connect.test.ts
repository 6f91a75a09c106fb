// The first connection: MQTT 5, or 3.1.1 where the broker refuses 5 (by CONNACK or by closing the
// connection), remembered per broker; retried with backoff while the broker is not up, within the
// connect timeout; refused credentials end it at once. Scripted peers and aedes.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IConnectPacket, Packet } from 'mqtt-packet';
import { ExitCode, type SunoyeError } from '../../src/errors.js';
import { MQTT_VERSIONS_FILE, mqttVersions } from '../../src/home/mqtt-versions.js';
import { startBroker, type EmbeddedBroker } from '../../src/mqtt/broker.js';
import {
  brokerKey,
  openConnection,
  randomClientId,
  type BrokerSettings,
  type ChatConnection,
} from '../../src/mqtt/connection.js';
import { freePort } from '../helpers/brokers.js';
import { connack, scriptedPeer, type ScriptedPeer } from '../helpers/peer.js';
import { startSilentOnV5Proxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait.js';

/** A peer that speaks only 3.1.1 and, like many deployed ones, closes on an MQTT 5 CONNECT. */
const closesOnV5 = (): Promise<ScriptedPeer> =>
  scriptedPeer((c, packet) => {
    if (packet.cmd !== 'connect') return;
    if (packet.protocolVersion === 5) c.socket.end();
    else c.send(connack(c));
  });

function versionsOf(peer: ScriptedPeer): number[] {
  return peer
    .all()
    .filter(({ packet }) => packet.cmd === 'connect')
    .map(({ packet }) => (packet as IConnectPacket).protocolVersion ?? 4);
}

describe('the first connection to the broker', function () {
  let home: string;
  let peer: ScriptedPeer | undefined;
  let broker: EmbeddedBroker | undefined;
  const connections: ChatConnection[] = [];
  beforeEach(function () {
    home = mkdtempSync(join(tmpdir(), 'sunoye-first-'));
  });
  afterEach(async function () {
    for (const c of connections.splice(0)) c.destroy();
    await peer?.close();
    peer = undefined;
    await broker?.close();
    broker = undefined;
    rmSync(home, { recursive: true, force: true });
  });

  const settings = (url: string, more: Partial<BrokerSettings> = {}): BrokerSettings => ({
    url,
    keepaliveSeconds: 30,
    versions: mqttVersions(home),
    ...more,
  });

  async function open(s: BrokerSettings, connectTimeoutMs?: number): Promise<ChatConnection> {
    const c = await openConnection(s, {
      clientId: randomClientId('p'),
      clean: true,
      ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    });
    connections.push(c);
    return c;
  }

  it('falls back to 3.1.1 on a broker that closes an MQTT 5 CONNECT, and remembers it privately', async function () {
    peer = await closesOnV5();
    const first = await open(settings(peer.url));
    expect(first.protocolVersion).to.equal(4);
    expect(versionsOf(peer)).to.deep.equal([5, 4]);
    const file = join(home, MQTT_VERSIONS_FILE);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const port = new URL(peer.url).port;
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {
      brokers: Record<string, { version: string }>;
    };
    expect(Object.keys(saved.brokers)).to.deep.equal([`mqtt://127.0.0.1:${port}`]);
    expect(saved.brokers[`mqtt://127.0.0.1:${port}`]!.version).to.equal('3.1.1');
    // The next start goes straight to 3.1.1.
    const second = await open(settings(peer.url));
    expect(second.protocolVersion).to.equal(4);
    expect(versionsOf(peer)).to.deep.equal([5, 4, 4]);
  });

  it('asks again under 3.1.1 a broker that never answers an MQTT 5 CONNECT, well within the timeout', async function () {
    broker = await startBroker('127.0.0.1', 0);
    const proxy = await startSilentOnV5Proxy(broker.port);
    try {
      // The default connect timeout (10 s): MQTT 5 gets a quarter of it, 3.1.1 the rest.
      let started = Date.now();
      const first = await open(settings(proxy.url));
      const took = Date.now() - started;
      expect(first.protocolVersion).to.equal(4);
      expect(proxy.levels).to.deep.equal([5, 4]);
      expect(took).to.be.within(2000, 5000);
      // Remembered: the next start asks 3.1.1 at once.
      started = Date.now();
      expect((await open(settings(proxy.url))).protocolVersion).to.equal(4);
      // Less than the quarter of the timeout MQTT 5 would have been given first (the levels say it
      // was not asked).
      expect(Date.now() - started).to.be.below(2500);
      expect(proxy.levels).to.deep.equal([5, 4, 4]);
    } finally {
      for (const c of connections.splice(0)) c.destroy();
      await proxy.close();
    }
  });

  it('names --mqtt-version when nothing answers under either version', async function () {
    peer = await scriptedPeer(() => undefined);
    const started = Date.now();
    const err = await open(settings(peer.url), 2000).catch((e: SunoyeError) => e);
    // The whole 2 s timeout shared between the two versions, not one try per version.
    expect(Date.now() - started).to.be.within(1900, 4000);
    expect(err).to.have.property('exitCode', ExitCode.unavailable);
    expect((err as Error).message).to.equal(
      `cannot connect to the broker ${peer.url}: no answer within the connect timeout, under MQTT 5 or 3.1.1; ` +
        'is this an MQTT broker? If it is a slow one, --mqtt-version 5 (or 3.1.1) gives that version the whole timeout',
    );
    expect(versionsOf(peer)).to.deep.equal([5, 4]);
  });

  it('falls back on CONNACK 0x84 (MQTT 5) and 1 (3.1.1) as well', async function () {
    peer = await scriptedPeer((c, packet: Packet) => {
      if (packet.cmd !== 'connect') return;
      if (packet.protocolVersion === 5)
        c.send({ cmd: 'connack', sessionPresent: false, reasonCode: c.n === 1 ? 0x84 : 0 });
      else c.send(connack(c));
    });
    expect((await open(settings(peer.url))).protocolVersion).to.equal(4);
    expect((await open(settings(peer.url))).protocolVersion).to.equal(4);
    expect(versionsOf(peer)).to.deep.equal([5, 4, 4]);
  });

  it('speaks the chosen version only: 5 refused is exit 4 at once, with what to do', async function () {
    peer = await closesOnV5();
    const started = Date.now();
    const refused = await scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect' && packet.protocolVersion === 5)
        c.send({ cmd: 'connack', sessionPresent: false, reasonCode: 0x84 });
    });
    try {
      const err = await open(settings(refused.url, { mqttVersion: 5 })).catch(
        (e: SunoyeError) => e,
      );
      expect(err).to.have.property('exitCode', ExitCode.unavailable);
      expect((err as Error).message).to.match(
        /does not take MQTT 5 \(it refused it\); leave --mqtt-version unset/,
      );
      // At once: well inside the 10 s connect timeout it would otherwise retry for.
      expect(Date.now() - started).to.be.below(5000);
      expect(refused.connections).to.have.length(1);
    } finally {
      await refused.close();
    }
    // Chosen 3.1.1: no MQTT 5 CONNECT at all, and nothing remembered.
    expect((await open(settings(peer.url, { mqttVersion: 4 }))).protocolVersion).to.equal(4);
    expect(versionsOf(peer)).to.deep.equal([4]);
    expect(() => statSync(join(home, MQTT_VERSIONS_FILE))).to.throw();
  });

  it('retries a port that opens only after a while, within the connect timeout', async function () {
    const port = await freePort();
    const started = Date.now();
    const opening = new Promise<void>((resolve) =>
      setTimeout(() => {
        void startBroker('127.0.0.1', port).then((b) => {
          broker = b;
          resolve();
        });
      }, 1500),
    );
    const c = await open(settings(`mqtt://127.0.0.1:${port}`), 5000);
    await opening;
    expect(Date.now() - started).to.be.within(1400, 5000);
    expect(c.protocolVersion).to.equal(4); // aedes refuses 5 with CONNACK 1
  });

  it('gives up with exit 4 at about the connect timeout on a port that never opens', async function () {
    const port = await freePort();
    const started = Date.now();
    // Whoever waits is told once, at the first retry, why nothing happens yet.
    const told: string[] = [];
    const err = await openConnection(settings(`mqtt://127.0.0.1:${port}`), {
      clientId: randomClientId('p'),
      clean: true,
      connectTimeoutMs: 1500,
      onRetry: (line) => told.push(line),
    }).catch((e: SunoyeError) => e);
    const took = Date.now() - started;
    expect(err).to.have.property('exitCode', ExitCode.unavailable);
    expect((err as Error).message).to.match(/connection refused/);
    expect(took).to.be.within(1400, 2500);
    expect(told).to.have.length(1);
    expect(told[0]).to.match(
      new RegExp(
        `^cannot reach the broker mqtt://127\\.0\\.0\\.1:${port} yet: connection refused; trying again for up to [12] s \\(is a broker running there\\? \`room serve\` starts one\\)$`,
      ),
    );
  });

  it('retries a broker that answers "server unavailable" while it recovers', async function () {
    peer = await scriptedPeer((c, packet) => {
      if (packet.cmd !== 'connect') return;
      if (c.n <= 2) c.send({ cmd: 'connack', sessionPresent: false, reasonCode: 0x88 });
      else c.send(connack(c));
    });
    const c = await open(settings(peer.url), 5000);
    expect(c.protocolVersion).to.equal(5);
    expect(versionsOf(peer)).to.deep.equal([5, 5, 5]);
  });

  for (const [code, words] of [
    [0x86, /bad user name or password/],
    [0x87, /not authorized/],
  ] as const) {
    it(`stops at once, exit 4, on CONNACK 0x${code.toString(16)} (${words.source})`, async function () {
      peer = await scriptedPeer((c, packet) => {
        if (packet.cmd === 'connect')
          c.send({ cmd: 'connack', sessionPresent: false, reasonCode: code });
      });
      const started = Date.now();
      const err = await open(settings(peer.url), 5000).catch((e: SunoyeError) => e);
      expect(err).to.have.property('exitCode', ExitCode.unavailable);
      expect((err as Error).message).to.match(words);
      expect(Date.now() - started).to.be.below(1000);
      expect(peer.connections).to.have.length(1);
    });
  }

  it('goes across a broker list: the first node that accepts, after those that are down', async function () {
    const down = await freePort();
    broker = await startBroker('127.0.0.1', 0);
    const started = Date.now();
    const c = await open(settings(`mqtt://127.0.0.1:${down},${broker.url}`), 5000);
    // No backoff between nodes: the second is tried as soon as the first refuses.
    expect(Date.now() - started).to.be.below(1000);
    expect(c.via).to.equal(`127.0.0.1:${broker.port}`);
    const single = await open(settings(broker.url), 5000);
    expect(single.via).to.equal(undefined);
  });

  it('stops at once on refused credentials, without trying the other nodes of the list', async function () {
    peer = await scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect')
        c.send({ cmd: 'connack', sessionPresent: false, reasonCode: 0x86 });
    });
    broker = await startBroker('127.0.0.1', 0);
    const err = await open(settings(`${peer.url},${broker.url}`), 5000).catch(
      (e: SunoyeError) => e,
    );
    expect(err).to.have.property('exitCode', ExitCode.unavailable);
    expect((err as Error).message).to.match(/bad user name or password/);
    expect(peer.connections).to.have.length(1);
  });

  it('moves on through the list when the node in use is lost, and says which took over', async function () {
    broker = await startBroker('127.0.0.1', 0);
    const second = await startBroker('127.0.0.1', 0);
    try {
      const c = await openConnection(settings(`${broker.url},${second.url}`), {
        clientId: randomClientId('l'),
        clean: false,
      });
      connections.push(c);
      expect(c.via).to.equal(`127.0.0.1:${broker.port}`);
      const back = new Promise<void>((resolve) => (c.onReconnect = resolve));
      await broker.close();
      broker = undefined;
      await back;
      expect(c.via).to.equal(`127.0.0.1:${second.port}`);
    } finally {
      for (const c of connections.splice(0)) c.destroy();
      await second.close();
    }
  });

  it('gives each node of a list its share of the connect timeout, first and on every reconnect', async function () {
    // A node that accepts the connection and never answers the CONNECT.
    peer = await scriptedPeer(() => undefined);
    broker = await startBroker('127.0.0.1', 0);
    const second = await startBroker('127.0.0.1', 0);
    try {
      let started = Date.now();
      const first = await open(settings(`${peer.url},${broker.url}`), 6000);
      // Half of 6 s for the silent node, then the next: not the whole timeout spent on one.
      expect(Date.now() - started).to.be.within(2500, 4500);
      expect(first.via).to.equal(`127.0.0.1:${broker.port}`);

      const c = await openConnection(settings(`${broker.url},${peer.url},${second.url}`), {
        clientId: randomClientId('l'),
        clean: false,
        connectTimeoutMs: 6000,
      });
      connections.push(c);
      const back = new Promise<void>((resolve) => (c.onReconnect = resolve));
      started = Date.now();
      for (const conn of connections.splice(0, 1)) conn.destroy();
      await broker.close();
      broker = undefined;
      await back;
      // The silent node after it had a third of 6 s, then the last node took over.
      expect(Date.now() - started).to.be.within(1500, 3500);
      expect(c.via).to.equal(`127.0.0.1:${second.port}`);
    } finally {
      for (const c of connections.splice(0)) c.destroy();
      await second.close();
    }
  });

  it('leaves a node of a list that acknowledges nothing for 6 s; the next one gets the message', async function () {
    this.timeout(20_000);
    // A 3.1.1 node (as aedes is) that accepts the connection and then swallows every message,
    // as a cluster node electing leaders can.
    peer = await scriptedPeer((c, packet) => {
      if (packet.cmd !== 'connect') return;
      if (packet.protocolVersion === 5) c.socket.end();
      else c.send(connack(c));
    });
    broker = await startBroker('127.0.0.1', 0);
    const c = await open(settings(`${peer.url},${broker.url}`, { mqttVersion: 4 }), 5000);
    expect(c.via).to.equal(new URL(peer.url).host);
    const started = Date.now();
    await new Promise<void>((resolve, reject) =>
      c.publish('sunoye/room/1', 'hello', (err) => (err ? reject(err) : resolve())),
    );
    expect(Date.now() - started).to.be.within(6000, 9000);
    expect(c.via).to.equal(`127.0.0.1:${broker.port}`);
    // Acknowledged in time, a node is kept.
    const again = Date.now();
    await new Promise<void>((resolve, reject) =>
      c.publish('sunoye/room/1', 'again', (err) => (err ? reject(err) : resolve())),
    );
    expect(Date.now() - again).to.be.below(1000);
    expect(c.via).to.equal(`127.0.0.1:${broker.port}`);
  });

  it('sends again what MQTT.js gave up on when a connection closed while it was resending', async function () {
    this.timeout(20_000);
    let conn: ChatConnection | undefined;
    const acked = (payload: string): Promise<void> =>
      new Promise((resolve, reject) =>
        conn!.publish('sunoye/room/1', payload, (err) => (err ? reject(err) : resolve())),
      );
    let late: Promise<void> | undefined;
    // Node 1 takes three messages, acknowledges none, and is lost.
    let taken = 0;
    peer = await scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect') c.send(connack(c));
      if (packet.cmd === 'publish' && ++taken === 3) c.socket.destroy();
    });
    // Node 2 gets the first of them again (MQTT.js sends the rest only once it is acknowledged,
    // and holds new messages back meanwhile): one is published then, and node 2 is lost too.
    const second = await scriptedPeer((c, packet) => {
      if (packet.cmd === 'connect') c.send(connack(c));
      if (packet.cmd === 'publish' && late === undefined) {
        late = acked('fourth');
        setTimeout(() => c.socket.destroy(), 50);
      }
    });
    broker = await startBroker('127.0.0.1', 0);
    try {
      conn = await open(
        settings(`${peer.url},${second.url},${broker.url}`, { mqttVersion: 4 }),
        5000,
      );
      const first = ['first', 'second', 'third'].map(acked);
      await Promise.all(first);
      await waitFor('a message published during the resend', () =>
        late === undefined ? undefined : true,
      );
      await late;
      expect(conn.via).to.equal(`127.0.0.1:${broker.port}`);
    } finally {
      for (const c of connections.splice(0)) c.destroy();
      await second.close();
    }
  });

  it('names brokers without credentials, with their default port', function () {
    expect(brokerKey('mqtt://127.0.0.1')).to.equal('mqtt://127.0.0.1:1883');
    expect(brokerKey('tcp://h:1884')).to.equal('mqtt://h:1884');
    expect(brokerKey('mqtts://bob:pw@h')).to.equal('mqtts://h:8883');
    expect(brokerKey('wss://h/mqtt')).to.equal('wss://h:443');
    expect(brokerKey('mqtt://[::1]:1883')).to.equal('mqtt://[::1]:1883');
  });
});

describe('remembered MQTT versions', function () {
  let home: string;
  beforeEach(function () {
    home = join(mkdtempSync(join(tmpdir(), 'sunoye-versions-')), 'home');
  });
  afterEach(function () {
    rmSync(join(home, '..'), { recursive: true, force: true });
  });

  it('keeps 3.1.1 per broker for a week, forgets on 5, and takes a damaged file for empty', function () {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const versions = mqttVersions(home, () => now);
    expect(versions.recall('mqtt://a:1883')).to.equal(undefined);
    versions.remember('mqtt://a:1883', 5); // the default: nothing written
    expect(() => statSync(join(home, MQTT_VERSIONS_FILE))).to.throw();
    versions.remember('mqtt://a:1883', 4);
    versions.remember('mqtt://b:1883', 4);
    expect(statSync(home).mode & 0o777).to.equal(0o700);
    expect(versions.recall('mqtt://a:1883')).to.equal(4);
    expect(versions.recall('mqtt://c:1883')).to.equal(undefined);
    versions.remember('mqtt://b:1883', 5);
    expect(versions.recall('mqtt://b:1883')).to.equal(undefined);
    now += 8 * 24 * 3600 * 1000;
    expect(versions.recall('mqtt://a:1883')).to.equal(undefined); // asked again
    rmSync(join(home, MQTT_VERSIONS_FILE));
    writeFileSync(join(home, MQTT_VERSIONS_FILE), '{not json');
    expect(versions.recall('mqtt://a:1883')).to.equal(undefined);
    versions.remember('mqtt://a:1883', 4);
    expect(versions.recall('mqtt://a:1883')).to.equal(4);
  });
});
