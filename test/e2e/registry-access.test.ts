// Registries a person may or may not use (issue 21, the newcomer check of the registry): a SQLite
// registry made for sharing on one machine is readable and writable by the group of its folder,
// and `room create` says who it serves; a file or database this person may not use, or one that
// is no registry, is refused saying what to check (exit 3); a path given without `sqlite:`, an
// unknown host and a refused connection say so.
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { runProgram } from '../helpers/cli.js';
import { MYSQL_TEST_URL, requireMysql } from '../helpers/mysql.js';

/** The group that shares the registry, and one that does not; numbers no account needs to have. */
const GROUP = 61000;
const OTHER_GROUP = 61009;

/**
 * The folder above `path` that other users cannot enter (a `mktemp -d` scratch folder is private),
 * or undefined when they can reach it: Node and the programs run as other users here.
 */
function privateFolderAbove(path: string): string | undefined {
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    if ((statSync(folder).mode & 0o001) === 0) return folder;
    if (dirname(folder) === folder) return undefined;
  }
}

describe('registries a person may or may not use', function () {
  this.timeout(60_000);
  let dir: string;

  /** A person running as `uid` in the group `gid`, with a home folder of their own. */
  const person = (uid: number, gid: number) => {
    const home = join(dir, `home-${uid}`);
    mkdirSync(home, { recursive: true });
    chownSync(home, uid, gid);
    return { env: { HOME: home, SUNOYE_NAME: `u${uid}` }, uid, gid };
  };

  /**
   * Skips a test that runs programs as other users, loudly, where this is not root or where they
   * could not reach Node or the programs (a checkout in a private folder).
   */
  function requireRoot(ctx: Mocha.Context): void {
    if (process.getuid?.() === 0) {
      // Node, the programs, and the test's folder (in the run's temporary folder).
      const folder = [
        process.execPath,
        fileURLToPath(new URL('../../bin/room.js', import.meta.url)),
        join(dir, 'home'),
      ]
        .map(privateFolderAbove)
        .find((f) => f !== undefined);
      if (folder === undefined) return;
      const why = `other users cannot enter ${folder}, above Node, the programs or the test's folder (chmod o+x ${folder} to run these tests)`;
      // CI runs the suite from a folder it opens to others (.ci/run): there, a failure.
      if (process.env.CI) throw new Error(why);
      process.stderr.write(`\n  !!! SKIPPING: running programs as other users: ${why}\n\n`);
      return ctx.skip();
    }
    process.stderr.write(
      '\n  !!! SKIPPING: running programs as other users (to test file permissions) needs root\n\n',
    );
    ctx.skip();
  }

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-access-'));
    // Other users must reach their home folders and the registries in here.
    chmodSync(dir, 0o755);
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('room create in a group-writable folder makes a registry its group can use, and says so; others are refused clearly', async function () {
    requireRoot(this);
    const srv = join(dir, 'srv');
    mkdirSync(srv);
    chownSync(srv, 0, GROUP);
    chmodSync(srv, 0o2770);
    const file = join(srv, 'rooms.db');
    const alice = person(61001, GROUP);
    const made = await runProgram('room', ['create', '--db', `sqlite:${file}`], alice);
    expect(made.code, made.stderr).to.equal(0);
    expect(statSync(file).mode & 0o777).to.equal(0o660);
    expect(statSync(file).gid).to.equal(GROUP);
    expect(made.stderr).to.include(
      `The registry is the SQLite file ${file}, readable and writable by its group`,
    );
    expect(made.stderr).to.include('it serves the people on this machine in that group');
    // SQLite gives its WAL and shared-memory files the mode of the database file.
    const open = new Database(file);
    try {
      open.prepare('SELECT COUNT(*) FROM sqlite_master').get();
      for (const suffix of ['-wal', '-shm'])
        expect(statSync(`${file}${suffix}`).mode & 0o777, suffix).to.equal(0o660);
    } finally {
      open.close();
    }

    // Another member of the group joins with the line and password room create printed.
    const room = /Room number: (\d{6})/.exec(made.stdout)![1]!;
    const password = /Password: +(\S+)/.exec(made.stdout)![1]!;
    const bob = person(61002, GROUP);
    const joined = await runProgram(
      'room',
      ['join', room, '--db', `sqlite:${file}`, '--password-file', '-'],
      { ...bob, input: `${password}\n` },
    );
    expect(joined.code, joined.stderr).to.equal(0);

    // Someone outside the group, who cannot enter the folder, is told so rather than "no such file".
    const carol = person(61003, OTHER_GROUP);
    const refused = await runProgram('room', ['info', room, '--db', `sqlite:${file}`], carol);
    expect(refused.code, refused.stderr).to.equal(3);
    expect(refused.stderr).to.include(
      `you may not read and write the registry ${file} (permission denied): ask its owner for access`,
    );
    // A member, once the folder is no longer group-writable, is told of the folder.
    chmodSync(srv, 0o2750);
    const folder = await runProgram('room', ['info', room, '--db', `sqlite:${file}`], bob);
    chmodSync(srv, 0o2770);
    expect(folder.code, folder.stderr).to.equal(3);
    expect(folder.stderr).to.include(`you may not write the folder ${srv} of the registry ${file}`);
  });

  it('room create elsewhere makes a registry for its owner alone, and says how to share it', async function () {
    requireRoot(this);
    const alice = person(61004, GROUP);
    const own = join(dir, 'alice-rooms');
    mkdirSync(own);
    chownSync(own, alice.uid, GROUP);
    chmodSync(own, 0o755);
    const file = join(own, 'rooms.db');
    const made = await runProgram('room', ['create', '--db', `sqlite:${file}`], alice);
    expect(made.code, made.stderr).to.equal(0);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(made.stderr).to.include(
      `The registry is the SQLite file ${file}, which only you can read and write (mode 600): nobody else can join yet.`,
    );
    expect(made.stderr).to.include(`chgrp GROUP ${file} && chmod 660 ${file}`);
    expect(made.stderr).to.include(`install -d -m 2770 -g GROUP ${own}`);
    expect(made.stderr).to.not.include('it serves the people on this machine');

    const room = /Room number: (\d{6})/.exec(made.stdout)![1]!;
    const bob = person(61005, GROUP);
    const refused = await runProgram('room', ['info', room, '--db', `sqlite:${file}`], bob);
    expect(refused.code, refused.stderr).to.equal(3);
    expect(refused.stderr).to.include(`you may not read and write the registry ${file}`);
    expect(refused.stderr).to.include(`ls -l ${file}`);
  });

  it('a file that is no SQLite database is refused as no registry (exit 3), and left as it was', async function () {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'these are my notes, not a registry\n'.repeat(100));
    for (const args of [['info', '111111'], ['create']]) {
      const run = await runProgram('room', [...args, '--db', `sqlite:${text}`], {
        env: { HOME: join(dir, 'home-text') },
      });
      expect(run.code, run.stderr).to.equal(3);
      expect(run.stderr).to.include(`${text} is not a sunoye registry (not a SQLite database)`);
    }
    expect(statSync(text).size).to.equal(3500);
  });

  it('a path given as the database URL is answered with the sqlite: URL it meant', async function () {
    const env = { HOME: join(dir, 'home-path') };
    const path = join(dir, 'x.db');
    const run = await runProgram('room', ['info', '111111', '--db', path], { env });
    expect(run.code).to.equal(2);
    expect(run.stderr).to.include(
      `unsupported database URL "${path}"; did you mean sqlite:${path}?`,
    );
    const other = await runProgram('room', ['info', '111111', '--db', 'postgres://h/db'], { env });
    expect(other.code).to.equal(2);
    expect(other.stderr).to.not.include('did you mean');
  });

  it('a MySQL server that is not there, or a host that is not, is named as the broker ones are', async function () {
    const env = { HOME: join(dir, 'home-mysql') };
    // A port nothing listens on: one just given up by a server.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, 'close');
    const refused = await runProgram(
      'room',
      ['info', '111111', '--db', `mysql://someone@127.0.0.1:${port}/sunoye`],
      { env },
    );
    expect(refused.code, refused.stderr).to.equal(4);
    expect(refused.stderr).to.include(
      `connection refused at 127.0.0.1:${port}; is MySQL/MariaDB running there?`,
    );
    const unknown = await runProgram(
      'room',
      ['info', '111111', '--db', 'mysql://someone@no-such-host.invalid/sunoye'],
      { env },
    );
    expect(unknown.code, unknown.stderr).to.equal(4);
    expect(unknown.stderr).to.include('unknown host no-such-host.invalid');
    expect(unknown.stderr).to.not.include('ENOTFOUND');
  });

  it('a database a MySQL user may not use (a misspelt name) is refused saying so (exit 3); room create says it may not make it', async function () {
    await requireMysql(this);
    const admin = await mysql.createConnection({ uri: MYSQL_TEST_URL, connectTimeout: 3000 });
    const tag = `${process.pid}_${Date.now() % 100000}`;
    const user = `sunoye_user_${tag}`;
    const own = `sunoye_own_${tag}`;
    const typo = `sunoye_typo_${tag}`;
    const password = 'Pw-for-the-test-77';
    const server = new URL(MYSQL_TEST_URL);
    const url = (db: string) =>
      `mysql://${user}:${password}@${server.hostname}:${server.port || 3306}/${db}`;
    try {
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password]);
      await admin.query(`CREATE DATABASE ${mysql.escapeId(own)}`);
      await admin.query(`GRANT ALL ON ${mysql.escapeId(own)}.* TO ?@?`, [user, '%']);
      const env = { HOME: join(dir, 'home-mysql-user') };
      for (const [args, words] of [
        [['info', '111111'], `this database user may not use the database ${typo} at `],
        [['create'], `this database user may not create or use the database ${typo} at `],
      ] as const) {
        const run = await runProgram('room', [...args, '--db', url(typo)], { env });
        expect(run.code, run.stderr).to.equal(3);
        expect(run.stderr).to.include(words);
        expect(run.stderr).to.include('check the database name in --db');
        expect(run.stderr).to.not.include(user);
        expect(run.stderr).to.not.include(password);
      }
      const [rows] = await admin.query('SHOW DATABASES LIKE ?', [typo]);
      expect(rows).to.deep.equal([]);
      // Their own database is theirs to use.
      const made = await runProgram('room', ['create', '--db', url(own)], { env });
      expect(made.code, made.stderr).to.equal(0);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(own)}`);
      await admin.query('DROP USER IF EXISTS ?@?', [user, '%']);
      await admin.end();
    }
  });
});
