// Reading a room's history from a real registry file: rows of several streams opened, put in
// order (each stream by its numbers, streams by signing time), read twice kept once, and cut as
// --last and --since ask.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { openStore, type RoomStore } from '../../src/db/index.js';
import { Sender } from '../../src/conversation/sender.js';
import { readHistory } from '../../src/history/reader.js';
import { HistorySealer } from '../../src/history/seal.js';
import {
  deriveRoomSecret,
  newKdfParams,
  newSigner,
  roomCodec,
  verifier,
  type ChatPayload,
  type RoomCodec,
  type Signer,
} from '../../src/protocol/index.js';

describe('reading history from the registry', function () {
  let dir: string;
  let store: RoomStore;
  let room: string;
  let secret: Buffer;
  const reader = newSigner();

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-history-reader-'));
    store = await openStore(`sqlite:${join(dir, 'registry.db')}`);
    const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
    secret = await deriveRoomSecret('correct horse battery staple', kdf);
    ({ number: room } = await store.createRoom({
      creator: 'alice',
      mode: 'encrypted',
      idleSeconds: 3600,
      kdf,
      verifier: (n) => verifier(secret, n, 'encrypted'),
      history: { seconds: 86_400, bytes: 64 * 1024 * 1024 },
    }));
  });
  afterEach(async function () {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const codecOf = (signer: Signer): RoomCodec => roomCodec(room, 'encrypted', secret, signer);
  /** `payloads` of one stream as rows of `per` payloads each. */
  const rows = (signer: Signer, sender: Sender, payloads: ChatPayload[], per = 1) => {
    const codec = codecOf(signer);
    const out = [];
    for (let i = 0; i < payloads.length; i += per) {
      const part = payloads.slice(i, i + per);
      out.push({
        signer: signer.publicKey,
        sender: sender.id,
        firstSeq: part[0]!.seq!,
        lastSeq: part[part.length - 1]!.seq!,
        payload: Buffer.from(part.length === 1 ? codec.encode(part[0]!) : codec.encodeBatch(part)),
      });
    }
    return out;
  };
  /** A payload signed `agoMs` before the test's start. */
  const start = Date.now();
  const at = <T extends ChatPayload>(p: T, agoMs: number): T => ({
    ...p,
    ts: new Date(start - agoMs).toISOString(),
  });
  const texts = (lines: { payload: ChatPayload }[]) =>
    lines.map(({ payload }) => (payload.type === 'message' ? payload.message : payload.event));

  it('merges streams by signing time, each in its own order, whatever order the rows were written in', async function () {
    const bobKey = newSigner();
    const carolKey = newSigner();
    const bob = new Sender('bob');
    const carol = new Sender('carol');
    const b = [
      at(bob.message('b1'), 5000),
      at(bob.message('b2'), 3000),
      at(bob.message('b3'), 1000),
    ];
    const c = [at(carol.message('c1'), 4000), at(carol.message('c2'), 2000)];
    // carol's rows first, and bob's in a batch: the registry's order is not the conversation's.
    await store.appendHistory(room, rows(carolKey, carol, c));
    await store.appendHistory(room, rows(bobKey, bob, b, 3));
    const read = await readHistory(store, room, codecOf(reader), {});
    expect(texts(read.lines)).to.deep.equal(['b1', 'c1', 'b2', 'c2', 'b3']);
    expect(read.altered).to.deep.equal([]);
  });

  it('keeps a payload that two rows hold once', async function () {
    const bobKey = newSigner();
    const bob = new Sender('bob');
    const said = [bob.message('1'), bob.message('2'), bob.message('3')];
    await store.appendHistory(room, rows(bobKey, bob, said, 3));
    await store.appendHistory(room, rows(bobKey, bob, said.slice(1), 1));
    const read = await readHistory(store, room, codecOf(reader), {});
    expect(texts(read.lines)).to.deep.equal(['1', '2', '3']);
  });

  it('--last N: the last N messages and the notices among them; --since: what was signed since', async function () {
    const bobKey = newSigner();
    const bob = new Sender('bob');
    const said: ChatPayload[] = [at(bob.notice('join', 'sunoye/room/x', room), 9000)];
    for (let i = 1; i <= 200; i++) said.push(at(bob.message(`m${i}`), 9000 - i * 10));
    said.push(at(bob.notice('leave', 'sunoye/room/x', room), 500));
    await store.appendHistory(room, rows(bobKey, bob, said));
    const last = await readHistory(store, room, codecOf(reader), { last: 3 });
    expect(texts(last.lines)).to.deep.equal(['m198', 'm199', 'm200', 'leave']);
    // More notices than the first read allows for: it reads on until it has N messages.
    const many = await readHistory(store, room, codecOf(reader), { last: 150 });
    expect(many.lines.filter((l) => l.payload.type === 'message')).to.have.length(150);
    const since = await readHistory(store, room, codecOf(reader), {
      sinceMs: start - 7015,
    });
    expect(texts(since.lines)).to.deep.equal(['m199', 'm200', 'leave']);
    const both = await readHistory(store, room, codecOf(reader), {
      sinceMs: start - 7015,
      last: 1,
    });
    expect(texts(both.lines)).to.deep.equal(['m200', 'leave']);
  });

  it('leaves to live what a stream said after a line that came live, its copy still on its way', async function () {
    const bobKey = newSigner();
    const carolKey = newSigner();
    const bob = new Sender('bob');
    const carol = new Sender('carol');
    const b = Array.from({ length: 9 }, (_, i) => at(bob.message(`b${i + 1}`), 900 - i * 100));
    const c = [at(carol.message('c1'), 850), at(carol.message('c2'), 50)];
    const bobRows = rows(bobKey, bob, b);
    await store.appendHistory(room, bobRows);
    await store.appendHistory(room, rows(carolKey, carol, c));
    // b4 to b6 came live and are held; b7 to b9 are stored but their live copies are still on
    // their way to this listener: shown as history, they would come before b4 to b6.
    const held = new Set(bobRows.slice(3, 6).map((row) => row.payload.toString('base64')));
    const read = await readHistory(store, room, codecOf(reader), {
      live: { sinceMs: start - 60_000, has: (payload) => held.has(payload.toString('base64')) },
    });
    expect(texts(read.lines)).to.deep.equal(['b1', 'c1', 'b2', 'b3', 'c2']);
  });

  it('leaves out the oldest lines when the history is longer than a read takes, and says so', async function () {
    const bobKey = newSigner();
    const bob = new Sender('bob');
    const said = Array.from({ length: 50 }, (_, i) => bob.message(`m${i + 1}`));
    await store.appendHistory(room, rows(bobKey, bob, said));
    const read = await readHistory(store, room, codecOf(reader), {}, { payloads: 20, bytes: 1e9 });
    expect(read.cut).to.equal(true);
    expect(texts(read.lines)).to.deep.equal(
      said.slice(30).map((p) => (p as { message: string }).message),
    );
  });

  it('opens sealed rows as any rows: a row the operator swapped or forged is still ignored, the rest shown', async function () {
    const aliceKey = newSigner();
    const alice = new Sender('alice');
    const said = Array.from({ length: 300 }, (_, i) => alice.message(`a${i + 1}`));
    // Typed lines: a transaction, and a seal, each.
    const sealer = new HistorySealer(room, aliceKey);
    for (const row of rows(aliceKey, alice, said)) {
      const sealed = sealer.seal([row]);
      await store.appendHistory(room, sealed.rows);
      sealed.commit();
    }
    const intact = await readHistory(store, room, codecOf(reader), {});
    expect(texts(intact.lines)).to.deep.equal(said.map((p) => (p as { message: string }).message));
    // The operator puts line 101 in place of line 100, and a line mallory signed (in the room,
    // with the room's key) in place of line 200, each under alice's key and numbers.
    const mallory = newSigner();
    const forged = rows(mallory, new Sender('mallory'), [alice.message('I owe mallory 100')]);
    const raw = new Database(join(dir, 'registry.db'));
    const payloadOf = (seq: number): Buffer =>
      (
        raw
          .prepare(
            'SELECT payload FROM room_history WHERE room = ? AND sender = ? AND first_seq = ?',
          )
          .get(room, alice.id, seq) as { payload: Buffer }
      ).payload;
    const put = raw.prepare(
      'UPDATE room_history SET payload = ?, bytes = ? WHERE room = ? AND sender = ? AND first_seq = ?',
    );
    const line101 = payloadOf(said[100]!.seq!);
    put.run(line101, line101.length, room, alice.id, said[99]!.seq!);
    put.run(forged[0]!.payload, forged[0]!.payload.length, room, alice.id, said[199]!.seq!);
    raw.close();
    const read = await readHistory(store, room, codecOf(reader), {});
    expect(read.altered).to.have.length(2);
    expect(texts(read.lines)).to.deep.equal(
      said.filter((_, i) => i !== 99 && i !== 199).map((p) => (p as { message: string }).message),
    );
  });

  it("checks no seal of rows that do not open with the room's key: an operator's seals under made-up keys cost a reader nothing", async function () {
    // The operator (who has no room key) writes rows of junk, each under a key of its own and
    // with a seal: every key is new to the reader, and checking a signature by a new key costs
    // far more than failing to decrypt a row.
    const count = 3000;
    const raw = new Database(join(dir, 'registry.db'));
    const insert = raw.prepare(
      'INSERT INTO room_history (room, signer, sender, first_seq, last_seq, sent_at, bytes, payload, seal) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const write = (sealed: boolean): void =>
      raw.transaction(() => {
        raw.prepare('DELETE FROM room_history WHERE room = ?').run(room);
        for (let i = 0; i < count; i++) {
          const payload = randomBytes(40);
          const seal = Buffer.alloc(72);
          randomBytes(64).copy(seal);
          seal.writeBigUInt64BE(1n, 64);
          insert.run(
            room,
            randomBytes(32),
            'op',
            1,
            1,
            Date.now(),
            40,
            payload,
            sealed ? seal : null,
          );
        }
      })();
    const timed = async (): Promise<number> => {
      const began = performance.now();
      const read = await readHistory(store, room, codecOf(reader), {});
      expect(read.altered).to.have.length(count);
      return performance.now() - began;
    };
    write(false);
    const unsealedMs = await timed();
    write(true);
    const sealedMs = await timed();
    raw.close();
    expect(
      sealedMs,
      `${count} sealed junk rows: ${sealedMs} ms, unsealed ${unsealedMs} ms`,
    ).to.be.below(4 * unsealedMs + 300);
  });
});
