// A running `listen` attacked by a room member and by a broker user: a flood of crafted notices
// over many keys cannot silence another member nor grow its memory, a last will sent again is
// never live news (not after the member left, not after the listener restarts), and a "closed"
// notice is printed only once the registry says the room is closed.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { Sender } from '../../src/conversation/sender.js';
import {
  encryptedCodec,
  messageKey,
  newSigner,
  type ChatNotice,
  type ChatPayload,
  type Signer,
} from '../../src/protocol/index.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { jsonLines, startProgram, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

/** Silent notices (ends of made-up streams) numbered `seqs`, from `stream`. */
function silentEnds(stream: string, seqs: number[]): ChatNotice[] {
  const ts = new Date().toISOString();
  return seqs.map((seq) => ({
    type: 'notice',
    from: 'mallory',
    notice: 'User mallory finished sending.',
    event: 'end',
    id: `${stream}-${seq}`,
    seq,
    ts,
    since: ts,
  }));
}

describe('a listener attacked by a member and a broker user (aedes + SQLite)', function () {
  this.timeout(90_000);
  let dir: string;
  let broker: TestBroker;
  const running: RunningProgram[] = [];
  const user = (name: string) => ({
    HOME: dir,
    SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
    SUNOYE_BROKER: broker.url,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, `home-${name}`),
    NO_COLOR: '1',
  });
  /** alice creates a room that bob joins; returns it and its message key (a member's). */
  const newRoom = async () => {
    const created = await runProgram('room', ['create', '--json'], { env: user('alice') });
    expect(created.code, created.stderr).to.equal(0);
    const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };
    const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
      env: user('bob'),
      input: `${password}\n`,
    });
    expect(joined.code, joined.stderr).to.equal(0);
    const folder = join(dir, 'home-alice', 'rooms');
    const file = readdirSync(folder).find((f) => f.startsWith(`${room}-`))!;
    const { secret } = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { secret: string };
    return { room, key: messageKey(Buffer.from(secret, 'base64'), room) };
  };
  const listen = async (name: string, room: string, args: string[] = []) => {
    const p = startProgram('listen', [room, ...args], user(name));
    running.push(p);
    await p.line('the join notice', (l) => l.includes('is now subscribed') || l.includes('"join"'));
    return p;
  };
  /** A member's sealing, as the test's own members (each a key of its own) do it. */
  const sealer = (room: string, key: Buffer, signer: Signer = newSigner()) => {
    const codec = encryptedCodec(room, key, signer);
    return (p: ChatPayload | ChatPayload[]) =>
      Buffer.from(Array.isArray(p) ? codec.encodeBatch(p) : codec.encode(p));
  };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-listener-state-'));
    broker = await startAedes();
  });
  afterEach(() => stopAll(running));
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows every line of a member while another floods crafted notices over many keys, in bounded memory', async function () {
    const { room, key } = await newRoom();
    const topic = `sunoye/room/${room}`;
    const alice = await listen('alice', room, ['--json']);
    const attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      // dave is a member whose lines were signed before the flood and arrive after it.
      const dave = new Sender('dave');
      const daves = sealer(room, key);
      await attacker.publishAsync(topic, daves(dave.notice('join', topic, room)), { qos: 1 });
      await alice.line("dave's join", (l) => l.includes('"from":"dave"'));
      const lines = Array.from({ length: 10 }, (_, i) => dave.message(`line ${i + 1}`));
      // 200 keys with 60 made-up streams each (12,000 streams), then 100 streams of 1,000
      // numbers each, scattered and descending: 112,000 silent notices.
      const packets: Buffer[] = [];
      for (let k = 0; k < 200; k++)
        packets.push(
          sealer(
            room,
            key,
          )(
            Array.from(
              { length: 60 },
              () => silentEnds(randomBytes(6).toString('base64url'), [5])[0]!,
            ),
          ),
        );
      const mallory = sealer(room, key);
      for (let s = 0; s < 100; s++) {
        const seqs = Array.from({ length: 1000 }, (_, i) => 1_000_000 - s * 5000 - 3 * i);
        packets.push(mallory(silentEnds(randomBytes(6).toString('base64url'), seqs)));
      }
      for (let i = 0; i < packets.length; i += 50)
        await Promise.all(
          packets.slice(i, i + 50).map((p) => attacker.publishAsync(topic, p, { qos: 1 })),
        );
      for (const line of lines) await attacker.publishAsync(topic, daves(line), { qos: 1 });
      const done = dave.message('done');
      await attacker.publishAsync(topic, daves(done), { qos: 1 });
      await alice.line("dave's last line", (l) => l.includes('"done"'), 60_000);
      const peakKb = Number(
        /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${alice.child.pid}/status`, 'utf8'))?.[1],
      );
      const shown = jsonLines(alice.stdoutLines).filter((m) => m.from === 'dave');
      expect(shown.map((m) => m.message ?? m.event)).to.deep.equal([
        'join',
        ...lines.map((l) => l.message),
        'done',
      ]);
      expect(peakKb).to.be.below(150 * 1024);
      // Reports about streams of keys that never showed a line are summed up like other warnings.
      expect(alice.stderr().split('\n').length).to.be.below(100);
    } finally {
      await attacker.endAsync();
    }
  });

  it('never shows a will sent again as live: not after a restart, not after its member left', async function () {
    const { room, key } = await newRoom();
    const topic = `sunoye/room/${room}`;
    let alice = await listen('alice', room, ['--json']);
    const intruder = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    const wills: Buffer[] = [];
    intruder.on('message', (_t, p) => wills.push(Buffer.from(p)));
    try {
      const events = () => jsonLines(alice.stdoutLines).filter((m) => m.event === 'lost');
      // bob's listener is lost for real: its will is live news.
      await intruder.subscribeAsync(topic, { qos: 1 });
      const bob = await listen('bob', room);
      await alice.line("bob's join", (l) => l.includes('"from":"bob"'));
      bob.child.kill('SIGKILL');
      await bob.exited;
      await alice.line("bob's will", (l) => l.includes('"event":"lost"'));
      expect(events().map((m) => [m.from, m.late])).to.deep.equal([['bob', undefined]]);
      const open = encryptedCodec(room, key, newSigner());
      const isWill = (p: Buffer): boolean => {
        const d = open.decodeAll(p);
        return d.ok && d.payloads.some((x) => x.type === 'notice' && x.event === 'lost');
      };
      const bobWill = await waitFor('the will captured', () => wills.find(isWill));
      await intruder.unsubscribeAsync(topic);

      // alice again: bob's will, which a broker user captured, sent again is old news.
      alice.child.kill('SIGINT');
      expect(await alice.exited).to.equal(0);
      alice = await listen('alice', room, ['--json']);
      const dave = new Sender('dave');
      const daves = sealer(room, key);
      // Made first, as a listener makes its will (the broker holds it, and its operator sees it).
      const daveWill = daves(dave.notice('lost', topic, room));
      await intruder.publishAsync(topic, bobWill, { qos: 1 });
      await intruder.publishAsync(topic, daves(dave.notice('join', topic, room)), { qos: 1 });
      await alice.line("dave's join", (l) => l.includes('"from":"dave"'));
      expect(events().map((m) => [m.from, m.late])).to.deep.equal([['bob', true]]);

      // dave's listener (made by the test) leaves; its will sent afterwards is not shown.
      await intruder.publishAsync(topic, daves(dave.notice('leave', topic, room)), { qos: 1 });
      await intruder.publishAsync(topic, daveWill, { qos: 1 });
      await intruder.publishAsync(topic, daves(dave.message('after the will')), { qos: 1 });
      await alice.line('the line after the will', (l) => l.includes('after the will'));
      expect(events().map((m) => m.from)).to.deep.equal(['bob']);
      await waitFor('the warning', () => alice.stderr().includes('ignored a last will of dave'), {
        program: alice,
      });
    } finally {
      await intruder.endAsync();
    }
  });

  it('prints a "closed" notice only once the registry says the room is closed', async function () {
    const { room, key } = await newRoom();
    const topic = `sunoye/room/${room}`;
    const alice = await listen('alice', room);
    const carol = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      // carol, a member alice never heard, says the room was closed by her.
      const seal = sealer(room, key);
      const c = new Sender('carol');
      await carol.publishAsync(topic, seal(c.notice('closed', topic, room)), { qos: 1 });
      await carol.publishAsync(topic, seal(c.message('still here')), { qos: 1 });
      await alice.line("carol's line", (l) => l.includes('still here'));
      await waitFor('the warning', () => alice.stderr().includes('ignored a "closed" notice'), {
        program: alice,
      });
      expect(alice.stdoutLines.filter((l) => l.includes('closed by'))).to.deep.equal([]);
      // The room closed for real: the notice is printed, and the listener ends.
      const closed = await runProgram('room', ['close', room], { env: user('alice') });
      expect(closed.code, closed.stderr).to.equal(0);
      expect(await alice.exited).to.equal(0);
      expect(alice.stdoutLines.filter((l) => l.includes('closed by'))).to.deep.equal([
        alice.stdoutLines.find((l) => l.endsWith(`-- Room ${room} was closed by alice.`)),
      ]);
    } finally {
      await carol.endAsync();
    }
  });
});
