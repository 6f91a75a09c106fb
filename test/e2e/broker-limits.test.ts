// A broker that takes only small packets (MQTT 5 Maximum Packet Size): piped lines still travel in
// batches, each small enough for it, numbered without gaps.
import { expect } from 'chai';
import mqtt from 'mqtt';
import {
  mosquittoFixture,
  type MosquittoBroker,
  type MosquittoFixture,
} from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  createRoom,
  joinedListener,
  jsonLines,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

const MAX_PACKET = 16_384;

describe('a broker with a small maximum packet size', function () {
  this.timeout(60_000);
  let fixture: MosquittoFixture | undefined;
  let broker: MosquittoBroker;
  let env: Record<string, string>;
  const running: RunningProgram[] = [];

  before(async function () {
    fixture = await mosquittoFixture(this, 'sunoye-limits-', { maxPacketSize: MAX_PACKET });
    ({ broker, env } = fixture);
  });
  after(async function () {
    await stopAll(running);
    await fixture?.stop();
  });

  it('gets every piped line, in batches under its limit', async function () {
    const room = await createRoom(env);
    const raw = await mqtt.connectAsync(broker.url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      username: broker.admin.name,
      password: broker.admin.password,
    });
    const sizes: number[] = [];
    raw.on('message', (_t, p) => sizes.push(p.length));
    await raw.subscribeAsync(`sunoye/room/${room}`, { qos: 1 });

    const listener = await joinedListener(room, ['--count', '3000'], env, running);
    const lines = Array.from({ length: 3000 }, (_, i) => `${i + 1} ${'x'.repeat(60)}`);
    const sent = await runProgram('publish', [room], { env, input: `${lines.join('\n')}\n` });
    expect(sent.code, sent.stderr).to.equal(0);
    expect(await listener.exited).to.equal(0);
    const got = jsonLines(listener.stdoutLines).filter((m) => m.type === 'message');
    expect(got.map((m) => m.message)).to.deep.equal(lines);
    expect(got.map((m) => m.seq)).to.deep.equal(lines.map((_, i) => i + 1));
    expect(listener.stderr()).to.equal('');

    await raw.publishAsync(`sunoye/room/${room}`, 'end-of-test-marker', { qos: 1 });
    await waitFor('the raw subscriber to see all of it', () => sizes.includes(18));
    await raw.endAsync();
    // Batches, not one message per line, and every one under the broker's limit.
    expect(sizes.length).to.be.within(3, 1000);
    expect(Math.max(...sizes)).to.be.below(MAX_PACKET);
  });

  it('stops at a line too large for it, after delivering the lines before it', async function () {
    const room = await createRoom(env);
    const listener = await joinedListener(room, [], env, running);
    const big = 'b'.repeat(20_000); // within publish's 64 KiB, not within one 16 KiB packet
    const input = ['one', 'two', 'three', big, 'five', 'six'].join('\n') + '\n';
    const sent = await runProgram('publish', [room], { env, input, timeoutMs: 20_000 });
    expect(sent.code, sent.stderr).to.equal(2);
    expect(sent.stderr).to.equal(
      `sent 3 messages to room ${room}\n` +
        `publish: line 4 is too large once encoded (the broker takes packets of at most ${MAX_PACKET} bytes); nothing from it on was sent\n`,
    );
    const one = await runProgram('publish', [room, '-m', big], { env, timeoutMs: 20_000 });
    expect(one.code, one.stderr).to.equal(2);
    expect(one.stderr).to.match(/^publish: -m: the message is too large once encoded/);
    await runProgram('publish', [room, '-m', 'end-of-test-marker'], { env });
    await listener.line('the marker', (l) => l.includes('end-of-test-marker'));
    const got = jsonLines(listener.stdoutLines).filter((m) => m.type === 'message');
    expect(got.map((m) => m.message)).to.deep.equal(['one', 'two', 'three', 'end-of-test-marker']);
  });
});
