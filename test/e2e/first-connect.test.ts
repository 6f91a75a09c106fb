// The built programs' first connection: a 3.1.1-only broker that closes the connection on an
// MQTT 5 CONNECT (3.1.1 after one refused attempt, then straight away, remembered in the home);
// a broker that never answers an MQTT 5 CONNECT (3.1.1 asked well within the connect timeout);
// a broker whose port opens only after a few seconds (retried within the connect timeout); a
// port that never opens (exit 4 at about the connect timeout).
import { expect } from 'chai';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { startSilentOnV5Proxy } from '../helpers/proxy.js';
import {
  createRoom,
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';

/** A front to `target`: closes a connection whose CONNECT is MQTT 5, passes the others on. */
interface Front {
  port: number;
  /** The protocol version of each CONNECT that came in, in order. */
  versions: number[];
  close(): Promise<void>;
}

async function startFront(target: number, port = 0): Promise<Front> {
  const versions: number[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const held: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      held.push(chunk);
      parser.parse(chunk);
    };
    parser.once('packet', (packet: Packet) => {
      client.off('data', onData);
      const version = packet.cmd === 'connect' ? (packet.protocolVersion ?? 4) : 0;
      versions.push(version);
      if (version !== 4) {
        client.end(); // as 3.1.1-only brokers do: no CONNACK at all
        return;
      }
      const upstream = connect(target, '127.0.0.1');
      track(upstream);
      upstream.write(Buffer.concat(held));
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    versions,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

describe('the first connection of the built programs', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  let front: Front | undefined;
  const running: RunningProgram[] = [];
  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-first-e2e-'));
    broker = await startAedes();
  });
  afterEach(async function () {
    await stopAll(running);
    await front?.close();
    front = undefined;
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches a 3.1.1 broker that closes MQTT 5 connections, and goes straight to 3.1.1 next time', async function () {
    front = await startFront(broker.port);
    const home = join(dir, 'home');
    const env = {
      HOME: dir,
      SUNOYE_HOME: home,
      SUNOYE_DB: `sqlite:${join(dir, 'r.db')}`,
      SUNOYE_BROKER: `mqtt://qzuser:Wq7secretPw@127.0.0.1:${front.port}`,
    };
    const room = await createRoom(env);
    const listener = await joinedListener(room, ['--count', '1'], env, running);
    expect(front.versions).to.deep.equal([5, 4]);
    const file = join(home, 'mqtt-versions.json');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const saved = readFileSync(file, 'utf8');
    expect(Object.keys((JSON.parse(saved) as { brokers: object }).brokers)).to.deep.equal([
      `mqtt://127.0.0.1:${front.port}`,
    ]);
    expect(saved).to.not.match(/qzuser|Wq7secret/);
    const sent = await runProgram('publish', [room, '-m', 'over 3.1.1'], { env });
    expect(sent.code, sent.stderr).to.equal(0);
    expect(sent.stderr).to.equal(`sent 1 message to room ${room}\n`);
    expect(await listener.exited).to.equal(0);
    // Remembered: publish (and the listener's ending) made no MQTT 5 attempt.
    expect(front.versions.length).to.be.above(2);
    expect(front.versions.slice(2)).to.not.include(5);
    expect(jsonLines(listener.stdoutLines).filter((m) => m.type === 'message')).to.have.length(1);
    expect(listener.stdoutLines.join('\n')).to.include('"message":"over 3.1.1"');
    // Chosen MQTT 5: no fallback (only MQTT 5 attempts, retried), and the line says what to try.
    const before = front.versions.length;
    const five = await runProgram(
      'publish',
      [room, '-m', 'x', '--mqtt-version', '5', '--connect-timeout', '1'],
      { env },
    );
    expect(five.code).to.equal(4);
    expect(five.stderr).to.match(
      /^publish: cannot connect to the broker mqtt:\/\/127\.0\.0\.1:\d+: the broker closed the connection; a broker that speaks only MQTT 3\.1\.1 may do that: try --mqtt-version 3\.1\.1\n$/,
    );
    const attempts = front.versions.slice(before);
    expect(attempts.length).to.be.above(1);
    expect(attempts.every((v) => v === 5)).to.equal(true);
  });

  it('publish reaches a broker that never answers an MQTT 5 CONNECT well within the connect timeout', async function () {
    const proxy = await startSilentOnV5Proxy(broker.port);
    try {
      const env = {
        HOME: dir,
        SUNOYE_HOME: join(dir, 'home-silent'),
        SUNOYE_DB: `sqlite:${join(dir, 'r.db')}`,
        SUNOYE_BROKER: proxy.url,
      };
      const room = await createRoom(env);
      // The default connect timeout, 10 s: MQTT 5 has 2.5 s of it, then 3.1.1 is asked.
      const started = Date.now();
      const sent = await runProgram('publish', [room, '-m', 'past the silence'], { env });
      const took = Date.now() - started;
      expect(sent.code, sent.stderr).to.equal(0);
      expect(proxy.levels).to.deep.equal([5, 4]);
      expect(took).to.be.below(7000);
    } finally {
      await proxy.close();
    }
  });

  it('publish retries a port that opens only after a few seconds, and delivers (exit 0)', async function () {
    const port = await freePort();
    const env = { HOME: dir, SUNOYE_HOME: join(dir, 'home'), SUNOYE_BROKER: broker.url };
    const listener = startProgram(
      'listen',
      ['--topic', 'late/t', '--plain', '--json', '--count', '1'],
      env,
    );
    running.push(listener);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'));
    const started = Date.now();
    const publishing = runProgram('publish', ['--topic', 'late/t', '--plain', '-m', 'late'], {
      env: { ...env, SUNOYE_BROKER: `mqtt://127.0.0.1:${port}` },
    });
    // The broker's port opens three seconds later (a front that passes every version on).
    const opening = new Promise<Front>((resolve, reject) =>
      setTimeout(() => void startFront(broker.port, port).then(resolve, reject), 3000),
    );
    const sent = await publishing;
    front = await opening;
    expect(sent.code, sent.stderr).to.equal(0);
    expect(Date.now() - started).to.be.above(2900);
    expect(await listener.exited).to.equal(0);
    expect(listener.stdoutLines.join('\n')).to.include('"message":"late"');
  });

  it('publish gives up on a port that never opens after about the connect timeout (exit 4)', async function () {
    const port = await freePort();
    const env = {
      HOME: dir,
      SUNOYE_HOME: join(dir, 'home'),
      SUNOYE_BROKER: `mqtt://127.0.0.1:${port}`,
    };
    for (const [args, seconds] of [
      [[], 10],
      [['--connect-timeout', '3'], 3],
    ] as const) {
      const started = Date.now();
      const run = await runProgram('publish', ['--topic', 't', '--plain', '-m', 'x', ...args], {
        env,
      });
      const took = (Date.now() - started) / 1000;
      expect(run.code).to.equal(4);
      expect(run.stderr).to.equal(
        `publish: cannot connect to the broker mqtt://127.0.0.1:${port}: connection refused; is a broker running there? \`room serve\` starts one\n`,
      );
      expect(took, args.join(' ')).to.be.within(seconds - 0.1, seconds + 2);
    }
  });
});
