// Reading a room's history (issue 22): `listen --last`/`--since` show what was said before, in
// order and once, then live; no line lost or doubled at the seam; what the registry's operator
// deleted, altered or re-signed is never shown as it claims; `room chat` opens with history.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  createRoomWithPassword,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { REGISTRIES, writeSqlite, type Registry } from '../helpers/registries.js';
import { requireTmux, type Terminal } from '../helpers/terminal.js';
import { openChatWindow } from '../helpers/window.js';
import { waitFor } from '../helpers/wait.js';
import { openStore } from '../../src/db/index.js';
import { Sender } from '../../src/conversation/sender.js';
import { loadIdentity } from '../../src/home/identity.js';
import { encryptedCodec, messageKey, type ChatPayload } from '../../src/protocol/index.js';
import type { Signer } from '../../src/protocol/index.js';

describe('reading the history of a room', function () {
  this.timeout(120_000);
  let dir: string;
  let broker: TestBroker;
  const running: RunningProgram[] = [];
  const terminals: Terminal[] = [];
  let registryUrl = '';
  const user = (name: string): Record<string, string> => ({
    HOME: dir,
    SUNOYE_DB: registryUrl,
    SUNOYE_BROKER: broker.url,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, `home-${name}`),
    NO_COLOR: '1',
  });

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-history-read-'));
    registryUrl = `sqlite:${join(dir, 'registry.db')}`;
    broker = await startAedes();
  });
  afterEach(async () => {
    await stopAll(running);
    for (const t of terminals.splice(0)) await t.close();
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  });

  /** The registry file, as its operator can write it. */
  const sqlite: Registry = {
    url: '',
    write: (sql, params) => Promise.resolve(writeSqlite(join(dir, 'registry.db'), sql, params)),
    drop: () => Promise.resolve(),
  };

  /** A room of alice's that keeps a day of history; `members` joined it with the password. */
  async function historyRoom(registry: Registry, ...members: string[]): Promise<string> {
    const { room, password } = await createRoomWithPassword(user('alice'));
    // What `room create --history 24h` records (the default for encrypted rooms).
    await registry.write(
      'UPDATE rooms SET history_seconds = ?, history_bytes = ? WHERE number = ?',
      [86_400, 64 * 1024 * 1024, room],
    );
    for (const member of members) {
      const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
        env: user(member),
        input: `${password}\n`,
      });
      expect(joined.code, joined.stderr).to.equal(0);
    }
    return room;
  }

  /** Waits until the room's history holds `n` chat messages' worth of payloads at least. */
  async function stored(room: string, payloads: number): Promise<void> {
    const store = await openStore(registryUrl);
    try {
      await waitFor(
        `${payloads} payloads in the history`,
        async () => {
          const rows = await store.readHistory(room, {
            maxRows: 100_000,
            maxBytes: 64 * 1024 * 1024,
          });
          const n = rows.reduce((sum, r) => sum + r.lastSeq - r.firstSeq + 1, 0);
          return n >= payloads;
        },
        20_000,
      );
    } finally {
      await store.close();
    }
  }

  /** The room's codec as `member` holds it (their key and signing identity). */
  function codecOf(member: string, room: string, signer?: Signer) {
    const home = join(dir, `home-${member}`);
    const folder = join(home, 'rooms');
    const file = readdirSync(folder).find((f) => f.startsWith(`${room}-`))!;
    const { secret } = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { secret: string };
    const me = signer ?? loadIdentity(home).signer;
    return { codec: encryptedCodec(room, messageKey(Buffer.from(secret, 'base64'), room), me), me };
  }

  /** Stores `payloads` as `member` would have sent them, one MQTT message (row) each. */
  async function storeRows(
    room: string,
    member: string,
    sender: Sender,
    payloads: ChatPayload[],
    signer?: Signer,
  ): Promise<void> {
    const { codec, me } = codecOf(member, room, signer);
    const store = await openStore(registryUrl);
    try {
      await store.appendHistory(
        room,
        payloads.map((p) => ({
          signer: me.publicKey,
          sender: sender.id,
          firstSeq: p.seq!,
          lastSeq: p.seq!,
          payload: Buffer.from(codec.encode(p)),
        })),
      );
    } finally {
      await store.close();
    }
  }

  const messages = (p: RunningProgram) =>
    jsonLines(p.stdoutLines).filter((m) => m.type === 'message');

  for (const flag of [
    ['--last', '500'],
    ['--since', '10m'],
  ]) {
    it(`a newcomer sees the 500 lines said before with ${flag.join(' ')}: in order, once, then live`, async function () {
      const room = await historyRoom(sqlite, 'carol');
      const said = Array.from({ length: 500 }, (_, i) => `line ${i + 1}`);
      const sent = await runProgram('publish', [room], {
        env: user('alice'),
        input: `${said.join('\n')}\n`,
      });
      expect(sent.code, sent.stderr).to.equal(0);
      await stored(room, 500);
      const carol = startProgram('listen', [room, '--json', ...flag], user('carol'));
      running.push(carol);
      await carol.line(
        'the join notice',
        (l) => l.includes('"event":"join"') && l.includes('carol'),
      );
      const live = await runProgram('publish', [room, '-m', 'live one'], { env: user('alice') });
      expect(live.code, live.stderr).to.equal(0);
      await carol.line('the live line', (l) => l.includes('live one'));
      const got = messages(carol);
      expect(got.map((m) => m.message)).to.deep.equal([...said, 'live one']);
      expect(got.filter((m) => m.history === true)).to.have.length(500);
      expect(
        got.slice(0, 500).every((m) => m.history === true && typeof m.ts === 'string'),
      ).to.equal(true);
      expect(got[500]).to.not.have.property('history');
      // Carol's own join line is live, after the history.
      const lines = jsonLines(carol.stdoutLines);
      const join = lines.findIndex((m) => m.event === 'join' && m.from === 'carol');
      expect(lines[join]).to.not.have.property('history');
      expect(lines.slice(join).some((m) => m.history === true)).to.equal(false);
      expect(carol.stderr()).to.not.include('did not arrive');
    });
  }

  it('loses and doubles nothing at the seam: a publisher sending all along while a listener starts with --since', async function () {
    const room = await historyRoom(sqlite, 'carol');
    const alice = startProgram('publish', [room], user('alice'));
    running.push(alice);
    let n = 0;
    // alice types a line every 10 ms, before carol starts, while she starts and after.
    const typing = setInterval(() => alice.child.stdin.write(`seam ${++n}\n`), 10);
    try {
      await stored(room, 50);
      const carol = startProgram('listen', [room, '--json', '--since', '10m'], user('carol'));
      running.push(carol);
      await carol.line(
        'the join notice',
        (l) => l.includes('"event":"join"') && l.includes('carol'),
      );
      const until = n + 150;
      await waitFor('150 more lines typed', () => n >= until, 20_000);
    } finally {
      clearInterval(typing);
    }
    alice.child.stdin.end();
    expect(await alice.exited, alice.stderr()).to.equal(0);
    const carol = running[1]!;
    await carol.line('the last line', (l) => l.includes(`"seam ${n}"`), 20_000);
    const got = messages(carol).map((m) => m.message);
    expect(got).to.deep.equal(Array.from({ length: n }, (_, i) => `seam ${i + 1}`));
    const history = messages(carol).filter((m) => m.history === true).length;
    expect(history).to.be.greaterThan(0);
    expect(history).to.be.lessThan(n);
    // What was said once carol listened (after her join went out) shows live, not as earlier:
    // the history passes over what arrived live while it was shown.
    const joinedAt = Date.parse(
      String(
        jsonLines(carol.stdoutLines).find((m) => m.event === 'join' && m.from === 'carol')?.ts,
      ),
    );
    const afterJoin = messages(carol).filter((m) => Date.parse(String(m.ts)) > joinedAt + 300);
    expect(afterJoin.length).to.be.greaterThan(50);
    // All but the few a loaded machine can store before carol reads them off her socket (a
    // line every 10 ms; without this, every line until the seam's second read: 55 and more).
    const early = afterJoin.filter((m) => m.history === true).map((m) => m.message);
    expect(early.length, early.join(', ')).to.be.at.most(10);
    expect(carol.stderr()).to.not.include('did not arrive');
    expect(carol.stderr()).to.not.include('history incomplete');
  });

  it('misses nothing said while it was away: a listener comes back with --since', async function () {
    const room = await historyRoom(sqlite, 'carol');
    const first = startProgram('listen', [room, '--json'], user('carol'));
    running.push(first);
    await first.line('the join notice', (l) => l.includes('"event":"join"'));
    await runProgram('publish', [room, '-m', 'before carol left'], { env: user('alice') });
    await first.line('the first line', (l) => l.includes('before carol left'));
    first.child.kill('SIGKILL');
    await first.exited;
    const away = Array.from({ length: 20 }, (_, i) => `while away ${i + 1}`);
    await runProgram('publish', [room], { env: user('alice'), input: `${away.join('\n')}\n` });
    await stored(room, 21);
    const back = startProgram('listen', [room, '--json', '--since', '10m'], user('carol'));
    running.push(back);
    await back.line('the last line said away', (l) => l.includes('while away 20'));
    const got = messages(back).map((m) => m.message);
    expect(got).to.deep.equal(['before carol left', ...away]);
    expect(messages(back).every((m) => m.history === true)).to.equal(true);
  });

  for (const backend of REGISTRIES) {
    it(`shows nothing the operator altered, and a deleted row as history incomplete (${backend.name})`, async function () {
      const sub = join(dir, `tamper-${backend.name}`);
      mkdirSync(sub, { recursive: true });
      const registry = await backend.open(this, sub);
      const saved = registryUrl;
      try {
        registryUrl = registry.url;
        const room = await historyRoom(registry, 'bob', 'carol');
        const bob = new Sender('bob');
        const said = Array.from({ length: 10 }, (_, i) => bob.message(`b${i + 1}`));
        await storeRows(room, 'bob', bob, said);
        const { me } = codecOf('bob', room);
        const key = me.publicKey;
        const row = (seq: number) => [room, key, bob.id, seq];
        const where = 'room = ? AND signer = ? AND sender = ? AND first_seq = ?';
        // Deleted: b3. A byte of the payload: b5. The sequence columns: b7. The signer: b8.
        await registry.write(`DELETE FROM room_history WHERE ${where}`, row(3));
        const altered = await payloadOf(registry, room, key, bob.id, 5);
        altered[60]! ^= 1;
        await registry.write(`UPDATE room_history SET payload = ? WHERE ${where}`, [
          altered,
          ...row(5),
        ]);
        await registry.write(
          `UPDATE room_history SET first_seq = 70, last_seq = 70 WHERE ${where}`,
          row(7),
        );
        await registry.write(`UPDATE room_history SET signer = ? WHERE ${where}`, [
          Buffer.alloc(32, 7),
          ...row(8),
        ]);
        // Re-ordered: b10 written first, b9 before b1.
        await registry.write(
          `UPDATE room_history SET sent_at = sent_at - 100000 WHERE ${where}`,
          row(10),
        );
        await registry.write(
          `UPDATE room_history SET sent_at = sent_at - 50000 WHERE ${where}`,
          row(9),
        );
        const carol = startProgram('listen', [room, '--json', '--last', '20'], user('carol'));
        running.push(carol);
        await carol.line(
          'the join notice',
          (l) => l.includes('"event":"join"') && l.includes('carol'),
        );
        const got = messages(carol);
        expect(got.map((m) => m.message)).to.deep.equal(['b1', 'b2', 'b4', 'b6', 'b9', 'b10']);
        const err = carol.stderr();
        expect(err).to.include('ignored 3 history rows that did not open: altered in the registry');
        expect(err).to.include("history incomplete: 1 line of bob's missing (seq 3");
        expect(err).to.include("history incomplete: 1 line of bob's missing (seq 5");
        expect(err).to.include("history incomplete: 2 lines of bob's missing (seq 7-8");
      } finally {
        registryUrl = saved;
        await registry.drop();
      }
    });
  }

  /** A row's payload, as stored. */
  async function payloadOf(
    registry: Registry,
    room: string,
    signer: Buffer,
    sender: string,
    seq: number,
  ): Promise<Buffer> {
    const store = await openStore(registry.url);
    try {
      const rows = await store.readHistory(room, {
        stream: { signer, sender, fromSeq: seq, toSeq: seq },
        maxRows: 10,
        maxBytes: 1024 * 1024,
      });
      return Buffer.from(rows[0]!.payload);
    } finally {
      await store.close();
    }
  }

  it("flags a row signed by another member's key under a pinned name, as on the wire", async function () {
    const room = await historyRoom(sqlite, 'bob', 'carol', 'mallory');
    const bob = new Sender('bob');
    await storeRows(room, 'bob', bob, [bob.message('the real bob')]);
    // Carol knows bob's key: she heard him live.
    const first = startProgram('listen', [room, '--json'], user('carol'));
    running.push(first);
    await first.line('the join notice', (l) => l.includes('"event":"join"'));
    await runProgram('publish', [room, '-m', 'bob live'], { env: user('bob') });
    await first.line('bob live', (l) => l.includes('bob live'));
    first.child.kill('SIGINT');
    await first.exited;
    // mallory, a member, signs a line as "bob" with her own key; the operator stores it.
    const forged = new Sender('bob');
    await storeRows(room, 'mallory', forged, [forged.message('forged bob')]);
    const carol = startProgram('listen', [room, '--json', '--last', '10'], user('carol'));
    running.push(carol);
    await carol.line('the forged line', (l) => l.includes('forged bob'));
    const lines = messages(carol);
    const real = lines.find((m) => m.message === 'the real bob')!;
    const fake = lines.find((m) => m.message === 'forged bob')!;
    expect(real.trust).to.equal('known');
    expect(fake.trust).to.equal('changed');
    expect(fake.history).to.equal(true);
    // The human line names the key, never bob.
    const human = startProgram('listen', [room, '--last', '10'], user('carol'));
    running.push(human);
    const line = await human.line('the forged line', (l) => l.includes('forged bob'));
    expect(line).to.include('NOT the "bob" you know');
  });

  it('refuses history for a raw topic, and says a room keeping none keeps none', async function () {
    const raw = await runProgram('listen', ['--topic', 'chat/x', '--plain', '--last', '5'], {
      env: user('carol'),
    });
    expect(raw.code).to.equal(2);
    expect(raw.stderr).to.include('--last');
    expect(raw.stderr).to.include('raw topic');
    const bad = await runProgram('listen', ['123456', '--since', 'yesterday'], {
      env: user('carol'),
    });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('--since');
    const { room } = await createRoomWithPassword(user('alice'), ['--history', '0']);
    const none = startProgram('listen', [room, '--json', '--last', '5'], user('alice'));
    running.push(none);
    await none.line('the join notice', (l) => l.includes('"event":"join"'));
    expect(none.stderr()).to.include(`room ${room} keeps no history`);
  });

  it('counts live messages only for --count: the history is shown whole, then one live line', async function () {
    const room = await historyRoom(sqlite, 'carol');
    await runProgram('publish', [room], { env: user('alice'), input: 'h1\nh2\nh3\n' });
    await stored(room, 3);
    const carol = startProgram(
      'listen',
      [room, '--json', '--last', '3', '--count', '1'],
      user('carol'),
    );
    running.push(carol);
    await carol.line('the join notice', (l) => l.includes('"event":"join"') && l.includes('carol'));
    await runProgram('publish', [room, '-m', 'the live one'], { env: user('alice') });
    expect(await carol.exited, carol.stderr()).to.equal(0);
    expect(messages(carol).map((m) => [m.message, m.history === true])).to.deep.equal([
      ['h1', true],
      ['h2', true],
      ['h3', true],
      ['the live one', false],
    ]);
  });

  it('shows with --last N the N newest of the joins and leaves since, says how many it left out, and loses none', async function () {
    const room = await historyRoom(sqlite, 'carol', 'dave');
    await runProgram('publish', [room], { env: user('alice'), input: 'h1\nh2\n' });
    await stored(room, 2);
    // dave comes and goes three times: six notices after the last message.
    for (let i = 0; i < 3; i++) {
      const dave = await runProgram('listen', [room, '--timeout', '1'], { env: user('dave') });
      expect(dave.stderr).to.not.include('warning');
    }
    const store = await openStore(registryUrl);
    const notices = await store
      .readHistory(room, { maxRows: 1000, maxBytes: 1 << 24 })
      .finally(() => store.close());
    expect(notices.length).to.be.greaterThan(6);
    const carol = startProgram(
      'listen',
      [room, '--json', '--last', '2', '--count', '1'],
      user('carol'),
    );
    running.push(carol);
    await carol.line('the join notice', (l) => l.includes('"event":"join"') && l.includes('carol'));
    await runProgram('publish', [room, '-m', 'the live one'], { env: user('alice') });
    expect(await carol.exited, carol.stderr()).to.equal(0);
    const history = jsonLines(carol.stdoutLines).filter((m) => m.history === true);
    expect(history.filter((m) => m.type === 'message').map((m) => m.message)).to.deep.equal([
      'h1',
      'h2',
    ]);
    // The two newest notices: dave's last join and leave.
    expect(history.filter((m) => m.type === 'notice').map((m) => [m.from, m.event])).to.deep.equal([
      ['dave', 'join'],
      ['dave', 'leave'],
    ]);
    expect(carol.stderr()).to.match(/left out ([4-9]|\d\d) older joins and leaves of the history/);
    expect(carol.stderr()).to.not.match(/did not arrive|history incomplete|warning/);
    expect(messages(carol).at(-1)?.message).to.equal('the live one');
  });

  describe('in the room window', function () {
    before(async function () {
      await requireTmux(this, 'the room window with history');
    });

    it('opens with the last screenful of history above a divider', async function () {
      const room = await historyRoom(sqlite, 'carol');
      const said = Array.from({ length: 40 }, (_, i) => `said before ${i + 1}`);
      await runProgram('publish', [room], { env: user('alice'), input: `${said.join('\n')}\n` });
      await stored(room, 40);
      const window = await openChatWindow(room, user('carol'), terminals);
      const rows = await window.rows();
      const divider = rows.findIndex((r) => r.includes('── earlier messages above ──'));
      expect(divider, rows.join('\n')).to.be.greaterThan(0);
      const joined = rows.findIndex((r) => r.includes('-- carol joined'));
      expect(joined).to.be.greaterThan(divider);
      expect(rows[divider - 1], rows.join('\n')).to.include('said before 40');
      expect(rows.slice(0, divider).some((r) => r.includes('(earlier)'))).to.equal(true);
    });
  });
});
