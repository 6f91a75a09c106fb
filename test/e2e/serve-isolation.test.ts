// `room serve` keeps its users apart: another user of the broker learns no client id (with one,
// it could connect under a listener's id and take its session: its queued messages, its will),
// and a client sending an oversize packet is dropped before the broker holds it or passes it on.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import { runProgram } from '../helpers/cli.js';
import {
  createRoom,
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

/** sunoye's client ids (`randomClientId`): a kind letter and 16 hex digits. */
const CLIENT_ID = /sunoye[lpc][0-9a-f]{16}/;

/** A process's resident memory, in MiB. */
function rssMiB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return Number(kb) / 1024;
}

describe('room serve keeps its users apart', function () {
  this.timeout(60_000);
  let dir: string;
  const running: RunningProgram[] = [];
  const clients: MqttClient[] = [];

  /** `room serve` on a free port, and the environment of a person using it. */
  async function serve(): Promise<{ url: string; env: Record<string, string> }> {
    const server = startProgram('room', ['serve', '--port', '0'], { HOME: dir });
    running.push(server);
    const url = await server.line('the broker URL', (l) => l.startsWith('mqtt://'));
    return { url, env: { HOME: dir, SUNOYE_BROKER: url, SUNOYE_NAME: 'alice' } };
  }

  /** Another user of the broker, with a plain MQTT client. */
  async function rawClient(url: string): Promise<MqttClient> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(client);
    return client;
  }

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-serve-apart-'));
  });
  afterEach(async function () {
    for (const client of clients.splice(0)) await client.endAsync(true);
    await stopAll(running);
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells no other user a client id: nothing on $SYS/#, $SYS/+/new/clients or #', async function () {
    const { url, env } = await serve();
    const room = await createRoom(env);
    const spy = await rawClient(url);
    const seen: string[] = [];
    spy.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString('latin1')}`));
    const granted: Record<string, number> = {};
    for (const topic of ['#', '$SYS/#', '$SYS/+/new/clients']) {
      // A refused subscription is an answer too: MQTT.js rejects a SUBACK with a failure code.
      granted[topic] = await spy.subscribeAsync(topic, { qos: 1 }).then(
        ([g]) => g!.qos,
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
      );
    }

    const listener = await joinedListener(room, ['--count', '1'], env, running);
    const sent = await runProgram('publish', [room, '-m', 'hello'], { env });
    expect(sent.code, sent.stderr).to.equal(0);
    expect(await listener.exited).to.equal(0);
    // The spy sees the room's traffic (sealed), so it would have seen the rest: the listener's
    // leave notice comes after its connect, the message and the publisher's disconnect.
    await waitFor('the join, the message and the leave on #', () => seen.length >= 3);
    await spy.publishAsync('end/of/test', 'marker', { qos: 1 });
    await waitFor('the marker', () => seen.some((s) => s.startsWith('end/of/test ')));
    expect(seen.filter((s) => s.startsWith('$'))).to.deep.equal([]);
    for (const s of seen) expect(s).to.not.match(CLIENT_ID);
    // Refused, as MQTT says a broker refuses a subscription: its failure return code.
    expect(granted).to.deep.equal({ '#': 1, '$SYS/#': 128, '$SYS/+/new/clients': 128 });
  });

  it('drops a client that sends a packet over 1 MiB; a listener goes on, its memory unchanged', async function () {
    const { url, env } = await serve();
    const room = await createRoom(env);
    const listener = await joinedListener(room, [], env, running);
    const before = rssMiB(listener.child.pid!);

    const big = await rawClient(url);
    let closed = false;
    big.once('close', () => (closed = true));
    big.publish(`sunoye/room/${room}`, Buffer.alloc(20 * 1024 * 1024, 'x'), { qos: 1 }, () => {});
    await waitFor('the broker to drop the client of the 20 MiB packet', () => closed, 15_000);

    const sent = await runProgram('publish', [room, '-m', 'after the big one'], { env });
    expect(sent.code, sent.stderr).to.equal(0);
    await waitFor(
      'the next message at the listener',
      () => jsonLines(listener.stdoutLines).some((m) => m.message === 'after the big one'),
      { program: listener },
    );
    const after = rssMiB(listener.child.pid!);
    expect(
      after - before,
      `${before.toFixed(1)} MiB before, ${after.toFixed(1)} after`,
    ).to.be.below(8);
    expect(listener.stderr()).to.equal('');
  });
});
