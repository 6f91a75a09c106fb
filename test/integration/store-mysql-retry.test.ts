// A registry call that runs into a real deadlock on MySQL/MariaDB runs again and succeeds, and
// one held up by a lock for longer than its timeout fails within it, with the timeout's message.
import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { openStore, type NewRoom, type RoomStore } from '../../src/db/index.js';
import { ExitCode, SunoyeError } from '../../src/errors.js';
import { newKdfParams } from '../../src/protocol/index.js';
import { requireMysql, scratchDatabase, type ScratchDatabase } from '../helpers/mysql.js';
import { waitFor } from '../helpers/wait.js';

const room = (): NewRoom => ({
  creator: 'alice',
  mode: 'plain',
  idleSeconds: 600,
  kdf: newKdfParams({ N: 1024, r: 8, p: 1 }),
  verifier: () => Buffer.alloc(32, 7),
});

describe('MySQL registry: a call that meets a deadlock or a held lock', function () {
  let db: ScratchDatabase;
  let store: RoomStore | undefined;
  let other: mysql.Connection | undefined;

  beforeEach(async function () {
    await requireMysql(this);
    db = await scratchDatabase();
  });
  afterEach(async function () {
    await other?.end();
    other = undefined;
    await store?.close();
    store = undefined;
    await db?.drop();
  });

  /** The id of the registry's connection running a statement like `pattern`, once it runs. */
  const waiting = (pattern: string): Promise<number> =>
    waitFor(`a statement like ${pattern} waiting on a lock`, async () => {
      const [rows] = await other!.query(
        'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE ? AND ID <> CONNECTION_ID()',
        [db.name, pattern],
      );
      const found = rows as { id: number }[];
      return found.length > 0 && Number(found[0]!.id);
    });

  it('runs a join chosen as a deadlock victim again, and it joins once', async function () {
    store = await openStore(db.url);
    const { number } = await store.createRoom(room());
    const bob = await store.addMember(number, 'bob', 60);
    other = await mysql.createConnection({ uri: db.url });
    await other.query('CREATE TABLE ballast (id INT PRIMARY KEY)');
    // Another session writes rows (so that it weighs more, and the server rolls back the join's
    // transaction rather than this one) and locks the room's members.
    await other.query('START TRANSACTION');
    await other.query('INSERT INTO ballast SELECT seq FROM seq_1_to_200');
    await other.query('SELECT id FROM members WHERE room = ? FOR UPDATE', [number]);
    // The join locks the room, then waits for its members.
    const joining = store.addMember(number, 'carol', 60);
    await waiting('SELECT%FROM members%FOR UPDATE');
    // Locking the room now closes the circle: a deadlock. This session gets the room's row only
    // once the join's transaction is rolled back.
    await other.query('SELECT number FROM rooms WHERE number = ? FOR UPDATE', [number]);
    // The join's next try waits for the room until this session is done (a join that was not
    // tried again fails here, with the deadlock).
    await Promise.race([waiting('SELECT%FROM rooms%FOR UPDATE'), joining]);
    await other.query('COMMIT');
    const carol = await joining;
    expect(carol.name).to.equal('carol');
    const status = await store.status(number);
    expect(status?.members.map((m) => m.name)).to.deep.equal(['bob', 'carol']);
    expect(await store.heartbeat(bob.id)).to.equal(true);
    expect(await store.heartbeat(carol.id)).to.equal(true);
  });

  it('fails a call held up by a lock for longer than its timeout within it, and works once the lock goes', async function () {
    const url = new URL(db.url);
    url.searchParams.set('timeout', '1');
    store = await openStore(url.toString());
    const { number } = await store.createRoom(room());
    other = await mysql.createConnection({ uri: db.url });
    await other.query('START TRANSACTION');
    await other.query('SELECT number FROM rooms WHERE number = ? FOR UPDATE', [number]);
    const started = Date.now();
    const err = await store.addMember(number, 'carol', 60).then(
      () => new Error('expected a failure'),
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    expect(err).to.be.instanceOf(SunoyeError);
    expect((err as SunoyeError).exitCode).to.equal(ExitCode.unavailable);
    expect((err as Error).message).to.match(/no answer within 1 s/);
    // Bounded by the timeout (with room for a loaded machine), not by the server's lock wait.
    expect(took).to.be.within(900, 5000);
    await other.query('COMMIT');
    await store.addMember(number, 'carol', 60);
    expect((await store.status(number))?.members.map((m) => m.name)).to.deep.equal(['carol']);
  });
});
