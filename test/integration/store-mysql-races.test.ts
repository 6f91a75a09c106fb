// First use of a fresh MySQL/MariaDB registry from many places at once, and operations whose
// connection is lost under them: no crash, each schema version recorded once, distinct rooms.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { openStore, type NewRoom, type RoomStore } from '../../src/db/index.js';
import { applyMigrations, MIGRATIONS, SCHEMA_TABLE } from '../../src/db/schema.js';
import { newKdfParams } from '../../src/protocol/index.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { requireMysql, scratchDatabase, type ScratchDatabase } from '../helpers/mysql.js';
import { waitFor } from '../helpers/wait.js';

const room = (): NewRoom => ({
  creator: 'alice',
  mode: 'plain',
  idleSeconds: 600,
  kdf: newKdfParams({ N: 1024, r: 8, p: 1 }),
  verifier: () => Buffer.alloc(32, 7),
});

describe('MySQL registry: first use from many places at once', function () {
  let db: ScratchDatabase;

  beforeEach(async function () {
    await requireMysql(this);
    db = await scratchDatabase();
  });
  afterEach(async function () {
    await db?.drop();
  });

  /** Runs the migrations on `count` connections of their own at once, none holding a lock. */
  async function migrateUnlocked(count: number): Promise<void> {
    const conns = await Promise.all(
      Array.from({ length: count }, () => mysql.createConnection({ uri: db.url })),
    );
    try {
      await Promise.all(
        conns.map((conn) =>
          applyMigrations(
            {
              all: async (sql, params) => (await conn.query(sql, params))[0] as never,
              run: async (sql, params) => (await conn.query(sql, params))[0],
            },
            'mysql',
          ),
        ),
      );
    } finally {
      await Promise.all(conns.map((conn) => conn.end()));
    }
  }

  const versions = async (): Promise<number[]> =>
    (await db.query(`SELECT version FROM ${SCHEMA_TABLE} ORDER BY version`)).map((r) =>
      Number(r.version),
    );

  it('sets the schema up from 8 connections at once with no lock between them, as cluster nodes do', async function () {
    await db.create();
    await migrateUnlocked(8);
    expect(await versions()).to.deep.equal(MIGRATIONS.map((m) => m.version));
    const columns = await db.query(`SHOW COLUMNS FROM rooms LIKE 'broker'`);
    expect(columns).to.have.length(1);
  });

  it('upgrades a version-1 registry from 8 connections at once with no lock between them', async function () {
    await db.create();
    for (const statement of MIGRATIONS[0]!.mysql) await db.query(statement);
    await db.query(
      `CREATE TABLE ${SCHEMA_TABLE} (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)`,
    );
    await db.query(`INSERT INTO ${SCHEMA_TABLE} VALUES (1, 0)`);
    await migrateUnlocked(8);
    expect(await versions()).to.deep.equal(MIGRATIONS.map((m) => m.version));
    expect(await db.query(`SHOW COLUMNS FROM rooms LIKE 'broker'`)).to.have.length(1);
  });

  it('gives 12 stores (pools) opening a fresh registry at once 36 distinct rooms', async function () {
    const stores: RoomStore[] = [];
    try {
      const opened = await Promise.allSettled(
        Array.from({ length: 12 }, async () => {
          const store = await openStore(db.url);
          stores.push(store);
          return Promise.all([1, 2, 3].map(() => store.createRoom(room())));
        }),
      );
      const failures = opened.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
      expect(failures).to.deep.equal([]);
      const numbers = opened.flatMap((o) => (o.status === 'fulfilled' ? o.value : []));
      expect(new Set(numbers.map((r) => r.number)).size).to.equal(36);
      const [{ count }] = (await db.query('SELECT COUNT(*) AS count FROM rooms')) as [
        { count: number },
      ];
      expect(Number(count)).to.equal(36);
      expect(await versions()).to.deep.equal(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  describe('separate processes', function () {
    let broker: TestBroker;
    let dir: string;
    before(async function () {
      broker = await startAedes();
      dir = mkdtempSync(join(tmpdir(), 'sunoye-first-use-'));
    });
    after(async function () {
      await broker?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('8 `room create` run at once on a fresh registry all succeed with distinct rooms', async function () {
      const runs = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          runProgram('room', ['create', '--json'], {
            env: {
              HOME: dir,
              SUNOYE_HOME: join(dir, `home-${i}`),
              SUNOYE_DB: db.url,
              SUNOYE_BROKER: broker.url,
              SUNOYE_NAME: `user${i}`,
              SUNOYE_PASSWORD: 'correct horse battery',
            },
          }),
        ),
      );
      for (const run of runs) expect(run.code, run.stderr).to.equal(0);
      const rooms = runs.map((run) => (JSON.parse(run.stdout) as { room: string }).room);
      expect(new Set(rooms).size).to.equal(8);
    });
  });
});

describe('MySQL registry: a connection lost under an operation', function () {
  let db: ScratchDatabase;
  let store: RoomStore | undefined;
  let admin: mysql.Connection | undefined;

  before(async function () {
    await requireMysql(this);
    db = await scratchDatabase();
  });
  after(async function () {
    await store?.close();
    await admin?.end();
    await db?.drop();
  });

  it('runs the operation again on a new connection, and its answer is right', async function () {
    store = await openStore(db.url);
    const { number } = await store.createRoom(room());
    const member = await store.addMember(number, 'bob', 60);
    // Hold the room's row, so that the next call waits on it; then kill that call's connection.
    admin = await mysql.createConnection({ uri: db.url });
    await admin.query('START TRANSACTION');
    await admin.query('SELECT number FROM rooms WHERE number = ? FOR UPDATE', [number]);
    const adding = store.addMember(number, 'carol', 60);
    const [waiting] = await waitFor('the call waiting on the row', async () => {
      const [rows] = await admin!.query(
        "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT%FOR UPDATE%' AND ID <> CONNECTION_ID()",
        [db.name],
      );
      const found = rows as { id: number }[];
      return found.length > 0 && found;
    });
    await admin.query(`KILL CONNECTION ${Number(waiting!.id)}`);
    await admin.query('COMMIT');
    const carol = await adding;
    expect(carol.name).to.equal('carol');
    const status = await store.status(number);
    expect(status?.members.map((m) => m.name).sort()).to.deep.equal(['bob', 'carol']);
    expect(await store.heartbeat(member.id)).to.equal(true);
  });

  it('takes the room its first attempt made as its own when run again, never making a second', async function () {
    store ??= await openStore(db.url);
    const [{ count: before }] = (await db.query('SELECT COUNT(*) AS count FROM rooms')) as [
      { count: number },
    ];
    const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
    const numbers: string[] = [];
    // Hold every row and gap of the table, so that the room's insert waits.
    admin ??= await mysql.createConnection({ uri: db.url });
    await admin.query('START TRANSACTION');
    await admin.query('SELECT number FROM rooms FOR UPDATE');
    const creating = store.createRoom({
      creator: 'alice',
      mode: 'plain',
      idleSeconds: 600,
      kdf,
      verifier: (number) => {
        numbers.push(number);
        return Buffer.alloc(32, 9);
      },
    });
    const [waiting] = await waitFor('the insert waiting on the table', async () => {
      const [rows] = await admin!.query(
        "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'INSERT INTO rooms%' AND ID <> CONNECTION_ID()",
        [db.name],
      );
      const found = rows as { id: number }[];
      return found.length > 0 && found;
    });
    // The row the first attempt made, its commit's answer lost with the connection.
    await admin.query(
      `INSERT INTO rooms (number, creator, state, mode, idle_seconds, kdf, verifier, created_at, closed_at, active_at, broker)
       VALUES (?, 'alice', 'open', 'plain', 600, ?, ?, 0, NULL, 0, NULL)`,
      [numbers[0], JSON.stringify(kdf), Buffer.alloc(32, 9)],
    );
    await admin.query(`KILL CONNECTION ${Number(waiting!.id)}`);
    await admin.query('COMMIT');
    const made = await creating;
    expect(made.number).to.equal(numbers[0]);
    expect(numbers).to.have.length(1);
    const [{ count: after }] = (await db.query('SELECT COUNT(*) AS count FROM rooms')) as [
      { count: number },
    ];
    expect(Number(after)).to.equal(Number(before) + 1);
  });
});
