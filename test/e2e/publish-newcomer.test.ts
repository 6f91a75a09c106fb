// `publish` as a newcomer meets it (issue 12, items 2, 5 and 8): a room closed under a running
// publish, Ctrl-C while the broker is away and at a password prompt, a prompt that says when the
// broker is away, and what people bring from mosquitto_pub and ntfy: host:port for the broker,
// the message as words, -m once, a JSON summary, progress on a terminal.
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  createRoom,
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { startInScript, type ScriptTerminal } from '../helpers/script.js';
import { shellQuote } from '../helpers/shell.js';
import { elapse, waitFor } from '../helpers/wait.js';
import { scratchUser } from '../helpers/window.js';
import { openStore } from '../../src/db/index.js';
import { startBroker } from '../../src/mqtt/broker.js';
import { encodePlain, type ChatPayload } from '../../src/protocol/index.js';

const binDir = fileURLToPath(new URL('../../bin/', import.meta.url));
/** The shell words that run one of the built programs. */
const program = (name: 'room' | 'listen' | 'publish', args: string[]): string =>
  [process.execPath, join(binDir, `${name}.js`), ...args].map(shellQuote).join(' ');

describe('publish, as a newcomer meets it', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  const running: RunningProgram[] = [];
  const terminals: ScriptTerminal[] = [];
  const user = (name: string, extra: Record<string, string> = {}) =>
    scratchUser(dir, broker.url, name, extra);

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-publish-newcomer-'));
    broker = await startAedes();
  });
  afterEach(async function () {
    await stopAll(terminals);
    await stopAll(running);
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('a room closed under a running publish', function () {
    it('stops with exit 3 at the closed notice of `room close`, and says what was sent', async function () {
      const room = await createRoom(user('alice'));
      const listener = await joinedListener(room, [], user('alice'), running);
      const publisher = startProgram('publish', [room, '--json'], user('alice'));
      running.push(publisher);
      publisher.child.stdin.on('error', () => undefined);
      publisher.child.stdin.write('one\ntwo\n');
      await listener.line('the second line', (l) => l.includes('"message":"two"'));
      const close = await runProgram('room', ['close', room], { env: user('alice') });
      expect(close.code, close.stderr).to.equal(0);
      const closedAt = Date.now();
      expect(await publisher.exited, publisher.stderr()).to.equal(3);
      // What docs/commands.md promises for `room close`: publishers stop within 3 s (told by the
      // notice at once, or else by the registry's look every 3 s). A shorter bound would not tell
      // the two apart either: a look comes within any 2.5 s after the close five times in six.
      expect(Date.now() - closedAt).to.be.below(3000);
      expect(publisher.stderr()).to.equal(
        `publish: room ${room} was closed; 2 lines sent before it, 0 not sent\n`,
      );
      expect(jsonLines(publisher.stdoutLines)).to.deep.equal([
        { room, topic: `sunoye/room/${room}`, read: 2, sent: 2, delivered: 2 },
      ]);
      expect(await listener.exited).to.equal(0);
    });

    it('learns of a closing nobody announced from the registry, sends nothing after it, and takes no forged notice for one', async function () {
      const room = await createRoom(user('alice'), ['--plain']);
      const topic = `sunoye/room/${room}`;
      const watcher = await mqtt.connectAsync(broker.url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      type Seen = { type: string; from: string; message?: string };
      const seen: Seen[] = [];
      watcher.on('message', (_t, payload) => seen.push(JSON.parse(payload.toString()) as Seen));
      await watcher.subscribeAsync(topic, { qos: 1 });
      try {
        const publisher = startProgram('publish', [room], user('alice'));
        running.push(publisher);
        publisher.child.stdin.on('error', () => undefined);
        publisher.child.stdin.write('one\n');
        await waitFor('the first line', () => seen.some((m) => m.message === 'one'));
        // Anyone may send a `closed` notice: the registry says the room is open.
        const forged: ChatPayload = {
          type: 'notice',
          from: 'mallory',
          notice: 'closed',
          event: 'closed',
        };
        await watcher.publishAsync(topic, encodePlain(forged), { qos: 1 });
        await waitFor(
          'the warning',
          () =>
            publisher
              .stderr()
              .includes(`warning: ignored a "closed" notice for room ${room}, which is still open`),
          { program: publisher },
        );
        publisher.child.stdin.write('two\n');
        await waitFor('the second line', () => seen.some((m) => m.message === 'two'));
        // Closed in the registry only, as when `room close` could not reach the broker.
        const store = await openStore(user('alice').SUNOYE_DB!);
        try {
          await store.closeRoom(room);
        } finally {
          await store.close();
        }
        // Lines keep coming, as from `tail -f`, until publish learns of it and stops.
        let written = 0;
        const feed = setInterval(() => publisher.child.stdin.write(`more ${++written}\n`), 50);
        const code = await publisher.exited;
        clearInterval(feed);
        expect(code, publisher.stderr()).to.equal(3);
        const said =
          /publish: room \d+ was closed; (\d+) lines sent before it, (\d+) not sent\n$/.exec(
            publisher.stderr(),
          );
        expect(said, publisher.stderr()).to.not.equal(null);
        // What it says it sent is what the broker carried; nothing came after.
        const marker: ChatPayload = { type: 'message', from: 'marker', message: 'the end' };
        await watcher.publishAsync(topic, encodePlain(marker), { qos: 1 });
        await waitFor('the marker', () => seen.some((m) => m.from === 'marker'));
        const sent = seen.filter((m) => m.type === 'message' && m.from === 'alice');
        expect(sent).to.have.length(Number(said![1]));
        expect(sent.length).to.be.at.least(2);
        expect(written + 2).to.be.at.least(sent.length + Number(said![2]));
      } finally {
        await watcher.endAsync();
      }
    });
  });

  describe('Ctrl-C and a broker that goes away', function () {
    it('exits 130 at Ctrl-C at a password prompt (publish, listen, room join)', async function () {
      const room = await createRoom(user('alice'));
      for (const [name, args] of [
        ['publish', [room]],
        ['listen', [room]],
        ['room', ['join', room]],
      ] as const) {
        const terminal = startInScript(`exec ${program(name, [...args])}`, user('bob'));
        terminals.push(terminal);
        await waitFor(
          `${name}'s password prompt`,
          () => terminal.output().includes(`Password for room ${room}: `),
          { program: terminal },
        );
        terminal.type('\x03');
        expect(await terminal.exited, `${name}: ${terminal.output()}`).to.equal(130);
        expect(terminal.output()).to.match(/interrupted at the password prompt\r?\n$/);
      }
    });

    it('says at the prompt when the broker is away and when it is back; what was typed meanwhile is delivered', async function () {
      let own = await startBroker('127.0.0.1', 0);
      try {
        const env = user('alice', { SUNOYE_BROKER: own.url });
        const room = await createRoom(env);
        const terminal = startInScript(`exec ${program('publish', [room])}`, env);
        terminals.push(terminal);
        await waitFor('the prompt', () => terminal.output().includes('Ctrl-D ends.'), {
          program: terminal,
        });
        terminal.type('one\n');
        await waitFor('the prompt after the first line', () => terminal.count('> ') >= 2, {
          program: terminal,
        });
        await own.close();
        await waitFor('word that the broker is away', () =>
          terminal
            .output()
            .includes(
              'broker unreachable; lines are kept and sent when it is back (giving up after 30 s without it)',
            ),
        );
        expect(terminal.output()).to.include('(broker unreachable) > ');
        terminal.type('two\n');
        await waitFor(
          'the prompt after the second line',
          () => (terminal.count('(broker unreachable) > ') >= 2 ? true : false),
          { program: terminal },
        );
        own = await startBroker('127.0.0.1', own.port);
        await waitFor(
          'word that the broker is back',
          () => terminal.output().includes('broker reachable again\r\n> '),
          { program: terminal },
        );
        terminal.type('\x04');
        expect(await terminal.exited, terminal.output()).to.equal(0);
        expect(terminal.output()).to.include(`sent 2 messages to room ${room}`);
      } finally {
        await own.close();
      }
    });

    it('one Ctrl-C while the broker is away: stops at once, says what was not delivered, exits 130', async function () {
      const own = await startBroker('127.0.0.1', 0);
      try {
        const env = user('alice', { SUNOYE_BROKER: own.url });
        const room = await createRoom(env);
        const terminal = startInScript(`exec ${program('publish', [room])}`, env);
        terminals.push(terminal);
        await waitFor('the prompt', () => terminal.output().includes('Ctrl-D ends.'), {
          program: terminal,
        });
        terminal.type('one\n');
        await waitFor('the prompt after the first line', () => terminal.count('> ') >= 2, {
          program: terminal,
        });
        await own.close();
        await waitFor(
          'word that the broker is away',
          () => terminal.output().includes('broker unreachable'),
          { program: terminal },
        );
        terminal.type('two\n');
        await waitFor(
          'the prompt after the second line',
          () => (terminal.count('(broker unreachable) > ') >= 2 ? true : false),
          { program: terminal },
        );
        terminal.type('three\n');
        await waitFor(
          'the prompt after the third line',
          () => (terminal.count('(broker unreachable) > ') >= 3 ? true : false),
          { program: terminal },
        );
        const pressed = Date.now();
        terminal.type('\x03');
        expect(await terminal.exited, terminal.output()).to.equal(130);
        expect(Date.now() - pressed).to.be.below(2500);
        // On a terminal, "publish:" is red (escapes around it).
        expect(terminal.output()).to.match(
          /publish:\S* interrupted; 2 of 3 messages not delivered, 1 was\r\n$/,
        );
      } finally {
        await own.close();
      }
    });
    it('Ctrl-C while still connecting says the message was not sent (exit 130)', async function () {
      // A "broker" that hangs up on every connection: publish keeps trying within its timeout.
      let attempts = 0;
      const hangUp = createServer((socket) => {
        attempts += 1;
        socket.destroy();
      });
      await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = hangUp.address() as AddressInfo;
        const env = user('alice', { SUNOYE_BROKER: `127.0.0.1:${port}` });
        const room = await createRoom(env);
        const publisher = startProgram('publish', [room, 'hello', 'there'], env);
        running.push(publisher);
        await waitFor('a connection attempt', () => attempts > 0);
        publisher.child.kill('SIGINT');
        expect(await publisher.exited).to.equal(130);
        expect(publisher.stderr()).to.equal(
          'publish: interrupted while connecting to the broker; the message was not sent\n',
        );
      } finally {
        hangUp.close();
      }
    });
  });

  describe('conventions from mosquitto_pub and ntfy', function () {
    it('takes the broker as host:port without a scheme: in a flag, the environment and the config file', async function () {
      const hostPort = `127.0.0.1:${broker.port}`;
      const dave = user('dave', { SUNOYE_BROKER: hostPort });
      const room = await createRoom(dave);
      const listener = await joinedListener(room, [], dave, running);
      // The flag wins over an environment that names a port nobody listens on.
      const flag = await runProgram('publish', [room, '--broker', hostPort, '-m', 'by flag'], {
        env: { ...dave, SUNOYE_BROKER: 'mqtt://127.0.0.1:1' },
      });
      expect(flag.code, flag.stderr).to.equal(0);
      await listener.line('the message', (l) => l.includes('"message":"by flag"'));
      // The config file: `room close` tells the listener over the broker it names.
      writeFileSync(join(dave.SUNOYE_HOME!, 'config.json'), JSON.stringify({ broker: hostPort }));
      const fromFile = { ...dave };
      delete fromFile.SUNOYE_BROKER;
      const close = await runProgram('room', ['close', room], { env: fromFile });
      expect(close.code, close.stderr).to.equal(0);
      expect(await listener.exited).to.equal(0);
      expect(listener.stderr()).to.include(`room ${room} was closed`);
      for (const [junk, message] of [
        ['localhost:port', /^publish: the broker is neither host\[:port\] nor a URL; use e\.g\./],
        ['a broker', /^publish: the broker URL is not a URL; use e\.g\./],
      ] as const) {
        const run = await runProgram('publish', [room, '--broker', junk, '-m', 'x'], { env: dave });
        expect(run.code, run.stderr).to.equal(2);
        expect(run.stderr).to.match(message);
        expect(run.stderr.split('\n')).to.have.length(2);
      }
    });

    it('sends the words after the room as one message; words with -m, or -m twice, are usage errors', async function () {
      const room = await createRoom(user('alice'));
      const listener = await joinedListener(room, [], user('alice'), running);
      const words = await runProgram('publish', [room, 'some', 'words,', 'one  message'], {
        env: user('alice'),
      });
      expect(words.code, words.stderr).to.equal(0);
      expect(words.stderr).to.equal(`sent 1 message to room ${room}\n`);
      await listener.line('the words', (l) => l.includes('"message":"some words, one  message"'));
      for (const [args, message] of [
        [
          [room, 'hello', '-m', 'hi'],
          'give the message as words after the room or with -m, not both',
        ],
        [[room, '-m', 'a', '-m', 'b'], '-m was given twice; give it once'],
        [
          [room, '-m', 'a', '--message', 'b'],
          '-m and --message are one option, given twice; give it once',
        ],
      ] as const) {
        const run = await runProgram('publish', [...args], { env: user('alice') });
        expect(run.code, run.stderr).to.equal(2);
        expect(run.stderr).to.equal(`publish: ${message}\n`);
      }
      // With --topic there is no room: every argument is a word of the message.
      const topic = 'chat/lobby';
      const watcher = await mqtt.connectAsync(broker.url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      const seen: string[] = [];
      watcher.on('message', (_t, payload) => seen.push(payload.toString()));
      await watcher.subscribeAsync(topic, { qos: 1 });
      try {
        const raw = await runProgram('publish', ['--topic', topic, '--plain', 'hello', 'there'], {
          env: user('alice'),
        });
        expect(raw.code, raw.stderr).to.equal(0);
        await waitFor('the message on the raw topic', () => seen.length > 0);
        expect(JSON.parse(seen[0]!)).to.include({ type: 'message', message: 'hello there' });
      } finally {
        await watcher.endAsync();
      }
    });

    it('prints its summary as one JSON object on stdout with --json; errors stay on stderr', async function () {
      const room = await createRoom(user('alice'));
      const topic = `sunoye/room/${room}`;
      const one = await runProgram('publish', [room, '--json', '-m', 'hi'], { env: user('alice') });
      expect(one.code, one.stderr).to.equal(0);
      expect(one.stderr).to.equal('');
      expect(one.stdout.split('\n')).to.have.length(2);
      expect(JSON.parse(one.stdout)).to.deep.equal({
        room,
        topic,
        read: 1,
        sent: 1,
        delivered: 1,
      });
      const piped = await runProgram('publish', [room, '--json'], {
        env: user('alice'),
        input: 'a\nb\n\nc\n',
      });
      expect(piped.code, piped.stderr).to.equal(0);
      expect(JSON.parse(piped.stdout)).to.deep.equal({
        room,
        topic,
        read: 3,
        sent: 3,
        delivered: 3,
      });
      const refused = await runProgram('publish', ['999999', '--json', '-m', 'x'], {
        env: user('alice'),
      });
      expect(refused.code).to.equal(3);
      expect(refused.stdout).to.equal('');
      expect(refused.stderr).to.match(/^publish: there is no room 999999/);
    });

    it('shows progress for a long pipe when stderr is a terminal, over itself, and erases it at the end', async function () {
      const room = await createRoom(user('alice'));
      // A pipe that lasts longer than the second the progress line waits for.
      const pipe = `(seq 1 2000; sleep 1.5; seq 2001 4000) | ${program('publish', [room])}`;
      const terminal = startInScript(pipe, user('alice'));
      terminals.push(terminal);
      expect(await terminal.exited, terminal.output()).to.equal(0);
      const out = terminal.output();
      expect(out).to.match(/^\r\d+ lines sent, \d+ lines\/s/);
      // Drawn over itself, never a line of its own, and erased before the summary.
      expect(out).to.not.match(/lines\/s[^\r]*\n/);
      expect(out).to.match(new RegExp(`\\r\\x1b\\[2Ksent 4000 messages to room ${room}\\r\\n$`));
    });

    it('shows no progress when stderr is not a terminal', async function () {
      const room = await createRoom(user('alice'));
      const numbers = (from: number, to: number): string =>
        Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('');
      const publisher = startProgram('publish', [room], user('alice'));
      running.push(publisher);
      publisher.child.stdin.write(numbers(1, 2000));
      await elapse(1500); // the subject: a pipe that outlasts the progress line's wait
      publisher.child.stdin.end(numbers(2001, 4000));
      expect(await publisher.exited, publisher.stderr()).to.equal(0);
      expect(publisher.stderr()).to.equal(`sent 4000 messages to room ${room}\n`);
    });
  });
});
