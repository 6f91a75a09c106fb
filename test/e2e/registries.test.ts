// Registries as two people on one machine meet them (issue 21, items 2, 3 and 9): the default
// registry is each user's own, and says so; a remembered room uses the registry and broker it was
// joined with; only `room create` makes a registry; `room list` and `room leave` deal with rooms
// of any registry.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { MIGRATIONS, SCHEMA_TABLE, SCHEMA_VERSION } from '../../src/db/schema.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { ownAccount, runProgram } from '../helpers/cli.js';
import { MYSQL_TEST_URL, requireMysql, scratchDatabase } from '../helpers/mysql.js';
import {
  createRoomWithPassword,
  joinedListener,
  jsonLines,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';

describe('registries of two people on one machine', function () {
  this.timeout(60_000);
  let dir: string;
  let brokerA: TestBroker;
  let brokerB: TestBroker;
  const running: RunningProgram[] = [];

  /** A person with an account of their own (own HOME and XDG folders) and nothing configured. */
  const person = (name: string, settings: Record<string, string> = {}) =>
    ownAccount(dir, name, settings);
  /** A person's default registry file. */
  const ownRegistry = (name: string) => join(dir, name, 'data', 'sunoye', 'sunoye.db');
  /** The files a person's machine remembers rooms in. */
  const rememberedFiles = (name: string) => {
    const rooms = join(dir, name, 'config', 'sunoye', 'rooms');
    return existsSync(rooms)
      ? readdirSync(rooms).map((file) => readFileSync(join(rooms, file), 'utf8'))
      : [];
  };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-registries-'));
    brokerA = await startAedes();
    brokerB = await startAedes();
  });
  afterEach(() => stopAll(running));
  after(async function () {
    await brokerB?.stop();
    await brokerA?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('on the defaults, room create says the room is in a registry of the creator alone, and the invited learn where a room is', async function () {
    const alice = person('alice', { SUNOYE_BROKER: brokerA.url });
    const made = await runProgram('room', ['create'], { env: alice });
    expect(made.code, made.stderr).to.equal(0);
    const room = /^Room number: (\d{6})$/m.exec(made.stdout)![1]!;
    const password = /^Password: +(\S+)$/m.exec(made.stdout)![1]!;
    // No join line for others that cannot work: what to do instead.
    expect(made.stderr).to.not.include('The people you invite join with');
    expect(made.stderr).to.include(
      `The room is in your own registry, the SQLite file ${ownRegistry('alice')}, which only you can open: nobody else can join it. ` +
        'To chat with others, create the room in a registry they can use too',
    );
    expect(made.stderr).to.include('room create --db sqlite:/srv/sunoye/rooms.db');
    expect(made.stderr).to.include('"Sharing a room"');
    const json = await runProgram('room', ['create', '--json'], { env: alice });
    expect(JSON.parse(json.stdout)).to.include({ ownRegistry: true });

    // Bob runs the line as it was printed before: he is told where the room must be.
    const bob = person('bob');
    const joined = await runProgram(
      'room',
      ['join', room, '--broker', brokerA.url, '--password-file', '-'],
      { env: bob, input: `${password}\n` },
    );
    expect(joined.code).to.equal(3);
    expect(joined.stderr).to.include(
      `there is no room ${room} in your own registry (sqlite:${ownRegistry('bob')}, the default, which only you use); ` +
        'check the number; a room someone else created is in their registry: give it with --db (or SUNOYE_DB)',
    );
    expect(joined.stderr).to.include('"Sharing a room"');
    // Asking made him no registry.
    expect(existsSync(ownRegistry('bob'))).to.equal(false);

    // With a registry of his own, the same words.
    await createRoomWithPassword(bob);
    const info = await runProgram('room', ['info', room], { env: bob });
    expect(info.code).to.equal(3);
    expect(info.stderr).to.include(`there is no room ${room} in your own registry`);
  });

  it('a room joined with --db and --broker is used with them, without flags; other ones given are used, with a warning', async function () {
    const shared = `sqlite:${join(dir, 'shared.db')}`;
    const alice = person('alice2', { SUNOYE_DB: shared, SUNOYE_BROKER: brokerA.url });
    const { room, password } = await createRoomWithPassword(alice);
    const listener = await joinedListener(room, [], alice, running);

    const bob = person('bob2');
    const joined = await runProgram(
      'room',
      ['join', room, '--db', shared, '--broker', brokerA.url, '--password-file', '-'],
      { env: bob, input: `${password}\n` },
    );
    expect(joined.code, joined.stderr).to.equal(0);
    expect(joined.stderr).to.include('; --broker and --db are remembered with the room.');
    const [remembered] = rememberedFiles('bob2');
    expect(JSON.parse(remembered!)).to.include({
      db: shared,
      broker: `mqtt://127.0.0.1:${brokerA.port}`,
    });

    // Nothing given: the registry and the broker it was joined with.
    const sent = await runProgram('publish', [room, '-m', 'hello without flags'], { env: bob });
    expect(sent.code, sent.stderr).to.equal(0);
    expect(sent.stderr).to.not.include('warning');
    await listener.line('the message', (l) => l.includes('hello without flags'));
    for (const args of [['info', room], ['list']]) {
      const run = await runProgram('room', args, { env: bob });
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).to.equal(0);
      expect(run.stderr).to.equal('');
      expect(run.stdout).to.match(new RegExp(`${room}.*open`));
    }
    const heard = await runProgram('listen', [room, '--timeout', '1'], { env: bob });
    expect(heard.stderr).to.not.include('there is no room');
    expect(heard.stderr).to.not.include('warning');

    // Another broker given: used, with the warning that it is not the room's.
    const elsewhere = await runProgram('publish', [room, '-m', 'on the other broker'], {
      env: { ...bob, SUNOYE_BROKER: brokerB.url },
    });
    expect(elsewhere.code, elsewhere.stderr).to.equal(0);
    expect(elsewhere.stderr).to.include(
      `warning: room ${room} was created on the broker mqtt://127.0.0.1:${brokerA.port} (so says the registry), but this uses mqtt://127.0.0.1:${brokerB.port}`,
    );
    // Another registry given: used, with a warning; the room is not there.
    const other = `sqlite:${join(dir, 'other.db')}`;
    await createRoomWithPassword(person('carol2', { SUNOYE_DB: other }));
    const wrongDb = await runProgram('room', ['info', room, '--db', other], { env: bob });
    expect(wrongDb.code).to.equal(3);
    expect(wrongDb.stderr).to.include(
      `warning: you joined room ${room} in the registry ${shared}, but this uses ${other} as given`,
    );
    await runProgram('publish', [room, '-m', 'after'], { env: bob });
    await listener.line('the next message', (l) => l.includes('"after"'));
    const messages = jsonLines(listener.stdoutLines).map((m) => m.message);
    expect(messages).to.not.include('on the other broker');
  });

  it('a MySQL registry joined with a password keeps no password: the room names it, and SUNOYE_DB gives it', async function () {
    await requireMysql(this);
    const db = await scratchDatabase();
    await db.create();
    const user = `reg_${db.name.slice(-10)}`;
    const secret = `Db-Pw-${db.name.slice(-8)}`;
    try {
      for (const host of ['%', 'localhost']) {
        await db.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY '${secret}'`);
        await db.query(`GRANT ALL PRIVILEGES ON \`${db.name}\`.* TO '${user}'@'${host}'`);
      }
      const server = new URL(MYSQL_TEST_URL);
      const url = `mysql://${user}:${secret}@${server.hostname}:${server.port || 3306}/${db.name}`;
      const { room, password } = await createRoomWithPassword(person('alice3', { SUNOYE_DB: url }));
      const bob = person('bob3');
      const joined = await runProgram('room', ['join', room, '--db', url, '--password-file', '-'], {
        env: bob,
        input: `${password}\n`,
      });
      expect(joined.code, joined.stderr).to.equal(0);
      const [remembered] = rememberedFiles('bob3');
      expect(remembered).to.not.include(secret);
      expect(JSON.parse(remembered!)).to.include({ dbPassword: true });
      const without = await runProgram('room', ['info', room], { env: bob });
      expect(without.code).to.equal(3);
      expect(without.stderr).to.include(
        `room ${room} is in the registry mysql://***@${server.hostname}:${server.port || 3306}/${db.name}, whose password this machine does not keep`,
      );
      expect(without.stderr).to.not.include(secret);
      const given = await runProgram('room', ['info', room], { env: { ...bob, SUNOYE_DB: url } });
      expect(given.code, given.stderr).to.equal(0);
      expect(given.stderr).to.equal('');
    } finally {
      for (const host of ['%', 'localhost'])
        await db.query(`DROP USER IF EXISTS '${user}'@'${host}'`).catch(() => undefined);
      await db.drop();
    }
  });

  it('a mistyped SQLite registry is refused, creating no folder or file; an older registry is still upgraded', async function () {
    const bob = person('bob4');
    const typo = join(dir, 'typo', 'sub', 'x.db');
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    for (const [path, reason] of [
      [typo, 'no such file'],
      [empty, 'the file holds no registry'],
    ] as const) {
      for (const [program, args] of [
        ['room', ['info', '111111']],
        ['room', ['join', '111111', '--password', 'x']],
        ['room', ['close', '111111']],
        ['listen', ['111111', '--timeout', '1']],
        ['publish', ['111111', '-m', 'hi']],
      ] as const) {
        const run = await runProgram(program, [...args, '--db', `sqlite:${path}`], { env: bob });
        expect(run.code, `${program} ${args[0]}: ${run.stderr}`).to.equal(3);
        expect(run.stderr).to.include(
          `there is no registry sqlite:${path} (${reason}); check --db (or SUNOYE_DB, "db" in config.json): \`room create\` makes one`,
        );
      }
    }
    expect(existsSync(join(dir, 'typo'))).to.equal(false);
    expect(readFileSync(empty).length).to.equal(0);

    // A fresh account: nothing remembered, nothing made.
    const list = await runProgram('room', ['list'], { env: bob });
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stderr).to.include('No rooms remembered yet');
    const info = await runProgram('room', ['info', '123456'], { env: bob });
    expect(info.code).to.equal(3);
    expect(info.stderr).to.include('there is no room 123456 in your own registry');
    expect(existsSync(join(dir, 'bob4', 'data'))).to.equal(false);

    // A registry of schema version 1 is upgraded by any command, as before.
    const old = join(dir, 'old.db');
    const sqlite = new Database(old);
    sqlite.exec(
      `CREATE TABLE ${SCHEMA_TABLE} (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)`,
    );
    for (const statement of MIGRATIONS[0]!.sqlite) sqlite.exec(statement);
    sqlite.prepare(`INSERT INTO ${SCHEMA_TABLE} VALUES (1, 0)`).run();
    sqlite.close();
    const upgraded = await runProgram('room', ['info', '111111', '--db', `sqlite:${old}`], {
      env: bob,
    });
    expect(upgraded.code).to.equal(3);
    expect(upgraded.stderr).to.include(`there is no room 111111 in sqlite:${old}`);
    const after = new Database(old, { readonly: true });
    try {
      const row = after.prepare(`SELECT MAX(version) AS v FROM ${SCHEMA_TABLE}`).get() as {
        v: number;
      };
      expect(row.v).to.equal(SCHEMA_VERSION);
    } finally {
      after.close();
    }
  });

  it('a mistyped MySQL database is refused, creating no database; an empty one gets no tables', async function () {
    await requireMysql(this);
    const typo = await scratchDatabase();
    const empty = await scratchDatabase();
    await empty.create();
    try {
      const bob = person('bob5');
      for (const [db, reason] of [
        [typo, `no database ${typo.name} on that server`],
        [empty, 'the database holds no registry'],
      ] as const) {
        for (const [program, args] of [
          ['room', ['info', '111111']],
          ['room', ['join', '111111', '--password', 'x']],
          ['publish', ['111111', '-m', 'hi']],
        ] as const) {
          const run = await runProgram(program, [...args, '--db', db.url], { env: bob });
          expect(run.code, `${program}: ${run.stderr}`).to.equal(3);
          expect(run.stderr).to.include(`(${reason}); check --db`);
          expect(run.stderr).to.include('`room create` makes one');
        }
      }
      const databases = (await empty.query('SHOW DATABASES')).map((r) => Object.values(r)[0]);
      expect(databases).to.include(empty.name);
      expect(databases).to.not.include(typo.name);
      expect(await empty.query('SHOW TABLES')).to.deep.equal([]);
      // room create makes it.
      const made = await runProgram('room', ['create', '--db', typo.url], { env: bob });
      expect(made.code, made.stderr).to.equal(0);
      expect((await typo.query('SHOW TABLES')).length).to.be.above(0);
    } finally {
      await typo.drop();
      await empty.drop();
    }
  });

  it('room list reads rooms of other registries in their own, or says it could not; room leave forgets them', async function () {
    const shared = join(dir, 'list-shared.db');
    const broken = join(dir, 'list-broken.db');
    const alice = person('alice6', { SUNOYE_DB: `sqlite:${shared}` });
    const open = await createRoomWithPassword(alice);
    const closed = await createRoomWithPassword(alice);
    const lost = await createRoomWithPassword(person('carol6', { SUNOYE_DB: `sqlite:${broken}` }));
    // Bob works in his own registry, and joined rooms elsewhere.
    const bob = person('bob6');
    await createRoomWithPassword(bob);
    for (const [made, db] of [
      [open, shared],
      [closed, shared],
      [lost, broken],
    ] as const) {
      const joined = await runProgram(
        'room',
        ['join', made.room, '--db', `sqlite:${db}`, '--password-file', '-'],
        { env: bob, input: `${made.password}\n` },
      );
      expect(joined.code, joined.stderr).to.equal(0);
    }
    expect((await runProgram('room', ['close', closed.room], { env: alice })).code).to.equal(0);
    writeFileSync(broken, 'not a database, not at all: garbage '.repeat(200));

    const list = await runProgram('room', ['list', '--all', '--json'], { env: bob });
    expect(list.code, list.stderr).to.equal(0);
    const states = Object.fromEntries(
      (JSON.parse(list.stdout) as { room: string; state: string }[]).map((r) => [r.room, r.state]),
    );
    expect(states[open.room]).to.equal('open');
    expect(states[closed.room]).to.equal('closed');
    expect(states[lost.room]).to.equal('unknown');
    expect(list.stderr).to.include(
      `the rooms of the registry sqlite:${broken} show no state: it could not be read`,
    );
    const text = await runProgram('room', ['list'], { env: bob });
    expect(text.stdout).to.not.include(closed.room);
    expect(text.stderr).to.include('1 closed room not shown');

    // Leaving forgets the memory of the room, whatever registry it is of.
    for (const room of [closed.room, lost.room]) {
      const left = await runProgram('room', ['leave', room], { env: bob });
      expect(left.code, left.stderr).to.equal(0);
      expect(left.stderr).to.include(`Forgot room ${room}`);
    }
    const again = await runProgram('room', ['leave', lost.room], { env: bob });
    expect(again.code).to.equal(3);
    expect(again.stderr).to.include('is not remembered here');
    const rest = await runProgram('room', ['list', '--all', '--json'], { env: bob });
    expect(
      (JSON.parse(rest.stdout) as { room: string }[]).map((r) => r.room),
    ).to.not.include.members([closed.room, lost.room]);
  });
});
