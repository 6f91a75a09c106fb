// The `room` program end to end, as a user runs it: on the embedded SQLite default and on MySQL.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { requireMysql, scratchDatabase, type ScratchDatabase } from '../helpers/mysql.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram, type Run } from '../helpers/cli.js';

interface Backend {
  name: string;
  /** Extra environment selecting the backend (none: the embedded default). */
  setup(
    ctx: Mocha.Context,
    dir: string,
  ): Promise<{
    env: Record<string, string>;
    dump(): Promise<Buffer>;
    /** Changes the registry behind sunoye's back, as someone with write access to it could. */
    tamper(sql: string, params: unknown[]): Promise<void>;
    cleanup(): Promise<void>;
  }>;
}

const backends: Backend[] = [
  {
    name: 'embedded SQLite (no configuration)',
    setup: (_ctx, dir) =>
      Promise.resolve({
        env: {},
        dump: () => {
          const data = join(dir, 'xdg-data', 'sunoye');
          return Promise.resolve(
            Buffer.concat(readdirSync(data).map((f) => readFileSync(join(data, f)))),
          );
        },
        tamper: (sql, params) => {
          const db = new Database(join(dir, 'xdg-data', 'sunoye', 'sunoye.db'));
          try {
            db.prepare(sql).run(...params);
          } finally {
            db.close();
          }
          return Promise.resolve();
        },
        cleanup: () => Promise.resolve(),
      }),
  },
  {
    name: 'MySQL',
    setup: async (ctx) => {
      await requireMysql(ctx);
      const db: ScratchDatabase = await scratchDatabase();
      return {
        env: { SUNOYE_DB: db.url },
        dump: async () => {
          const rows = [
            ...(await db.query('SELECT * FROM rooms')),
            ...(await db.query('SELECT * FROM members')),
          ];
          return Buffer.from(JSON.stringify(rows));
        },
        tamper: async (sql, params) => {
          await db.query(sql, params);
        },
        cleanup: () => db.drop(),
      };
    },
  },
];

function json<T = Record<string, unknown>>(run: Run): T {
  expect(run.code, run.stderr).to.equal(0);
  return JSON.parse(run.stdout) as T;
}

