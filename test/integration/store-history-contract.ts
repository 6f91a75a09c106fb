/**
 * The room-store contract, room history part: what a room keeps of its sealed history, for how
 * long, how it is read back within bounds, pruned and deleted, and that rows an operator altered
 * are passed over. Payloads here are opaque bytes: the store checks none of them (opening them is
 * src/history/rows.ts's job).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { HistoryRow, NewRoom, RoomStore } from '../../src/db/index.js';
import { RecordAlteredError } from '../../src/db/index.js';
import { deriveRoomSecret, newKdfParams, verifier } from '../../src/protocol/index.js';
import type { TestClock } from '../helpers/clock.js';
import type { StoreFixture } from './store-contract.js';

const MiB = 2 ** 20;
const DAY = { seconds: 24 * 3600, bytes: 64 * MiB };

async function roomKeeping(
  history: NewRoom['history'],
  mode: 'encrypted' | 'plain' = 'encrypted',
): Promise<NewRoom> {
  const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
  const secret = await deriveRoomSecret('correct horse battery', kdf);
  return {
    creator: 'alice',
    mode,
    idleSeconds: 600,
    kdf,
    verifier: (room) => verifier(secret, room, mode),
    history,
  };
}

/** A sender stream: its key, its id, and rows of it numbered from 0 with payloads of `size` bytes. */
function stream(sender = randomBytes(6).toString('hex'), signer = randomBytes(32)) {
  let seq = 0;
  return {
    signer,
    sender,
    /** The next row, holding `count` payloads. */
    row(size = 100, count = 1): HistoryRow {
      const row = {
        signer,
        sender,
        firstSeq: seq,
        lastSeq: seq + count - 1,
        payload: randomBytes(size),
      };
      seq += count;
      return row;
    },
  };
}

/** What a read gives, as `sender:firstSeq`, in order. */
const names = (rows: { sender: string; firstSeq: number }[]): string[] =>
  rows.map((r) => `${r.sender}:${r.firstSeq}`);

const ALL = { maxRows: 10_000, maxBytes: 1 << 30 };

