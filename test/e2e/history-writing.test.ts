// Room history, the writing side: what publish, listen and room chat send to a room that keeps
// history is stored in the registry once the broker acknowledged it, as it went to the broker;
// plain rooms and rooms with history 0 keep nothing; expired rows are pruned by the writers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { openStore } from '../../src/db/index.js';
import { loadIdentity } from '../../src/home/identity.js';
import type { ChatPayload } from '../../src/protocol/index.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  byStream,
  createHistoryRoom,
  DAY_OF_HISTORY,
  openAll,
  readAllHistory,
} from '../helpers/history.js';
import {
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { requireTmux, type Terminal } from '../helpers/terminal.js';
import { TestClock } from '../helpers/clock.js';
import { openChatWindow, scratchUser, typeLine } from '../helpers/window.js';
import { waitFor } from '../helpers/wait.js';

/** The sequence numbers of a stream's rows, in order, each row's run spelled out. */
function seqsOf(rows: { payloads: ChatPayload[] }[]): number[] {
  return rows.flatMap((row) => row.payloads.map((p) => p.seq!));
}

describe('room history: what the senders keep', function () {
  this.timeout(120_000);
  let dir: string;
  let broker: TestBroker;
  let dbUrl: string;
  const running: RunningProgram[] = [];
  const terminals: Terminal[] = [];
  const user = (name: string, extra: Record<string, string> = {}) =>
    scratchUser(dir, broker.url, name, extra);
  const keyOf = (name: string) =>
    loadIdentity(join(dir, `home-${name}`)).signer.publicKey.toString('base64url');

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-history-'));
    broker = await startAedes();
    dbUrl = `sqlite:${join(dir, 'registry.db')}`;
  });
  afterEach(async function () {
    for (const t of terminals.splice(0)) await t.close();
    await stopAll(running);
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps 2,000 piped lines once each, in order, as the broker carried them, and the listener notices', async function () {
    const { room, password, codec } = await createHistoryRoom(dbUrl, DAY_OF_HISTORY);
    const raw = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    const carried: Buffer[] = [];
    raw.on('message', (_t, p) => carried.push(Buffer.from(p)));
    await raw.subscribeAsync(`sunoye/#`, { qos: 1 });
    try {
      const bob = await joinedListener(
        room,
        ['--count', '2000'],
        user('bob', { SUNOYE_PASSWORD: password }),
        running,
      );
      const lines = Array.from({ length: 2000 }, (_, i) => `line ${i + 1} of the pipe`);
      const sent = await runProgram('publish', [room], {
        env: user('alice', { SUNOYE_PASSWORD: password }),
        input: `${lines.join('\n')}\n`,
      });
      expect(sent.code, sent.stderr).to.equal(0);
      expect(sent.stderr).not.to.include('not kept');
      expect(await bob.exited, bob.stderr()).to.equal(0);
      const heard = jsonLines(bob.stdoutLines).filter((m) => m.type === 'message');
      expect(heard.map((m) => m.message)).to.deep.equal(lines);

      const rows = await readAllHistory(dbUrl, room);
      const streams = byStream(openAll(codec, rows));
      // alice's stream: every line, then the end marker, each number once, in order.
      const alice = [...streams.entries()].filter(([s]) => s.startsWith(`${keyOf('alice')}/`));
      expect(alice).to.have.length(1);
      const aliceRows = alice[0]![1];
      const seqs = seqsOf(aliceRows);
      expect(seqs).to.deep.equal(Array.from({ length: 2001 }, (_, i) => i + 1));
      const payloads = aliceRows.flatMap((r) => r.payloads);
      expect(payloads.filter((p) => p.type === 'message').map((p) => p.message)).to.deep.equal(
        lines,
      );
      expect(payloads.at(-1)).to.include({ type: 'notice', event: 'end' });
      // Each row is a message the broker carried, byte for byte.
      const aliceStream = alice[0]![0];
      const stored = rows.filter(
        (r) => `${r.signer.toString('base64url')}/${r.sender}` === aliceStream,
      );
      // The raw subscriber also gets bob's notices, so its count says nothing: wait for each row.
      const wanted = new Set(stored.map((r) => r.payload.toString('base64')));
      const seen = new Set<string>();
      await waitFor('every stored row at the raw subscriber', () => {
        for (const p of carried.splice(0)) {
          const key = p.toString('base64');
          if (wanted.has(key)) seen.add(key);
        }
        return seen.size === wanted.size;
      }).catch((err: unknown) => {
        throw new Error(
          `${wanted.size - seen.size} of ${wanted.size} stored rows never came from the broker`,
          { cause: err },
        );
      });

      // bob's stream: his join and leave notices (never his last will, which the broker sends).
      const bobRows = [...streams.entries()].filter(([s]) => s.startsWith(`${keyOf('bob')}/`));
      expect(bobRows).to.have.length(1);
      const events = bobRows[0]![1]
        .flatMap((r) => r.payloads)
        .map((p) => p.type === 'notice' && p.event);
      expect(events).to.deep.equal(['join', 'leave']);
    } finally {
      await raw.endAsync();
    }
  });

  it('keeps nothing for a plain room or a room with history 0, and keeps it for one that keeps history', async function () {
    const keeping = await createHistoryRoom(dbUrl, DAY_OF_HISTORY);
    const none = await createHistoryRoom(dbUrl, { seconds: 0, bytes: 0 });
    const plain = await createHistoryRoom(dbUrl, undefined, 'plain');
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join('\n');
    for (const { room, password } of [keeping, none, plain]) {
      const sent = await runProgram('publish', [room], {
        env: user('alice', { SUNOYE_PASSWORD: password }),
        input: `${lines}\n`,
      });
      expect(sent.code, sent.stderr).to.equal(0);
      const listened = await runProgram('listen', [room, '--json', '--timeout', '0.2'], {
        env: user('bob', { SUNOYE_PASSWORD: password }),
      });
      expect(listened.code, listened.stderr).to.equal(0);
    }
    const store = await openStore(dbUrl, { create: false });
    try {
      expect((await store.historyStats(keeping.room)).rows).to.be.above(0);
      expect((await store.historyStats(none.room)).rows).to.equal(0);
      expect((await store.historyStats(plain.room)).rows).to.equal(0);
    } finally {
      await store.close();
    }
  });

  it('keeps the lines typed in room chat, with its join, end and leave', async function () {
    await requireTmux(this);
    const { room, password, codec } = await createHistoryRoom(dbUrl, DAY_OF_HISTORY);
    const window = await openChatWindow(
      room,
      user('carol', { SUNOYE_PASSWORD: password }),
      terminals,
    );
    for (const text of ['hello from the window', 'a second line', 'and a third'])
      await typeLine(window, text);
    await window.waitFor('the third line back', (rows) =>
      rows.some((r) => r.includes('and a third')),
    );
    await typeLine(window, '/quit');
    expect(await window.exited()).to.equal(0);

    const streams = byStream(openAll(codec, await readAllHistory(dbUrl, room)));
    const carol = [...streams.entries()].filter(([s]) => s.startsWith(`${keyOf('carol')}/`));
    expect(carol).to.have.length(1);
    const payloads = carol[0]![1].flatMap((r) => r.payloads);
    expect(payloads.map((p) => (p.type === 'message' ? p.message : p.event))).to.deep.equal([
      'join',
      'hello from the window',
      'a second line',
      'and a third',
      'end',
      'leave',
    ]);
    // No hole in the stream but the last will's number, which only the broker would send.
    const seqs = seqsOf(carol[0]![1]);
    expect(seqs).to.deep.equal(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
  });

  it('prunes expired history in small steps when it sends', async function () {
    const { room, password, codec } = await createHistoryRoom(dbUrl, {
      seconds: 3600,
      bytes: 64 * 1024 * 1024,
    });
    // 450 rows written two hours ago (the registry's clock moved back), as an old sender's.
    const past = new TestClock();
    past.advance(-2 * 3600 * 1000);
    const old = await openStore(dbUrl, { create: false, clock: past });
    try {
      const signer = Buffer.alloc(32, 7);
      const rows = Array.from({ length: 450 }, (_, i) => ({
        signer,
        sender: 'oldsender',
        firstSeq: i + 1,
        lastSeq: i + 1,
        payload: Buffer.from(`not a real payload ${i}`),
      }));
      await old.appendHistory(room, rows);
    } finally {
      await old.close();
    }
    // A publish that runs on: it prunes as it starts, a step of 200 rows at a time.
    const alice = startProgram('publish', [room], user('alice', { SUNOYE_PASSWORD: password }));
    running.push(alice);
    alice.child.stdin.write('a new line\n');
    // Expired rows are never read back: only the table itself says whether they are gone.
    const left = (): number => {
      const raw = new Database(join(dir, 'registry.db'), { readonly: true });
      try {
        const got = raw
          .prepare("SELECT COUNT(*) AS n FROM room_history WHERE room = ? AND sender = 'oldsender'")
          .get(room) as { n: number };
        return got.n;
      } finally {
        raw.close();
      }
    };
    expect(left()).to.equal(450);
    await waitFor('the expired rows pruned', () => left() === 0, 20_000, 200);
    alice.child.stdin.end();
    expect(await alice.exited, alice.stderr()).to.equal(0);
    const rows = await readAllHistory(dbUrl, room);
    expect(rows.map((r) => r.sender)).not.to.include('oldsender');
    const payloads = openAll(codec, rows).flatMap((r) => r.payloads);
    expect(payloads.filter((p) => p.type === 'message').map((p) => p.message)).to.deep.equal([
      'a new line',
    ]);
  });
});