for (const backend of backends) {
  describe(`room on ${backend.name}`, function () {
    this.timeout(60_000);
    let dir: string;
    let env: Record<string, string>;
    let fixture: Awaited<ReturnType<Backend['setup']>>;
    const room = (args: string[], extra: Record<string, string> = {}, input?: string) =>
      runProgram('room', args, { env: { ...env, ...extra }, input });

    let broker: TestBroker | undefined;

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-e2e-'));
      fixture = await backend.setup(this, dir);
      broker = await startAedes(); // `room close` tells listeners over it
      // A user with nothing configured: only HOME and the XDG folders of a fresh account.
      env = {
        HOME: dir,
        XDG_CONFIG_HOME: join(dir, 'xdg-config'),
        XDG_DATA_HOME: join(dir, 'xdg-data'),
        SUNOYE_BROKER: broker.url,
        ...fixture.env,
      };
    });

    after(async function () {
      await broker?.stop();
      await fixture?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('creates, joins, shows, lists, closes and forgets a room', async function () {
      // A home of its own, so that what it lists is exactly what this test made, whatever ran
      // before it in this suite.
      const own = mkdtempSync(join(dir, 'own-'));
      const alice = {
        HOME: own,
        XDG_CONFIG_HOME: join(own, 'xdg-config'),
        XDG_DATA_HOME: join(own, 'xdg-data'),
      };
      const room = (args: string[], extra: Record<string, string> = {}, input?: string) =>
        runProgram('room', args, { env: { ...env, ...alice, ...extra }, input });
      const created = json<{ room: string; password: string; mode: string }>(
        await room(['create', '--json']),
      );
      expect(created.room).to.match(/^[1-9]\d{5}$/);
      expect(created.password).to.match(/^[2-9a-z]{4}(-[2-9a-z]{4}){3}$/);
      expect(created.mode).to.equal('encrypted');
      const mine = json<{ room: string; state: string }[]>(await room(['list', '--json']));
      expect(mine.map((r) => [r.room, r.state])).to.deep.equal([[created.room, 'open']]);

      // The creator's machine remembers the room in a file only the user can read.
      const roomsDir = join(own, 'xdg-config', 'sunoye', 'rooms');
      const [file] = readdirSync(roomsDir);
      expect(statSync(join(roomsDir, file!)).mode & 0o777).to.equal(0o600);
      expect(readFileSync(join(roomsDir, file!), 'utf8')).to.not.include(created.password);

      // Another user (another home) joins: wrong password is exit 3, right one exit 0.
      const bob = { SUNOYE_HOME: join(own, 'bob') };
      const wrong = await room(['join', created.room], {
        ...bob,
        SUNOYE_PASSWORD: 'not-the-password',
      });
      expect(wrong.code).to.equal(3);
      expect(wrong.stderr.trim().split('\n')).to.deep.equal([
        `room: wrong password for room ${created.room}: from SUNOYE_PASSWORD; check it with whoever shared the room (passwords are case-sensitive, except generated ones, which may be typed in capitals)`,
      ]);
      const fromFile = join(own, 'wrong-pw');
      writeFileSync(fromFile, 'also wrong \n');
      const fromFileRun = await room(['join', created.room, '--password-file', fromFile], bob);
      expect(fromFileRun.code).to.equal(3);
      // It says where the password came from and what commonly goes wrong there.
      expect(fromFileRun.stderr).to.equal(
        `room: wrong password for room ${created.room}: from the first line of ${fromFile}, which begins or ends with a space; check it with whoever shared the room (passwords are case-sensitive, except generated ones, which may be typed in capitals)\n`,
      );
      const missing = await room(['join', created.room, '--password-file', join(own, 'nope')], bob);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.equal(
        `room: cannot read the password file ${join(own, 'nope')}: no such file\n`,
      );
      expect(
        (await room(['join', created.room, '--password-file', '-'], bob, 'still wrong\n')).code,
      ).to.equal(3);
      const right = await room(
        ['join', created.room, '--password-file', '-'],
        bob,
        `${created.password}\n`,
      );
      expect(right.code, right.stderr).to.equal(0);
      expect(right.stderr).to.include(`Joined encrypted room ${created.room}`);
      expect(right.stderr).to.include(`\`room chat ${created.room}\` opens the room window`);
      expect(
        statSync(join(own, 'bob', 'rooms', readdirSync(join(own, 'bob', 'rooms'))[0]!)).mode &
          0o777,
      ).to.equal(0o600);

      const info = json(await room(['info', created.room, '--json']));
      expect(info).to.include({ room: created.room, state: 'open', members: 0, mode: 'encrypted' });
      expect(info.names).to.deep.equal([]);
      const human = await room(['info', created.room]);
      expect(human.stdout).to.match(new RegExp(`^room ${created.room}: open, encrypted\n`));

      const listed = json<{ room: string; state: string }[]>(await room(['list', '--json'], bob));
      expect(listed.map((r) => [r.room, r.state])).to.deep.equal([[created.room, 'open']]);

      // Bob closes it with his remembered key: no password needed.
      const closed = json(await room(['close', created.room, '--json'], bob));
      expect(closed).to.include({ room: created.room, state: 'closed', wasOpen: true });
      expect(json(await room(['info', created.room, '--json']))).to.include({
        state: 'closed',
        members: 0,
      });
      const late = await room(['join', created.room], { SUNOYE_PASSWORD: created.password });
      expect(late.code).to.equal(3);
      expect(late.stderr).to.equal(
        `room: room ${created.room} is closed; create a new one with \`room create\`\n`,
      );
      // A closed room leaves the list, unless --all.
      expect(json<unknown[]>(await room(['list', '--json']))).to.deep.equal([]);
      expect(json<{ state: string }[]>(await room(['list', '--json', '--all']))[0]?.state).to.equal(
        'closed',
      );

      expect((await room(['leave', created.room], bob)).code).to.equal(0);
      expect(json<unknown[]>(await room(['list', '--json', '--all'], bob))).to.deep.equal([]);
      const again = await room(['leave', created.room], bob);
      expect(again.code).to.equal(3);
      expect(again.stderr).to.match(/is not remembered here/);
    });

    it('stores neither the password nor a key in the database', async function () {
      const password = 'Zebra-Quill-Harbor-9182';
      const created = json<{ room: string }>(
        await room(['create', '--json', '--idle', '120'], { SUNOYE_PASSWORD: password }),
      );
      expect(created).to.not.have.property('password');
      const remembered = readdirSync(join(dir, 'xdg-config', 'sunoye', 'rooms')).find((f) =>
        f.startsWith(created.room),
      )!;
      const secret = (
        JSON.parse(
          readFileSync(join(dir, 'xdg-config', 'sunoye', 'rooms', remembered), 'utf8'),
        ) as { secret: string }
      ).secret;
      const dump = await fixture.dump();
      expect(dump.includes(Buffer.from(password))).to.equal(false);
      expect(dump.includes(Buffer.from(secret, 'base64'))).to.equal(false);
      expect(dump.includes(Buffer.from(secret))).to.equal(false);
      expect(json(await room(['info', created.room, '--json']))).to.include({ idleSeconds: 120 });
    });

    it('gives 20 room create processes started at once 20 distinct numbers, all remembered', async function () {
      const home = { SUNOYE_HOME: join(dir, 'many') };
      const runs = await Promise.all(
        Array.from({ length: 20 }, () => room(['create', '--json'], home)),
      );
      const numbers = runs.map((r) => json<{ room: string }>(r).room);
      expect(new Set(numbers).size).to.equal(20);
      const listed = json<{ room: string; state: string }[]>(await room(['list', '--json'], home));
      expect(listed.map((r) => r.room).sort()).to.deep.equal([...numbers].sort());
      expect(listed.every((r) => r.state === 'open')).to.equal(true);
    });

    it('refuses, before any work, a room record whose key derivation would cost too much', async function () {
      const created = json<{ room: string; password: string }>(
        await room(['create', '--json'], { SUNOYE_HOME: join(dir, 'kdf') }),
      );
      // 4 GiB and minutes of scrypt if a client obeyed it.
      const salt = Buffer.alloc(16, 7).toString('base64');
      await fixture.tamper('UPDATE rooms SET kdf = ? WHERE number = ?', [
        JSON.stringify({ alg: 'scrypt', N: 2 ** 20, r: 32, p: 4, salt }),
        created.room,
      ]);
      const started = Date.now();
      const refused = await runProgram('room', ['join', created.room], {
        env: { ...env, SUNOYE_HOME: join(dir, 'kdf-bob'), SUNOYE_PASSWORD: created.password },
        timeoutMs: 10_000,
      });
      expect(refused.code, refused.stderr).to.equal(3);
      expect(refused.stderr).to.match(
        /^room: the registry record of room \d{6} was altered: it has invalid key-derivation parameters: too costly \(scrypt N=1048576, r=32, p=4 needs 4096 MiB/,
      );
      expect(refused.stderr.split('\n')).to.have.length(2);
      expect(Date.now() - started).to.be.below(5_000);
    });

    it('shows names from the registry and labels with their control characters made visible', async function () {
      const home = { SUNOYE_HOME: join(dir, 'hostile') };
      const created = json<{ room: string }>(await room(['create', '--json'], home));
      // Someone with write access to the registry: a creator and members that would clear the
      // screen, set the window title, reverse the text or forge a line of output.
      await fixture.tamper('UPDATE rooms SET creator = ? WHERE number = ?', [
        'mallory\x1b[2J\x1b]0;pwned\x07',
        created.room,
      ]);
      const names = ['eve\u202Eevil', 'trudy\nmembers: 99', 'tab\there\x9b31m'];
      for (const [i, name] of names.entries()) {
        await fixture.tamper(
          'INSERT INTO members (id, room, name, joined_at, heartbeat_at, lease_ms) VALUES (?, ?, ?, ?, ?, ?)',
          [
            `${'f'.repeat(31)}${i}`,
            created.room,
            name,
            Date.now(),
            Date.now() + 3_600_000,
            3_600_000,
          ],
        );
      }
      const info = await room(['info', created.room]);
      expect(info.code, info.stderr).to.equal(0);
      expect(info.stdout.split('\n')[1]).to.match(
        /^created by mallory\\x1B\[2J\\x1B\]0;pwned\\x07 at /,
      );
      expect(info.stdout.split('\n')[2]).to.match(/^history: /);
      expect(info.stdout.split('\n')[3]).to.equal('members: 3');
      // One a line, after its join time; rows nobody signed are unverified.
      const members = info.stdout
        .split('\n')
        .slice(4, 7)
        .map((l) => l.replace(/^ {2}joined [\d:-]+( [\d:]+)? {2}/, ''));
      expect(members.sort()).to.deep.equal([
        '"trudy\\x0Amembers: 99" [unverified]',
        'eve\\u202Eevil [unverified]',
        'tab\\x09here\\x9B31m [unverified]',
      ]);
      expect(info.stdout.split('\n')).to.have.length(8);
      // In JSON the names read as they show (`jq -r` prints them safely), each on one line.
      const asJson = json<{ creator: string; names: string[] }>(
        await room(['info', created.room, '--json']),
      );
      expect(asJson.creator).to.equal('mallory\\x1B[2J\\x1B]0;pwned\\x07');
      expect([...asJson.names].sort()).to.deep.equal(
        ['eve\\u202Eevil', 'trudy\\x0Amembers: 99', 'tab\\x09here\\x9B31m'].sort(),
      );

      // A registry whose file name would drive the terminal: in `room list`, and in an error.
      const hostileDb = `sqlite:${join(dir, 'evil\x1b[31m\u202Edb.sqlite')}`;
      const elsewhere = json<{ room: string }>(
        await room(['create', '--json'], { ...home, SUNOYE_DB: hostileDb }),
      );
      const list = await room(['list'], home);
      expect(list.code, list.stderr).to.equal(0);
      const row = list.stdout.split('\n').find((l) => l.startsWith(elsewhere.room));
      expect(row).to.match(/evil\\x1B\[31m\\u202Edb\.sqlite$/);
      expect(list.stdout).to.include(created.room);
      const missing = await room(['info', '999999'], { SUNOYE_DB: hostileDb });
      expect(missing.code).to.equal(3);
      expect(missing.stderr).to.include('evil\\x1B[31m\\u202Edb.sqlite; check the number');
      for (const run of [info, list, missing])
        for (const c of ['\x1b', '\x07', '\x9b', '\u202e'])
          expect(run.stdout + run.stderr).to.not.include(c);
    });

    it('closes with the password, and refuses a wrong one', async function () {
      const created = json<{ room: string; password: string }>(
        await room(['create', '--json'], { SUNOYE_HOME: join(dir, 'c1') }),
      );
      const other = { SUNOYE_HOME: join(dir, 'c2') };
      expect(
        (await room(['close', created.room], { ...other, SUNOYE_PASSWORD: 'wrong-wrong-wrong' }))
          .code,
      ).to.equal(3);
      const noPassword = await room(['close', created.room], other);
      expect(noPassword.code).to.equal(2);
      expect(noPassword.stderr).to.match(/needs its password/);
      const ok = await room(['close', created.room], {
        ...other,
        SUNOYE_PASSWORD: created.password,
      });
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stderr).to.equal(`Closed room ${created.room}.\n`);
      const twice = await room(['close', created.room], {
        ...other,
        SUNOYE_PASSWORD: created.password,
      });
      expect(twice.code).to.equal(0);
      expect(twice.stderr).to.equal(`Room ${created.room} was already closed.\n`);
    });

    it('creates plain rooms and refuses weak passwords with advice', async function () {
      const plain = json(await room(['create', '--plain', '--json']));
      expect(plain).to.include({ mode: 'plain' });
      expect(json(await room(['info', String(plain.room), '--json']))).to.include({
        mode: 'plain',
      });
      // Refused by zxcvbn-ts's estimate (10^10 guesses needed), each with its reasons, before any
      // key is derived or the registry opened.
      const weak: [string, RegExp][] = [
        ['P@ssw0rd!!', /similar to a commonly used password.*letter substitutions/],
        ['Summer2024!', /add more words that are less common/],
        ['1q2w3e4r5t', /this is a commonly used password/],
        ['1234567890ab', /similar to a commonly used password/],
      ];
      for (const [password, reason] of weak) {
        const refused = await room(['create'], {
          SUNOYE_PASSWORD: password,
          SUNOYE_DB: 'mysql://127.0.0.1:1/never_opened',
        });
        expect(refused.code, refused.stderr).to.equal(2);
        expect(refused.stderr.split('\n'), password).to.have.length(2);
        expect(refused.stderr).to.match(
          /^room: that password is too weak: about 10\^\d guesses would find it, and a room password needs 10\^10 \(.+\); leave out --password to get a generated one, or use a passphrase of four or more words\n$/,
        );
        expect(refused.stderr, password).to.match(reason);
        expect(refused.stderr).to.not.include(password);
      }
      const flag = await room(['create', '--password', 'Zebra-Quill-Harbor-9183', '--json']);
      expect(flag.code).to.equal(0);
      expect(flag.stderr).to.match(/process list/);
    });

    it('answers unknown rooms and bad input with one clear line and the documented code', async function () {
      const cases: [string[], number, RegExp][] = [
        [
          ['info', '999999'],
          3,
          // The default SQLite file is the user's own: a room someone else made is elsewhere.
          /^room: there is no room 999999 in (your own registry \(.*\); check the number; a room someone else created is in their registry: .*"Sharing a room".*|mysql:.*; check the number, or create one with `room create`)\n$/,
        ],
        [
          ['info', '12345'],
          2,
          /^room: "12345" is not a room number: it has 5 digits, and a room number has six, like 482913\n$/,
        ],
        [
          ['info', '012345'],
          2,
          /^room: "012345" is not a room number: room numbers never start with 0 \(they run from 100000 to 999999\)\n$/,
        ],
        [
          ['info', 'room-1'],
          2,
          /^room: "room-1" is not a room number: a room number is six digits, like 482913\n$/,
        ],
        [['join', 'abcdef'], 2, /not a room number/],
        [['create', '--idle', '0'], 2, /--idle must be a whole number of seconds from 1 to/],
        [['create', '--idle', 'soon'], 2, /--idle must be a whole number/],
        [['create', '--bogus'], 2, /^room: unknown option --bogus; see room create --help\n$/],
        [['create', '--idel', '5'], 2, /unknown option --idel; did you mean --idle\?/],
        [['explode'], 2, /unknown command "explode"; commands: create, join, chat, info/],
        [['crate'], 2, /unknown command "crate"; did you mean create\?/],
        [['join'], 2, /missing <room> \(the six-digit room number\); see room join --help/],
        [['info', '482913', 'extra'], 2, /unexpected argument "extra"/],
        [['list', '--json=maybe'], 2, /--json is a switch/],
        [['join', '482913', '--password-file'], 2, /--password-file needs a value/],
      ];
      for (const [args, code, message] of cases) {
        const run = await room(args);
        expect(run.code, `room ${args.join(' ')}: ${run.stderr}`).to.equal(code);
        expect(run.stderr, `room ${args.join(' ')}`).to.match(message);
        expect(run.stderr).to.not.match(/^\s+at /m);
      }
    });

    it('prints help with examples', async function () {
      const help = await room(['--help']);
      expect(help.code).to.equal(0);
      for (const word of [
        'create',
        'join',
        'info',
        'list',
        'leave',
        'close',
        'Examples:',
        'Exit codes',
      ])
        expect(help.stdout).to.include(word);
      const sub = await room(['create', '--help']);
      expect(sub.stdout).to.include('--idle SECONDS');
      expect(sub.stdout).to.include('--plain');
      expect(sub.stdout).to.not.include('--port');
    });

    it('prints a bash completion script naming the program', async function () {
      const script = await room(['completion']);
      expect(script.code).to.equal(0);
      expect(script.stdout).to.include('room --get-yargs-completions');
      expect(script.stdout).to.match(/^complete .* room$/m);
      const words = await room(['--get-yargs-completions', 'room', 'create', '--id']);
      expect(words.code).to.equal(0);
      expect(words.stdout.split('\n')).to.include('--idle');
    });
  });
}

describe('room with an unreachable database', function () {
  it('exits 4 with one line that shows neither user name nor password', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sunoye-e2e-'));
    try {
      const env = { HOME: dir, SUNOYE_DB: 'mysql://chatuser:TopSecret99@127.0.0.1:1/sunoye' };
      for (const args of [['create'], ['info', '482913'], ['join', '482913']]) {
        const run = await runProgram('room', args, {
          env: { ...env, SUNOYE_PASSWORD: 'Whatever-It-Is-Quokka-77' },
        });
        expect(run.code, run.stderr).to.equal(4);
        expect(run.stderr).to.match(
          /^room: cannot reach the database mysql:\/\/\*\*\*@127\.0\.0\.1:1\/sunoye: .*\n$/,
        );
        expect(run.stderr + run.stdout).to.not.include('TopSecret99');
        expect(run.stderr + run.stdout).to.not.include('chatuser');
      }
      const badFile = await runProgram('room', ['info', '482913'], {
        env: { HOME: dir, SUNOYE_DB: `sqlite:${dir}` },
      });
      expect(badFile.code).to.equal(4);
      expect(badFile.stderr).to.match(/^room: cannot (open|use) the database sqlite:/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