export function historyContract(
  env: () => { fx: StoreFixture; store: RoomStore },
  clock: TestClock,
): void {
  describe('room history', function () {
    let fx: StoreFixture;
    let store: RoomStore;
    before(function () {
      ({ fx, store } = env());
    });

    const count = async (room: string): Promise<number> =>
      Number((await fx.raw('SELECT COUNT(*) AS n FROM room_history WHERE room = ?', [room]))[0]!.n);

    it('keeps what a room is made to keep, and none when not told', async function () {
      const made = await store.createRoom(await roomKeeping({ seconds: 3600, bytes: 2 * MiB }));
      expect(made.history).to.deep.equal({ seconds: 3600, bytes: 2 * MiB });
      expect((await store.status(made.number))?.room.history).to.deep.equal({
        seconds: 3600,
        bytes: 2 * MiB,
      });
      const none = await store.createRoom(await roomKeeping(undefined));
      expect((await store.status(none.number))?.room.history).to.deep.equal({
        seconds: 0,
        bytes: 0,
      });
      const zero = await store.createRoom(await roomKeeping({ seconds: 0, bytes: 64 * MiB }));
      expect((await store.status(zero.number))?.room.history).to.deep.equal({
        seconds: 0,
        bytes: 0,
      });
      // A caller's bug, never a room: plain rooms keep none; times and sizes have bounds.
      for (const [history, mode] of [
        [DAY, 'plain'],
        [{ seconds: 59, bytes: 64 * MiB }, 'encrypted'],
        [{ seconds: 3600, bytes: 1000 }, 'encrypted'],
      ] as const) {
        const err = await store.createRoom(await roomKeeping(history, mode)).catch((e: Error) => e);
        expect(err, JSON.stringify(history)).to.be.instanceOf(Error);
      }
    });

    it('stores each row once, however often it is appended', async function () {
      const { number } = await store.createRoom(await roomKeeping(DAY));
      const a = stream('aaaa');
      const b = stream('bbbb');
      const rows = [a.row(), a.row(50, 3), b.row(), a.row()];
      await store.appendHistory(number, rows.slice(0, 2));
      await store.appendHistory(number, rows);
      await store.appendHistory(number, rows);
      await store.appendHistory(number, []);
      const read = await store.readHistory(number, ALL);
      expect(read.map((r) => `${r.sender}:${r.firstSeq}-${r.lastSeq}`).sort()).to.deep.equal([
        'aaaa:0-0',
        'aaaa:1-3',
        'aaaa:4-4',
        'bbbb:0-0',
      ]);
      for (const row of read) {
        const sent = rows.find((r) => r.sender === row.sender && r.firstSeq === row.firstSeq)!;
        expect(row.payload.equals(sent.payload)).to.equal(true);
        expect(row.signer.equals(sent.signer)).to.equal(true);
        expect(row.sentAt).to.be.instanceOf(Date);
      }
      // A seal (opaque bytes) comes back with its row; a row without one has none.
      const sealed = { ...a.row(), seal: randomBytes(72) };
      const unsealed = a.row();
      await store.appendHistory(number, [sealed, unsealed]);
      const withSeal = await store.readHistory(number, ALL);
      const find = (r: HistoryRow) =>
        withSeal.find((w) => w.sender === r.sender && w.firstSeq === r.firstSeq);
      expect(find(sealed)?.seal).to.deep.equal(sealed.seal);
      expect(find(unsealed)).not.to.have.property('seal');
      expect(read.every((r) => !('seal' in r))).to.equal(true);
      // A row sent again with other content is not taken over the first.
      await store.appendHistory(number, [{ ...rows[0]!, payload: Buffer.from('forged') }]);
      const again = await store.readHistory(number, ALL);
      expect(again.find((r) => r.sender === 'aaaa' && r.firstSeq === 0)?.payload).to.deep.equal(
        rows[0]!.payload,
      );
      expect(await count(number)).to.equal(6);
    });

    it('stores nothing for a closed room, a plain room, a room that keeps none or no room', async function () {
      const closed = await store.createRoom(await roomKeeping(DAY));
      await store.closeRoom(closed.number);
      const plain = await store.createRoom(await roomKeeping(undefined, 'plain'));
      const none = await store.createRoom(await roomKeeping({ seconds: 0, bytes: 0 }));
      const s = stream();
      for (const room of [closed.number, plain.number, none.number]) {
        await store.appendHistory(room, [s.row()]);
        expect(await count(room), room).to.equal(0);
        expect(await store.readHistory(room, ALL)).to.deep.equal([]);
        expect(await store.historyStats(room)).to.deep.equal({ rows: 0, bytes: 0, oldest: null });
      }
      await store.appendHistory('000000', [s.row()]);
      expect(await store.readHistory('000000', ALL)).to.deep.equal([]);
    });

    it('refuses rows sunoye never writes, as a bug of the caller', async function () {
      const { number } = await store.createRoom(await roomKeeping(DAY));
      const s = stream();
      const bad: HistoryRow[] = [
        { ...s.row(), signer: randomBytes(31) },
        { ...s.row(), payload: Buffer.alloc(2 * MiB + 1) },
        { ...s.row(), sender: 'x'.repeat(33) },
        { ...s.row(), firstSeq: 5, lastSeq: 4 },
        { ...s.row(), firstSeq: 1.5, lastSeq: 2 },
        // More payloads than a batch holds (MAX_BATCH, 1000).
        { ...s.row(), firstSeq: 0, lastSeq: 1000 },
        { ...s.row(), seal: randomBytes(129) },
      ];
      for (const row of bad) {
        const err = await store.appendHistory(number, [s.row(), row]).catch((e: Error) => e);
        expect(err).to.be.instanceOf(Error);
        expect((err as Error).message).to.match(/^history row refused/);
      }
      expect(await count(number)).to.equal(0);
    });

    it('splits a large batch into statements the server takes, in one transaction', async function () {
      this.timeout(120_000);
      const { number } = await store.createRoom(await roomKeeping(DAY));
      const s = stream();
      // 5 payloads of 2 MiB (hex-encoded by mysql2: 20 MiB of SQL, past MariaDB's 16 MiB
      // max_allowed_packet) and 1200 small ones (more than fit in one statement).
      const rows = [
        ...Array.from({ length: 5 }, () => s.row(2 * MiB)),
        ...Array.from({ length: 1200 }, () => s.row(200)),
      ];
      await store.appendHistory(number, rows);
      expect(await count(number)).to.equal(1205);
      const stats = await store.historyStats(number);
      expect(stats.rows).to.equal(1205);
      expect(stats.bytes).to.equal(10 * MiB + 1200 * 200);
    });

    it('reads since a time, the last N payloads and a stream, oldest first, within maxRows and maxBytes', async function () {
      const { number } = await store.createRoom(await roomKeeping(DAY));
      // Rows written at the same time are read in the order of their keys: a's before b's.
      const a = stream('aaaa', Buffer.alloc(32, 0xaa));
      const b = stream('bbbb', Buffer.alloc(32, 0xbb));
      await store.appendHistory(number, [a.row(100), b.row(100)]); // a:0 b:0 at t0
      clock.advance(1000);
      await store.appendHistory(number, [a.row(100, 2), b.row(100)]); // a:1-2 b:1 at t0+1s
      clock.advance(1000);
      await store.appendHistory(number, [b.row(100), a.row(100)]); // b:2 a:3 at t0+2s
      const all = await store.readHistory(number, ALL);
      expect(names(all)).to.deep.equal([
        'aaaa:0',
        'bbbb:0',
        'aaaa:1',
        'bbbb:1',
        'aaaa:3',
        'bbbb:2',
      ]);
      const t1 = all[2]!.sentAt.getTime();
      expect(t1 - all[0]!.sentAt.getTime()).to.be.within(1000, 1100);

      const since = await store.readHistory(number, { ...ALL, sinceMs: t1 });
      expect(names(since)).to.deep.equal(['aaaa:1', 'bbbb:1', 'aaaa:3', 'bbbb:2']);
      expect(names(await store.readHistory(number, { ...ALL, sinceMs: t1 + 1 }))).to.deep.equal([
        'aaaa:3',
        'bbbb:2',
      ]);

      // The newest rows that hold at least N payloads, oldest first.
      expect(names(await store.readHistory(number, { ...ALL, last: 1 }))).to.deep.equal(['bbbb:2']);
      expect(names(await store.readHistory(number, { ...ALL, last: 3 }))).to.deep.equal([
        'bbbb:1',
        'aaaa:3',
        'bbbb:2',
      ]);
      // bbbb:1, aaaa:3, bbbb:2 hold 3; aaaa:1-2 makes 5.
      expect(names(await store.readHistory(number, { ...ALL, last: 4 }))).to.deep.equal([
        'aaaa:1',
        'bbbb:1',
        'aaaa:3',
        'bbbb:2',
      ]);
      expect(await store.readHistory(number, { ...ALL, last: 100 })).to.have.length(6);

      // A stream's rows that hold any of the numbers asked for.
      const range = (fromSeq: number, toSeq: number) =>
        store.readHistory(number, {
          ...ALL,
          stream: { signer: a.signer, sender: 'aaaa', fromSeq, toSeq },
        });
      expect(names(await range(2, 3))).to.deep.equal(['aaaa:1', 'aaaa:3']);
      expect(names(await range(0, 0))).to.deep.equal(['aaaa:0']);
      expect(names(await range(4, 9))).to.deep.equal([]);
      // A row of a full batch (1000 payloads) is found from its last number.
      const full = (await store.createRoom(await roomKeeping(DAY))).number;
      const c = stream('cccc');
      await store.appendHistory(full, [c.row(100, 1000), c.row(100)]);
      const fromLast = await store.readHistory(full, {
        ...ALL,
        stream: { signer: c.signer, sender: 'cccc', fromSeq: 999, toSeq: 1000 },
      });
      expect(fromLast.map((r) => [r.firstSeq, r.lastSeq])).to.deep.equal([
        [0, 999],
        [1000, 1000],
      ]);
      const otherKey = await store.readHistory(number, {
        ...ALL,
        stream: { signer: b.signer, sender: 'aaaa', fromSeq: 0, toSeq: 9 },
      });
      expect(otherKey).to.deep.equal([]);

      // Bounds: rows, and bytes (never past them, but one row always).
      expect(
        names(await store.readHistory(number, { maxRows: 2, maxBytes: 1 << 20 })),
      ).to.deep.equal(['aaaa:0', 'bbbb:0']);
      expect(names(await store.readHistory(number, { maxRows: 100, maxBytes: 250 }))).to.deep.equal(
        ['aaaa:0', 'bbbb:0'],
      );
      expect(names(await store.readHistory(number, { maxRows: 100, maxBytes: 1 }))).to.deep.equal([
        'aaaa:0',
      ]);
      expect(
        names(await store.readHistory(number, { maxRows: 100, maxBytes: 1, last: 5 })),
      ).to.deep.equal(['bbbb:2']);
      expect(
        names(await store.readHistory(number, { maxRows: 2, maxBytes: 1 << 20, last: 100 })),
      ).to.deep.equal(['aaaa:3', 'bbbb:2']);
    });

    it('hides rows past the retention time at once, and prunes them in small steps', async function () {
      const { number } = await store.createRoom(
        await roomKeeping({ seconds: 60, bytes: 64 * MiB }),
      );
      const s = stream();
      await store.appendHistory(
        number,
        Array.from({ length: 5 }, () => s.row()),
      );
      clock.advance(30_000);
      await store.appendHistory(number, [s.row(), s.row()]);
      expect(await store.pruneHistory(number, 10)).to.equal(0);
      clock.advance(30_000);
      // The first five are 60 s old: gone from reads and counts before any pruning.
      expect((await store.readHistory(number, ALL)).map((r) => r.firstSeq)).to.deep.equal([5, 6]);
      expect(await store.readHistory(number, { ...ALL, last: 10 })).to.have.length(2);
      const stats = await store.historyStats(number);
      expect([stats.rows, stats.bytes]).to.deep.equal([2, 200]);
      expect(await count(number)).to.equal(7);
      expect(await store.pruneHistory(number, 2)).to.equal(2);
      expect(await store.pruneHistory(number, 2)).to.equal(2);
      expect(await store.pruneHistory(number, 2)).to.equal(1);
      expect(await store.pruneHistory(number, 2)).to.equal(0);
      expect(await count(number)).to.equal(2);
      clock.advance(30_000);
      expect(await store.readHistory(number, ALL)).to.deep.equal([]);
      expect(await store.pruneHistory(number, 100)).to.equal(2);
      expect(await store.historyStats(number)).to.deep.equal({ rows: 0, bytes: 0, oldest: null });
    });

    it('prunes over the size cap the oldest rows of the key holding the most bytes first', async function () {
      const { number } = await store.createRoom(await roomKeeping({ seconds: 3600, bytes: MiB }));
      const quiet = stream('quiet');
      const flood = stream('flood');
      const other = stream('other');
      // quiet writes first (its rows are the room's oldest), then flood far more than its share.
      await store.appendHistory(
        number,
        Array.from({ length: 4 }, () => quiet.row(50_000)),
      );
      clock.advance(1000);
      await store.appendHistory(number, [other.row(100_000)]);
      clock.advance(1000);
      for (let i = 0; i < 4; i++) {
        await store.appendHistory(
          number,
          Array.from({ length: 5 }, () => flood.row(50_000)),
        );
        clock.advance(1000);
      }
      // 200 000 + 100 000 + 1 000 000 bytes, 251 424 over the cap of 1 048 576.
      expect(await store.pruneHistory(number, 2)).to.equal(2);
      expect(await store.pruneHistory(number, 100)).to.equal(4);
      const left = await store.readHistory(number, ALL);
      expect(left.filter((r) => r.sender === 'quiet').map((r) => r.firstSeq)).to.deep.equal([
        0, 1, 2, 3,
      ]);
      expect(left.filter((r) => r.sender === 'other')).to.have.length(1);
      expect(left.filter((r) => r.sender === 'flood').map((r) => r.firstSeq)).to.deep.equal(
        Array.from({ length: 14 }, (_, i) => i + 6),
      );
      expect(await store.pruneHistory(number, 100)).to.equal(0);
      expect((await store.historyStats(number)).bytes).to.be.at.most(MiB);
    });

    it('prunes two keys over the cap down to one level, so neither loses more than the other', async function () {
      const { number } = await store.createRoom(await roomKeeping({ seconds: 3600, bytes: MiB }));
      const a = stream('aaaa');
      const b = stream('bbbb');
      await store.appendHistory(
        number,
        Array.from({ length: 12 }, () => a.row(50_000)),
      );
      await store.appendHistory(
        number,
        Array.from({ length: 12 }, () => b.row(50_000)),
      );
      // 1 200 000 bytes: 4 rows must go, 2 of each.
      expect(await store.pruneHistory(number, 100)).to.equal(4);
      const left = await store.readHistory(number, ALL);
      expect(left.filter((r) => r.sender === 'aaaa')).to.have.length(10);
      expect(left.filter((r) => r.sender === 'bbbb')).to.have.length(10);
    });

    it('deletes the history when the room closes, by hand or when idle', async function () {
      const s = stream();
      const byHand = await store.createRoom(await roomKeeping(DAY));
      const idle = await store.createRoom({ ...(await roomKeeping(DAY)), idleSeconds: 60 });
      const kept = await store.createRoom(await roomKeeping(DAY));
      for (const room of [byHand, idle, kept])
        await store.appendHistory(room.number, [s.row(), s.row()]);
      await store.closeRoom(byHand.number);
      expect(await count(byHand.number)).to.equal(0);
      expect(await count(idle.number)).to.equal(2);
      // Kept open by a member past the idle timeout of the other.
      const member = await store.addMember(kept.number, 'bob', 3600);
      clock.advance(60_000);
      expect((await store.status(idle.number))?.room.state).to.equal('closed');
      expect(await count(idle.number)).to.equal(0);
      expect(await store.heartbeat(member.id)).to.equal(true);
      expect(await count(kept.number)).to.equal(2);
      await store.removeMember(member.id);
    });

    it('counts rows, bytes and the oldest time within retention', async function () {
      const { number } = await store.createRoom(
        await roomKeeping({ seconds: 600, bytes: 64 * MiB }),
      );
      expect(await store.historyStats(number)).to.deep.equal({ rows: 0, bytes: 0, oldest: null });
      const s = stream();
      await store.appendHistory(number, [s.row(10), s.row(20, 4)]);
      clock.advance(1000);
      await store.appendHistory(number, [s.row(30)]);
      const read = await store.readHistory(number, ALL);
      const stats = await store.historyStats(number);
      expect(stats).to.deep.equal({ rows: 3, bytes: 60, oldest: read[0]!.sentAt });
      clock.advance(599_500);
      expect(await store.historyStats(number)).to.deep.equal({
        rows: 1,
        bytes: 30,
        oldest: read[2]!.sentAt,
      });
    });

    it("passes over an operator's rows holding values no sunoye writes", async function () {
      const { number } = await store.createRoom(await roomKeeping(DAY));
      const s = stream('good');
      await store.appendHistory(number, [s.row(), s.row()]);
      const now = (await store.readHistory(number, ALL))[0]!.sentAt.getTime();
      const insert = (values: unknown[]) =>
        fx.raw(
          'INSERT INTO room_history (room, signer, sender, first_seq, last_seq, sent_at, bytes, payload) ' +
            'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          [number, ...values],
        );
      const key = randomBytes(32);
      await insert([key, 'backwards', 5, 4, now, 3, Buffer.from('abc')]);
      await insert([randomBytes(31), 'shortkey', 0, 0, now, 3, Buffer.from('abc')]);
      await insert([key, 'negative', -3, 1, now, 3, Buffer.from('abc')]);
      await insert([key, 'huge', 2 ** 60, 2 ** 60, now, 3, Buffer.from('abc')]);
      await insert([key, 'lying', 0, 0, now, 1, Buffer.from('abc')]);
      await insert([key, 'big', 0, 0, now, 3 * MiB, Buffer.from('abc')]);
      await insert([key, 'future', 0, 0, 2 ** 62, 3, Buffer.from('abc')]);
      await insert([key, '', 0, 0, now, 3, Buffer.from('abc')]);
      // A seal that is no seal's bytes (too long; MySQL's column takes none) is no seal.
      await fx.raw(
        'INSERT INTO room_history (room, signer, sender, first_seq, last_seq, sent_at, bytes, payload, seal) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [
          number,
          key,
          'oddseal',
          0,
          0,
          now,
          3,
          Buffer.from('abc'),
          randomBytes(fx.url.startsWith('sqlite:') ? 300 : 0),
        ],
      );
      const read = await store.readHistory(number, ALL);
      expect(read.map((r) => r.sender).sort()).to.deep.equal(['good', 'good', 'oddseal']);
      const odd = read.find((r) => r.sender === 'oddseal');
      if (fx.url.startsWith('sqlite:')) expect(odd).not.to.have.property('seal');
      else expect(odd?.seal).to.have.length(0);
      expect(await store.readHistory(number, { ...ALL, last: 50 })).to.have.length(3);
      const huge = await store.readHistory(number, {
        ...ALL,
        stream: { signer: key, sender: 'huge', fromSeq: 0, toSeq: Number.MAX_SAFE_INTEGER },
      });
      expect(huge).to.deep.equal([]);
      // And pruning still works past them: the room closes, and everything goes.
      await store.closeRoom(number);
      expect(await count(number)).to.equal(0);
    });

    it('refuses a room whose history retention was altered, as any altered record', async function () {
      const encrypted = await store.createRoom(await roomKeeping(DAY));
      const plain = await store.createRoom(await roomKeeping(undefined, 'plain'));
      const cases: [string, number, number, RegExp][] = [
        [encrypted.number, 5, 64 * MiB, /history retention is out of range/],
        [encrypted.number, 3600, 10, /history retention is out of range/],
        [encrypted.number, 3600 * 24 * 31, 64 * MiB, /history retention is out of range/],
      ];
      for (const [room, seconds, bytes, message] of cases) {
        await fx.raw('UPDATE rooms SET history_seconds = ?, history_bytes = ? WHERE number = ?', [
          seconds,
          bytes,
          room,
        ]);
        const err = await store.status(room).catch((e: Error) => e);
        expect(err, `${seconds} ${bytes}`).to.be.instanceOf(RecordAlteredError);
        expect((err as Error).message).to.match(message);
        const append = await store.appendHistory(room, [stream().row()]).catch((e: Error) => e);
        expect(append).to.be.instanceOf(RecordAlteredError);
      }
      // A plain room said to keep history (its mode altered, which the room's remembered mode
      // tells) is read, and keeps none all the same.
      await fx.raw('UPDATE rooms SET history_seconds = ?, history_bytes = ? WHERE number = ?', [
        3600,
        64 * MiB,
        plain.number,
      ]);
      expect((await store.status(plain.number))?.room.history.seconds).to.equal(3600);
      await store.appendHistory(plain.number, [stream().row()]);
      expect(await count(plain.number)).to.equal(0);
    });
  });
}
