// A SQLite registry reads history rows one at a time in one statement: rows an operator wrote
// with values sunoye never writes are passed over without their payloads being read, so that
// what a read costs stays within its bounds, whatever the file holds.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { openStore, type RoomStore } from '../../src/db/index.js';
import { deriveRoomSecret, newKdfParams, verifier } from '../../src/protocol/index.js';

const MiB = 2 ** 20;

/** Bytes this process has read from files so far (Linux), or undefined. */
function bytesRead(): number | undefined {
  if (!existsSync('/proc/self/io')) return undefined;
  const line = /^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return line ? Number(line[1]) : undefined;
}

describe('SQLite history reads within their bounds', function () {
  let dir: string;
  let store: RoomStore;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-sqlite-bounds-'));
  });
  afterEach(async function () {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A registry whose one room keeps history and holds one good row, and that row's time. */
  async function roomWithOneRow() {
    const path = join(dir, 'registry.db');
    store = await openStore(`sqlite:${path}`);
    const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
    const secret = await deriveRoomSecret('correct horse battery', kdf);
    const { number: room } = await store.createRoom({
      creator: 'alice',
      mode: 'encrypted',
      idleSeconds: 600,
      kdf,
      verifier: (n) => verifier(secret, n, 'encrypted'),
      history: { seconds: 86_400, bytes: 64 * MiB },
    });
    const signer = randomBytes(32);
    await store.appendHistory(room, [
      { signer, sender: 'good', firstSeq: 0, lastSeq: 0, payload: randomBytes(100) },
    ]);
    const now = (await store.readHistory(room, { maxRows: 10, maxBytes: MiB }))[0]!.sentAt;
    return { path, room, signer, now };
  }

  it("never reads the payloads of an operator's rows it passes over", async function () {
    if (bytesRead() === undefined) this.skip();
    const { path, room, signer, now } = await roomWithOneRow();
    // Newer than the good row, so read first: 40 rows of 1 MiB whose sender id is longer than
    // any sunoye writes, and 8 of 4 MiB (more than a row may hold), bytes telling the truth.
    const raw = new Database(path);
    const insert = raw.prepare(
      'INSERT INTO room_history (room, signer, sender, first_seq, last_seq, sent_at, bytes, payload) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, zeroblob(?))',
    );
    raw.transaction(() => {
      for (let i = 0; i < 40; i++)
        insert.run(room, signer, 'x'.repeat(33), i, i, now.getTime() + 1000, MiB, MiB);
      for (let i = 0; i < 8; i++)
        insert.run(room, signer, 'big', i, i, now.getTime() + 1000, 4 * MiB, 4 * MiB);
    })();
    raw.close();
    const before = bytesRead()!;
    const read = await store.readHistory(room, { maxRows: 1000, maxBytes: 1000 });
    const cost = bytesRead()! - before;
    expect(read.map((r) => r.sender)).to.deep.equal(['good']);
    expect(cost, `bytes read: ${cost}`).to.be.below(4 * MiB);
  });

  it('reads no more payload bytes than asked where SQL and JavaScript judge a row differently', async function () {
    if (bytesRead() === undefined) this.skip();
    const { path, room, signer, now } = await roomWithOneRow();
    // A sender id of 20 characters outside the BMP: 20 for SQLite, 40 UTF-16 units, too long.
    const raw = new Database(path);
    const insert = raw.prepare(
      'INSERT INTO room_history (room, signer, sender, first_seq, last_seq, sent_at, bytes, payload) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, zeroblob(?))',
    );
    raw.transaction(() => {
      for (let i = 0; i < 40; i++)
        insert.run(room, signer, '\u{1F600}'.repeat(20), i, i, now.getTime() + 1000, MiB, MiB);
    })();
    raw.close();
    const before = bytesRead()!;
    const read = await store.readHistory(room, { maxRows: 1000, maxBytes: 1000 });
    const cost = bytesRead()! - before;
    expect(read.every((r) => r.sender === 'good')).to.equal(true);
    expect(cost, `bytes read: ${cost}`).to.be.below(4 * MiB);
  });
});
