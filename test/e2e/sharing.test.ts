// Sharing a room (issue 12, items 2.3 and 2.7): the room's record names the broker it was created
// on, and commands on another broker say so; `room create` prints the `room join` line that
// another person, with nothing configured, runs as it is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { ownAccount, runProgram, type Run } from '../helpers/cli.js';
import { MYSQL_TEST_URL, requireMysql, scratchDatabase } from '../helpers/mysql.js';
import {
  createRoomWithPassword,
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
} from '../helpers/programs.js';
import type { RunningProgram } from '../helpers/programs.js';
import { alterRoomRecord } from '../helpers/registries.js';

describe('sharing a room', function () {
  this.timeout(60_000);
  let dir: string;
  let brokerA: TestBroker;
  let brokerB: TestBroker;
  const running: RunningProgram[] = [];

  /** A person with an account of their own (own HOME and XDG folders) and nothing configured. */
  const person = (name: string, settings: Record<string, string> = {}) =>
    ownAccount(dir, name, settings);

  /** The address a broker's URL names, as the warnings print it. */
  const address = (broker: TestBroker) => `mqtt://127.0.0.1:${broker.port}`;

  /** The `room join` line of `room create`'s output, and the notes after it. */
  function joinLine(made: Run): { args: string[]; notes: string } {
    expect(made.code, made.stderr).to.equal(0);
    const match = /The people you invite join with:\n {2}room (join .*)\n([^]*)$/.exec(made.stderr);
    expect(match, made.stderr).to.not.equal(null);
    return { args: match![1]!.split(' '), notes: match![2]! };
  }

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-sharing-'));
    brokerA = await startAedes();
    brokerB = await startAedes();
  });
  afterEach(() => stopAll(running));
  after(async function () {
    await brokerB?.stop();
    await brokerA?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('join, listen, publish and room info on another broker than the room was made on say so, naming both without credentials', async function () {
    const db = `sqlite:${join(dir, 'shared-1.db')}`;
    const alice = person('alice', { SUNOYE_DB: db, SUNOYE_BROKER: brokerA.url });
    const bob = person('bob', {
      SUNOYE_DB: db,
      SUNOYE_BROKER: `mqtt://bob:Broker-Pw-5521@127.0.0.1:${brokerB.port}`,
    });
    const { room, password } = await createRoomWithPassword(alice);
    const listener = await joinedListener(room, [], alice, running);
    expect(listener.stderr()).to.equal('');

    const warned = (stderr: string, what: string) => {
      expect(stderr, what).to.include(
        `warning: room ${room} was created on the broker ${address(brokerA)} (so says the registry), ` +
          `but this uses ${address(brokerB)}: if they are different brokers, nobody in the room sees your messages`,
      );
      expect(stderr, what).to.not.include('Broker-Pw-5521');
      expect(stderr, what).to.not.include('bob:');
    };

    const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
      env: bob,
      input: `${password}\n`,
    });
    expect(joined.code, joined.stderr).to.equal(0);
    warned(joined.stderr, 'room join');

    // What the issue reproduced: the broker takes the message, so publish succeeds; nobody in
    // the room hears it. Now it says so.
    const lost = await runProgram('publish', [room, '-m', 'lost on the other broker'], {
      env: bob,
    });
    expect(lost.code, lost.stderr).to.equal(0);
    warned(lost.stderr, 'publish');

    const bobListens = startProgram('listen', [room], bob);
    running.push(bobListens);
    await bobListens.line('the join notice', (l) => l.includes('User bob is now subscribed'));
    warned(bobListens.stderr(), 'listen');

    const info = await runProgram('room', ['info', room], { env: bob });
    expect(info.code, info.stderr).to.equal(0);
    warned(info.stderr, 'room info');
    expect(info.stdout).to.match(
      new RegExp(`^created by alice at .* on ${address(brokerA)};`, 'm'),
    );
    const infoJson = await runProgram('room', ['info', room, '--json'], { env: bob });
    expect(JSON.parse(infoJson.stdout)).to.include({ broker: address(brokerA) });
    warned(infoJson.stderr, 'room info --json');

    // On the room's broker (whatever it is called: localhost is 127.0.0.1), not a word.
    const onA = { ...bob, SUNOYE_BROKER: `mqtt://localhost:${brokerA.port}` };
    for (const [program, ...args] of [
      ['room', 'info', room],
      ['room', 'join', room, '--password-file', '-'],
      ['publish', room, '-m', 'found the room'],
    ] as const) {
      const run = await runProgram(program, [...args], { env: onA, input: `${password}\n` });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stderr, `${program} ${args.join(' ')}`).to.not.include('warning');
    }
    await listener.line('the message on the right broker', (l) => l.includes('found the room'));
    const heard = jsonLines(listener.stdoutLines).map((m) => m.message);
    expect(heard).to.not.include('lost on the other broker');
  });

  it('keeps a broker list in the record and in the join line; a list or node of the same cluster is no other broker', async function () {
    const db = `sqlite:${join(dir, 'shared-list.db')}`;
    const list = `${brokerA.url},mqtt://bob:List-Pw-7731@127.0.0.1:${brokerB.port}`;
    const alice = person('alice', { SUNOYE_DB: db, SUNOYE_BROKER: list });
    const made = await runProgram('room', ['create'], { env: alice });
    const { args } = joinLine(made);
    const both = `${address(brokerA)},${address(brokerB)}`;
    expect(args.slice(args.indexOf('--broker'), args.indexOf('--broker') + 2)).to.deep.equal([
      '--broker',
      both,
    ]);
    expect(made.stderr).to.not.include('List-Pw-7731');
    const room = args[1]!;
    for (const broker of [both, `${address(brokerB)},${address(brokerA)}`, brokerB.url]) {
      const info = await runProgram('room', ['info', room, '--json'], {
        env: { ...alice, SUNOYE_BROKER: broker },
      });
      expect(info.code, info.stderr).to.equal(0);
      expect((JSON.parse(info.stdout) as { broker: string }).broker).to.equal(both);
      expect(info.stderr, broker).to.not.include('warning');
    }
  });

  it('takes an altered broker record as advice: named without its credentials or controls, never connected to', async function () {
    const path = join(dir, 'shared-2.db');
    const alice = person('alice', { SUNOYE_DB: `sqlite:${path}`, SUNOYE_BROKER: brokerA.url });
    const { room } = await createRoomWithPassword(alice);
    const listener = await joinedListener(room, [], alice, running);
    const tamper = (broker: string) => alterRoomRecord(path, room, { broker });

    tamper('mqtt://op:Leaked-Pw-77@Evil.Example:1883/\x1b[2J?token=Tok-91');
    const sent = await runProgram('publish', [room, '-m', 'still on my broker'], { env: alice });
    expect(sent.code, sent.stderr).to.equal(0);
    expect(sent.stderr).to.include(
      `was created on the broker mqtt://evil.example:1883 (so says the registry), but this uses ${address(brokerA)}`,
    );
    for (const leak of ['Leaked-Pw-77', 'Tok-91', '\x1b']) expect(sent.stderr).to.not.include(leak);
    await listener.line('the message, sent to the configured broker', (l) =>
      l.includes('still on my broker'),
    );
    const info = await runProgram('room', ['info', room, '--json'], { env: alice });
    expect(JSON.parse(info.stdout)).to.include({ broker: 'mqtt://evil.example:1883' });

    // A record that names no broker is no advice at all.
    tamper('\x1b]0;owned\x07');
    const quiet = await runProgram('room', ['info', room], { env: alice });
    expect(quiet.code, quiet.stderr).to.equal(0);
    expect(quiet.stderr).to.equal('');
    expect(quiet.stdout).to.match(/^created by alice at \d\d:\d\d:\d\d; closes after/m);
  });

  it('room create on MySQL prints the room join line that another person, with nothing configured, runs as it is', async function () {
    await requireMysql(this);
    const db = await scratchDatabase();
    try {
      const alice = person('alice', { SUNOYE_DB: db.url, SUNOYE_BROKER: brokerA.url });
      const made = await runProgram('room', ['create'], { env: alice });
      const room = /^Room number: (\d{6})$/m.exec(made.stdout)![1]!;
      const password = /^Password: +(\S+)$/m.exec(made.stdout)![1]!;
      const { args, notes } = joinLine(made);
      expect(args).to.deep.equal(['join', room, '--broker', brokerA.url, '--db', db.url]);
      expect(notes).to.include(
        `Then \`room chat ${room}\` opens the room window, and \`listen ${room}\` and \`publish ${room}\` read and write it in pipes; --broker and --db are remembered with the room.`,
      );
      expect(notes).to.include(
        'The broker (mqtt://127.0.0.1:' +
          `${brokerA.port}) and the database (127.0.0.1) are on this machine's loopback address`,
      );
      expect(made.stderr).to.not.include('SQLite');
      const listener = await joinedListener(room, [], alice, running);

      // Bob: another account, no SUNOYE_DB, no SUNOYE_BROKER: the line and the password suffice.
      const bob = person('bob');
      // A terminal would ask for the password; here it comes on stdin.
      const joined = await runProgram('room', [...args, '--password-file', '-'], {
        env: bob,
        input: `${password}\n`,
      });
      expect(joined.code, joined.stderr).to.equal(0);
      expect(joined.stderr).to.include(`Joined encrypted room ${room}`);
      expect(joined.stderr).to.not.include('warning');
      // Without the flags: the room is remembered with them.
      const sent = await runProgram('publish', [room, '-m', 'hello from bob'], { env: bob });
      expect(sent.code, sent.stderr).to.equal(0);
      const line = await listener.line('bob', (l) => l.includes('hello from bob'));
      expect(JSON.parse(line)).to.include({ from: 'bob' });

      const json = await runProgram('room', ['create', '--json'], { env: alice });
      const created = JSON.parse(json.stdout) as { room: string; join: string; broker: string };
      expect(created.join).to.equal(
        `room join ${created.room} --broker ${brokerA.url} --db ${db.url}`,
      );
      expect(created.broker).to.equal(address(brokerA));
    } finally {
      await stopAll(running);
      await db.drop();
    }
  });

  it('room create leaves the database password out of the join line; the invited add theirs', async function () {
    await requireMysql(this);
    const db = await scratchDatabase();
    await db.create();
    const user = `share_${db.name.slice(-10)}`;
    const secret = `Db-Pw-${db.name.slice(-8)}`;
    try {
      for (const host of ['%', 'localhost']) {
        await db.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY '${secret}'`);
        await db.query(`GRANT ALL PRIVILEGES ON \`${db.name}\`.* TO '${user}'@'${host}'`);
      }
      const server = new URL(MYSQL_TEST_URL);
      const at = `${server.hostname}:${server.port || 3306}/${db.name}`;
      const alice = person('alice', {
        SUNOYE_DB: `mysql://${user}:${secret}@${at}?timeout=7&debug=${secret}`,
        SUNOYE_BROKER: brokerA.url,
      });
      const made = await runProgram('room', ['create'], { env: alice });
      const { args, notes } = joinLine(made);
      expect(args).to.deep.equal([
        'join',
        args[1],
        '--broker',
        brokerA.url,
        '--db',
        `'mysql://${user}@${at}?timeout=7'`,
      ]);
      expect(made.stdout + made.stderr).to.not.include(secret);
      expect(notes).to.include("The database URL's password is left out: they add their own");

      const password = /^Password: +(\S+)$/m.exec(made.stdout)![1]!;
      const theirs = `mysql://${user}:${secret}@${at}?timeout=7`;
      const joined = await runProgram(
        'room',
        ['join', args[1]!, '--broker', brokerA.url, '--db', theirs, '--password-file', '-'],
        { env: person('bob'), input: `${password}\n` },
      );
      expect(joined.code, joined.stderr).to.equal(0);
    } finally {
      for (const host of ['%', 'localhost'])
        await db.query(`DROP USER IF EXISTS '${user}'@'${host}'`).catch(() => undefined);
      await db.drop();
    }
  });

  it('room create --help explains sharing a registry: a SQLite file on one machine, MySQL across machines', async function () {
    const help = await runProgram('room', ['create', '--help'], { env: person('alice') });
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include(
      'Sharing a room: everyone in it needs the same registry (--db) and broker (--broker).',
    );
    expect(help.stdout).to.include('On one machine, a SQLite file they can all read and write');
    expect(help.stdout).to.include('Across machines, a shared MySQL/MariaDB');
    const other = await runProgram('room', ['join', '--help'], { env: person('alice') });
    expect(other.stdout).to.not.include('Sharing a room');
  });

  it('room create on the default SQLite file says that nobody else can join; with the file given, later commands need no --db', async function () {
    const alice = person('alice', { SUNOYE_BROKER: brokerA.url });
    const made = await runProgram('room', ['create'], { env: alice });
    expect(made.code, made.stderr).to.equal(0);
    const room = /^Room number: (\d{6})$/m.exec(made.stdout)![1]!;
    const path = join(dir, 'alice', 'data', 'sunoye', 'sunoye.db');
    expect(made.stderr).to.include(
      `The room is in your own registry, the SQLite file ${path}, which only you can open: nobody else can join it.`,
    );
    expect(made.stderr).to.include(
      `You join it from elsewhere on this account with:\n  room join ${room} --broker ${brokerA.url}\n`,
    );
    const password = /^Password: +(\S+)$/m.exec(made.stdout)![1]!;
    // Someone else with the line alone finds no such room: their default registry is their own.
    const carol = person('carol');
    const stdin = ['--password-file', '-'];
    const line = ['join', room, '--broker', brokerA.url];
    const alone = await runProgram('room', [...line, ...stdin], {
      env: carol,
      input: `${password}\n`,
    });
    expect(alone.code).to.equal(3);
    expect(alone.stderr).to.include(`there is no room ${room} in your own registry`);
    // With the file (which this test's account, root, can read all the same).
    const withFile = await runProgram('room', [...line, ...stdin, '--db', `sqlite:${path}`], {
      env: carol,
      input: `${password}\n`,
    });
    expect(withFile.code, withFile.stderr).to.equal(0);
    expect(withFile.stderr).to.include(
      `\`room chat ${room}\` opens the room window, and \`listen ${room}\` and \`publish ${room}\` ` +
        'read and write it in pipes; --broker and --db are remembered with the room.',
    );
    for (const [program, rest] of [
      ['publish', ['-m', 'hi']],
      ['room', ['info']],
    ] as const) {
      const args = program === 'room' ? [...rest, room] : [room, ...rest];
      const later = await runProgram(program, args, { env: carol });
      expect(later.code, `${program} ${later.stderr}`).to.equal(0);
      expect(later.stderr).to.not.include('warning');
    }
    // Given another registry, that one is used: the room is not there, and the remembered one is named.
    const own = join(dir, 'carol', 'data', 'sunoye', 'sunoye.db');
    await runProgram('room', ['create'], { env: carol });
    const other = await runProgram('room', ['info', room, '--db', `sqlite:${own}`], { env: carol });
    expect(other.code).to.equal(3);
    expect(other.stderr).to.include(
      `there is no room ${room} in sqlite:${own}; you joined or created it in the registry sqlite:${path}`,
    );
    const left = await runProgram('room', ['leave', room], { env: carol });
    expect(left.code, left.stderr).to.equal(0);
  });
});
