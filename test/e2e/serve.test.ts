// `room serve`, the embedded broker, as a user runs it (over TCP and WebSocket); and publish giving
// up on a dead broker.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { startAedes } from '../helpers/brokers.js';
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

describe('room serve', function () {
  this.timeout(60_000);
  let dir: string;
  const running: RunningProgram[] = [];
  const start = (...args: Parameters<typeof startProgram>) => {
    const p = startProgram(...args);
    running.push(p);
    return p;
  };

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-serve-'));
  });
  afterEach(async function () {
    await stopAll(running);
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries a room: 1..1000 piped in arrive in order, and nothing is in clear on the wire', async function () {
    const serve = start('room', ['serve', '--port', '0'], { HOME: dir });
    const url = await serve.line('the broker URL', (l) => /^mqtt:\/\/127\.0\.0\.1:\d+$/.test(l));
    const env = { HOME: dir, SUNOYE_BROKER: url, SUNOYE_NAME: 'alice' };
    const room = await createRoom(env);
    const raw = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
    const wire: Buffer[] = [];
    raw.on('message', (_t, p) => wire.push(Buffer.from(p)));
    await raw.subscribeAsync('#', { qos: 1 });

    const listener = start('listen', [room, '--json', '--count', '1000'], env);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'));
    const numbers = Array.from({ length: 1000 }, (_, i) => String(i + 1));
    const sent = await runProgram('publish', [room], { env, input: `${numbers.join('\n')}\n` });
    expect(sent.code, sent.stderr).to.equal(0);
    expect(await listener.exited).to.equal(0);
    const got = jsonLines(listener.stdoutLines).filter((m) => m.type === 'message');
    expect(got.map((m) => m.message)).to.deep.equal(numbers);

    // Published after the listener had every line, so the broker routed it after all of them.
    await raw.publishAsync(`sunoye/room/${room}`, 'end-of-test-marker', { qos: 1 });
    await waitFor('the raw subscriber to see all of it', () =>
      wire.some((p) => p.toString() === 'end-of-test-marker'),
    );
    await raw.endAsync();
    const sealed = wire.filter((p) => p.toString() !== 'end-of-test-marker');
    // The join and leave notices and the lines, the lines in batches of one or more.
    expect(sealed.length).to.be.within(3, 1002);
    for (const payload of sealed) {
      const envelope = JSON.parse(payload.toString()) as Record<string, unknown>;
      expect(Object.keys(envelope).sort()).to.deep.equal(['c', 'n', 'sunoye']);
    }

    const second = await runProgram('room', ['serve', '--port', url.split(':').at(-1)!], {
      env: { HOME: dir },
    });
    expect(second.code).to.equal(1);
    expect(second.stderr).to.match(
      /^room: a broker already listens on 127\.0\.0\.1:\d+; you do not need room serve/,
    );

    serve.child.kill('SIGTERM');
    expect(await serve.exited).to.equal(0);
    expect(serve.stderr()).to.include('broker stopped');
  });

  it('also serves WebSocket with --ws-port: ws:// and mqtt:// programs share a room both ways', async function () {
    const serve = start('room', ['serve', '--port', '0', '--ws-port', '0'], { HOME: dir });
    await serve.line('the ws:// URL', (l) => l.startsWith('ws://'));
    const [url, wsUrl] = serve.stdoutLines as [string, string];
    expect(url).to.match(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(wsUrl).to.match(/^ws:\/\/127\.0\.0\.1:\d+$/);
    // stderr is a pipe of its own: its line may come in after stdout's.
    await waitFor(
      'the listening line',
      () => serve.stderr().includes(`listening on ${url} and ${wsUrl}`),
      { program: serve },
    );
    const env = { HOME: dir, SUNOYE_BROKER: url, SUNOYE_NAME: 'alice' };
    const room = await createRoom(env);

    const overWs = await joinedListener(room, ['--broker', wsUrl, '--count', '2'], env, running);
    const overTcp = await joinedListener(room, ['--broker', url, '--count', '2'], env, running);
    for (const [broker, message] of [
      [url, 'over mqtt://'],
      [wsUrl, 'over ws://'],
    ] as const) {
      const sent = await runProgram('publish', [room, '--broker', broker, '-m', message], { env });
      expect(sent.code, sent.stderr).to.equal(0);
    }
    for (const l of [overWs, overTcp]) {
      expect(await l.exited).to.equal(0);
      const got = jsonLines(l.stdoutLines).filter((m) => m.type === 'message');
      expect(got.map((m) => m.message)).to.deep.equal(['over mqtt://', 'over ws://']);
      expect(l.stderr()).to.equal('');
    }

    // Ctrl-C closes both listeners, a client still connected over WebSocket included.
    const raw = await mqtt.connectAsync(wsUrl, { protocolVersion: 4, reconnectPeriod: 0 });
    const dropped = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    serve.child.kill('SIGINT');
    expect(await serve.exited).to.equal(0);
    expect(serve.stderr()).to.include('broker stopped');
    await dropped;
    await raw.endAsync();
  });

  it('says in one line that a taken --ws-port is taken, exit 1', async function () {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const run = await runProgram('room', ['serve', '--port', '0', '--ws-port', String(port)], {
        env: { HOME: dir },
      });
      expect(run.code).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.equal(
        `room: something already listens on 127.0.0.1:${port}; give another --ws-port (0: a free one)\n`,
      );
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('makes publish give up after --timeout when the broker is gone, counting what was lost', async function () {
    const broker = await startAedes();
    const env = { HOME: dir, SUNOYE_BROKER: broker.url, SUNOYE_NAME: 'alice' };
    try {
      const room = await createRoom(env);
      const listener = start('listen', [room, '--json'], env);
      await listener.line('the join notice', (l) => l.includes('"event":"join"'));
      const publisher = start('publish', [room, '--timeout', '2'], env);
      publisher.child.stdin.write('1\n2\n3\n4\n5\n');
      await waitFor(
        'five messages at the listener',
        () => jsonLines(listener.stdoutLines).filter((m) => m.type === 'message').length === 5,
        { program: listener },
      );
      await broker.stop();
      publisher.child.stdin.end('6\n7\n8\n');
      const started = Date.now();
      expect(await publisher.exited).to.equal(4);
      expect(Date.now() - started).to.be.below(10_000);
      expect(publisher.stderr()).to.match(
        /^publish: 3 of 8 messages not acknowledged by the broker mqtt:\/\/127\.0\.0\.1:\d+ within 2 s; 5 were delivered\n$/,
      );
    } finally {
      await broker.stop().catch(() => undefined);
    }
  });
});
