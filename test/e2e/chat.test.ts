// Chat end to end: the built listen, publish and room programs against a real broker (the
// embedded aedes one, and a mosquitto process) and a real registry (SQLite, and MySQL).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { seal } from '../../src/protocol/index.js';
import { TEST_SIGNER } from '../helpers/signer.js';
import {
  brokerEnv,
  requireMosquitto,
  startAedes,
  startMosquitto,
  type MosquittoBroker,
  type TestBroker,
} from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { requireMysql, scratchDatabase } from '../helpers/mysql.js';
import { jsonLines, startProgram, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

interface Setup {
  name: string;
  broker(ctx: Mocha.Context, dir: string): Promise<TestBroker | MosquittoBroker>;
  db(ctx: Mocha.Context, dir: string): Promise<{ url: string; drop(): Promise<void> }>;
}

const sqlite = (_ctx: Mocha.Context, dir: string) =>
  Promise.resolve({ url: `sqlite:${join(dir, 'registry.db')}`, drop: () => Promise.resolve() });
const mysql = async (ctx: Mocha.Context) => {
  await requireMysql(ctx);
  const db = await scratchDatabase();
  return { url: db.url, drop: () => db.drop() };
};
const mosquitto = (ctx: Mocha.Context, dir: string) => {
  requireMosquitto(ctx);
  return startMosquitto(join(dir, 'mosquitto'));
};

const setups: Setup[] = [
  { name: 'aedes + SQLite', broker: () => startAedes(), db: sqlite },
  { name: 'mosquitto + SQLite', broker: mosquitto, db: sqlite },
  { name: 'mosquitto + MySQL', broker: mosquitto, db: mysql },
];

/** MQTT.js credentials: none for aedes, a user of the test's password file for mosquitto. */
type Login = { username?: string; password?: string };
const login = (who: { name: string; password: string } | undefined): Login =>
  who ? { username: who.name, password: who.password } : {};
const credentials = (broker: TestBroker | MosquittoBroker) =>
  'user' in broker ? broker : undefined;

/** A raw MQTT client that records every payload on the sunoye topics. */
async function rawSubscriber(
  url: string,
  topic: string,
  login: Login,
): Promise<{ payloads: Buffer[]; client: mqtt.MqttClient }> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, ...login });
  const payloads: Buffer[] = [];
  client.on('message', (_t, p) => payloads.push(Buffer.from(p)));
  await client.subscribeAsync(topic, { qos: 1 });
  return { payloads, client };
}

for (const setup of setups) {
  describe(`chat over ${setup.name}`, function () {
    this.timeout(120_000);
    let dir: string;
    let broker: TestBroker | MosquittoBroker;
    let db: { url: string; drop(): Promise<void> };
    let env: Record<string, string>;
    const running: RunningProgram[] = [];

    const user = (name: string, extra: Record<string, string> = {}) => ({
      ...env,
      SUNOYE_NAME: name,
      SUNOYE_HOME: join(dir, `home-${name}`),
      ...extra,
    });
    const listen = (name: string, args: string[], extra: Record<string, string> = {}) => {
      const program = startProgram('listen', args, user(name, extra));
      running.push(program);
      return program;
    };
    /** Creates a room as alice and has bob join it; returns its number and password. */
    const newRoom = async (args: string[] = []) => {
      const created = await runProgram('room', ['create', '--json', ...args], {
        env: user('alice'),
      });
      expect(created.code, created.stderr).to.equal(0);
      const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };
      const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
        env: user('bob'),
        input: `${password}\n`,
      });
      expect(joined.code, joined.stderr).to.equal(0);
      return { room, password };
    };
    const joinedNotice = (p: RunningProgram, name: string) =>
      p.line(
        `${name}'s join notice`,
        (l) => l.includes('"event":"join"') && l.includes(`"from":"${name}"`),
      );

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-chat-'));
      db = await setup.db(this, dir);
      broker = await setup.broker(this, dir);
      env = { HOME: dir, SUNOYE_DB: db.url, ...brokerEnv(broker) };
    });

    afterEach(async function () {
      await stopAll(running);
    });

    after(async function () {
      await broker?.stop();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('delivers 1,000 piped lines complete, in order and once, and the broker sees no plaintext', async function () {
      const { room } = await newRoom();
      const raw = await rawSubscriber(broker.url, 'sunoye/#', login(credentials(broker)?.admin));
      try {
        const bob = listen('bob', [room, '--json', '--count', '1000']);
        const first = await joinedNotice(bob, 'bob');
        expect(bob.stdoutLines[0]).to.equal(first);
        const info = await runProgram('room', ['info', room, '--json'], { env: user('carol') });
        expect(JSON.parse(info.stdout))
          .to.include({ members: 1 })
          .and.to.have.property('names')
          .that.deep.equals(['bob']);

        const lines = Array.from({ length: 1000 }, (_, i) => `line ${i + 1} secret-${i + 1}`);
        const sent = await runProgram('publish', [room], {
          env: user('alice'),
          input: `${lines.join('\n')}\n`,
        });
        expect(sent.code, sent.stderr).to.equal(0);
        expect(sent.stderr).to.equal(`sent 1000 messages to room ${room}\n`);
        expect(await bob.exited).to.equal(0);
        const messages = jsonLines(bob.stdoutLines).filter((m) => m.type === 'message');
        expect(messages.map((m) => m.message)).to.deep.equal(lines);
        expect(messages.every((m) => m.from === 'alice')).to.equal(true);
        expect(new Set(messages.map((m) => m.id)).size).to.equal(1000);
        expect(bob.stderr()).to.equal('');

        // Published after bob had every line, so the broker routed it after all of them.
        const marker = await mqtt.connectAsync(broker.url, {
          protocolVersion: 4,
          reconnectPeriod: 0,
          ...login(credentials(broker)?.admin),
        });
        await marker.publishAsync(`sunoye/room/${room}`, 'end-of-test-marker', { qos: 1 });
        await marker.endAsync();
        await waitFor('the raw subscriber to see every payload', () =>
          raw.payloads.some((p) => p.toString() === 'end-of-test-marker'),
        );
        const everything = Buffer.concat(raw.payloads).toString('utf8');
        expect(everything).to.not.include('secret-');
        expect(everything).to.not.include('alice');
        expect(everything).to.not.include('line 1');
      } finally {
        await raw.client.endAsync();
      }
    });

    it('stops at --count even in the middle of a batch of piped lines', async function () {
      const { room } = await newRoom();
      const bob = listen('bob', [room, '--json', '--count', '7']);
      await joinedNotice(bob, 'bob');
      const lines = Array.from({ length: 200 }, (_, i) => `burst ${i + 1}`);
      const sent = await runProgram('publish', [room], {
        env: user('alice'),
        input: `${lines.join('\n')}\n`,
      });
      expect(sent.code, sent.stderr).to.equal(0);
      expect(await bob.exited).to.equal(0);
      const messages = jsonLines(bob.stdoutLines).filter((m) => m.type === 'message');
      expect(messages.map((m) => m.message)).to.deep.equal(lines.slice(0, 7));
    });

    it('ignores payloads sealed with the wrong key or malformed, with a warning, and keeps going', async function () {
      const { room } = await newRoom();
      const bob = listen('bob', [room, '--json', '--count', '1']);
      await joinedNotice(bob, 'bob');
      const intruder = await mqtt.connectAsync(broker.url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        ...login(credentials(broker)?.user),
      });
      const topic = `sunoye/room/${room}`;
      await intruder.publishAsync(
        topic,
        seal(
          randomBytes(32),
          room,
          { type: 'message', from: 'mallory', message: 'forged' },
          TEST_SIGNER,
        ),
        { qos: 1 },
      );
      await intruder.publishAsync(topic, '{"type":"message","from":"mallory","message":"plain"}', {
        qos: 1,
      });
      await intruder.publishAsync(topic, Buffer.from([0xff, 0x00, 0x1b]), { qos: 1 });
      await intruder.endAsync();
      await waitFor(
        'a warning about the forged payload',
        () => bob.stderr().includes('cannot decrypt'),
        { program: bob },
      );
      expect(
        await runProgram('publish', [room, '-m', 'genuine'], { env: user('alice') }),
      ).to.include({ code: 0 });
      expect(await bob.exited).to.equal(0);
      const messages = jsonLines(bob.stdoutLines).filter((m) => m.type === 'message');
      expect(messages.map((m) => m.message)).to.deep.equal(['genuine']);
      expect(bob.stderr()).to.match(
        /^warning: ignored a payload on sunoye\/room\/\d{6}: cannot decrypt/,
      );
    });

    it('tells the others when a listener is killed, and drops it from the room', async function () {
      const { room } = await newRoom();
      const fast = { SUNOYE_KEEPALIVE: '2', SUNOYE_LEASE: '2' };
      const bob = listen('bob', [room, '--json'], fast);
      await joinedNotice(bob, 'bob');
      const carol = listen('carol', [room, '--json'], {
        ...fast,
        SUNOYE_HOME: join(dir, 'home-bob'),
      });
      await joinedNotice(carol, 'carol');
      await waitFor('two members', async () => {
        const info = await runProgram('room', ['info', room, '--json'], { env: user('x') });
        return (JSON.parse(info.stdout) as { members: number }).members === 2;
      });
      carol.child.kill('SIGKILL');
      const lost = await bob.line(
        'a lost notice for carol',
        (l) => l.includes('"event":"lost"') && l.includes('"from":"carol"'),
        15_000,
      );
      expect(JSON.parse(lost)).to.include({ type: 'notice', notice: 'User carol timed out.' });
      await waitFor(
        'carol to leave the member list',
        async () => {
          const info = JSON.parse(
            (await runProgram('room', ['info', room, '--json'], { env: user('x') })).stdout,
          ) as { names: string[] };
          return info.names.join() === 'bob';
        },
        15_000,
        250,
      );
      bob.child.kill('SIGTERM');
      expect(await bob.exited).to.equal(0);
      const after = JSON.parse(
        (await runProgram('room', ['info', room, '--json'], { env: user('x') })).stdout,
      ) as {
        members: number;
      };
      expect(after.members).to.equal(0);
    });

    it('ends every listener when the room is closed, and refuses closed rooms', async function () {
      const { room, password } = await newRoom();
      const bob = listen('bob', [room]);
      const carol = listen('carol', [room], { SUNOYE_PASSWORD: password });
      await bob.line('bob joined', (l) => l.includes('User bob is now subscribed'));
      await carol.line('carol joined', (l) => l.includes('User carol is now subscribed'));
      const closed = await runProgram('room', ['close', room], { env: user('alice') });
      expect(closed.code, closed.stderr).to.equal(0);
      expect(await bob.exited).to.equal(0);
      expect(await carol.exited).to.equal(0);
      expect(bob.stdoutLines.join('\n')).to.include(`Room ${room} was closed by alice.`);
      expect(bob.stderr()).to.include(`room ${room} was closed`);
      const late = await runProgram('publish', [room, '-m', 'anyone?'], { env: user('bob') });
      expect(late.code).to.equal(3);
      expect(late.stderr).to.match(/is closed/);
      const lateListen = await runProgram('listen', [room], { env: user('bob') });
      expect(lateListen.code).to.equal(3);
    });

    it('chats in MQTT-Chat format on a raw topic, and survives its plain-text will', async function () {
      const topic = `chat/${randomBytes(4).toString('hex')}`;
      // Outside sunoye's prefix: on mosquitto only the operator account may use it.
      const admin = credentials(broker)?.admin;
      const operator: Record<string, string> = admin
        ? { SUNOYE_BROKER_USER: admin.name, SUNOYE_BROKER_PASSWORD: admin.password }
        : {};
      const bob = listen('bob', ['--topic', topic, '--plain', '--json', '--count', '2'], operator);
      await joinedNotice(bob, 'bob');
      const legacy = await mqtt.connectAsync(broker.url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        ...login(admin),
      });
      await legacy.publishAsync(
        topic,
        JSON.stringify({ type: 'message', from: 'oldtimer', message: 'hi from MQTT-Chat' }),
        { qos: 1 },
      );
      await legacy.publishAsync(topic, 'User ghost timed out.\n', { qos: 1 });
      await legacy.publishAsync(topic, 'not json at all', { qos: 1 });
      const seen: Buffer[] = [];
      legacy.on('message', (_t, p) => seen.push(Buffer.from(p)));
      await legacy.subscribeAsync(topic, { qos: 1 });
      const sent = await runProgram('publish', ['--topic', topic, '--plain', '-m', 'hi back'], {
        env: user('alice', operator),
      });
      expect(sent.code, sent.stderr).to.equal(0);
      expect(await bob.exited).to.equal(0);
      const out = jsonLines(bob.stdoutLines);
      expect(out.filter((m) => m.type === 'message').map((m) => [m.from, m.message])).to.deep.equal(
        [
          ['oldtimer', 'hi from MQTT-Chat'],
          ['alice', 'hi back'],
        ],
      );
      expect(out.find((m) => m.event === 'lost')).to.include({
        from: 'ghost',
        notice: 'User ghost timed out.',
      });
      await waitFor('the MQTT-Chat client to read our message', () =>
        seen.some((p) => {
          const m = JSON.parse(p.toString()) as Record<string, unknown>;
          return m.type === 'message' && m.from === 'alice' && m.message === 'hi back';
        }),
      );
      await legacy.endAsync();
    });

    it('stops at a bad input line, delivers what came before, and names the line', async function () {
      const { room } = await newRoom();
      const bob = listen('bob', [room, '--json', '--count', '2']);
      await joinedNotice(bob, 'bob');
      const input = Buffer.concat([
        Buffer.from('first\r\n\nsecond\n'),
        Buffer.from([0x66, 0xff, 0x0a]),
        Buffer.from('never\n'),
      ]);
      const sent = await runProgram('publish', [room], {
        env: user('alice'),
        input,
      });
      expect(sent.code, sent.stderr).to.equal(2);
      expect(sent.stderr).to.equal(
        `sent 2 messages to room ${room}\npublish: line 4 is not valid UTF-8; nothing from it on was sent\n`,
      );
      expect(await bob.exited).to.equal(0);
      expect(
        jsonLines(bob.stdoutLines)
          .filter((m) => m.type === 'message')
          .map((m) => m.message),
      ).to.deep.equal(['first', 'second']);
    });

    if (setup.name.startsWith('mosquitto')) {
      it('loses nothing and keeps the order when mosquitto restarts in the middle of a 20,000-line pipe', async function () {
        const { room } = await newRoom();
        const bob = listen('bob', [room, '--json', '--count', '20000']);
        await joinedNotice(bob, 'bob');
        const lines = Array.from({ length: 20_000 }, (_, i) => `n${i + 1}`);
        const publisher = startProgram('publish', [room, '--timeout', '60'], user('alice'));
        running.push(publisher);
        const half = lines.slice(0, 10_000).join('\n') + '\n';
        publisher.child.stdin.write(half);
        await waitFor('bob to receive some of the lines', () => bob.stdoutLines.length > 2000, {
          timeoutMs: 30_000,
          program: bob,
        });
        await (broker as MosquittoBroker).restart();
        publisher.child.stdin.end(lines.slice(10_000).join('\n') + '\n');
        expect(await publisher.exited, publisher.stderr()).to.equal(0);
        expect(await bob.exited, bob.stderr()).to.equal(0);
        const shown = jsonLines(bob.stdoutLines).filter((m) => m.type === 'message');
        const got = shown.map((m) => m.message as string);
        expect(got.length).to.equal(20_000);
        expect(new Set(got).size).to.equal(20_000);
        // In order: as sent, and none of them marked late (arrived after a later line).
        const firstOutOfPlace = got.findIndex((m, i) => m !== lines[i]);
        expect(
          firstOutOfPlace,
          `line ${firstOutOfPlace + 1} shown: ${got[firstOutOfPlace]}`,
        ).to.equal(-1);
        expect(shown.filter((m) => m.late === true).map((m) => m.message)).to.deep.equal([]);
      });
    }
  });
}

describe('chat without a broker', function () {
  it('exits 4 with one clear line within a bounded time', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sunoye-chat-'));
    try {
      const env = {
        HOME: dir,
        SUNOYE_DB: `sqlite:${join(dir, 'r.db')}`,
        SUNOYE_BROKER: 'mqtt://127.0.0.1:1',
        SUNOYE_CONNECT_TIMEOUT: '2',
      };
      const created = await runProgram('room', ['create', '--json'], { env });
      const { room } = JSON.parse(created.stdout) as { room: string };
      const started = Date.now();
      for (const [program, args] of [
        ['publish', [room, '-m', 'x']],
        ['listen', [room]],
      ] as const) {
        const run = await runProgram(program, [...args], { env });
        expect(run.code, run.stderr).to.equal(4);
        expect(run.stderr).to.equal(
          `${program}: cannot connect to the broker mqtt://127.0.0.1:1: connection refused; is a broker running there? \`room serve\` starts one\n`,
        );
      }
      expect(Date.now() - started).to.be.below(15_000);
      const info = JSON.parse(
        (await runProgram('room', ['info', room, '--json'], { env })).stdout,
      ) as { members: number };
      expect(info.members).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
