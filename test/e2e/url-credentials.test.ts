// Database and broker URLs, well-formed or not, reachable or not: no message shows any part of
// their credentials, neither the user name nor the password.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { freePort } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { MYSQL_TEST_URL, requireMysql } from '../helpers/mysql.js';

const USER = 'qzxbob7';
const PASSWORD = 'Kv9wXq3ZpLm2';

describe('URL credentials in messages', function () {
  this.timeout(60_000);
  let dir: string;
  let closedPort: number;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-creds-'));
    closedPort = await freePort(); // nothing listens there
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Fails when the output shows the user name, the password or a 5-character piece of either. */
  function expectNoCredentials(output: string, what: string): void {
    for (const secret of [USER, PASSWORD])
      for (let i = 0; i + 5 <= secret.length; i++)
        expect(output, `${what}: ${output}`).to.not.include(secret.slice(i, i + 5));
  }

  it('shows none of a database URL user name or password, however malformed', async function () {
    const creds = `${USER}:${PASSWORD}`;
    const cases: [string, number][] = [
      [`mysql://${creds}@host:notaport/x`, 2],
      [`mysql://${creds}@[::1/x`, 2],
      [`mysql://${creds}@/x`, 2],
      [`mysql//${creds}@host/x`, 2],
      [`mysql:${creds}@host/x`, 2],
      [`${creds}@127.0.0.1:3306/x`, 2],
      [`postgres://${USER}:${PASSWORD.slice(0, 6)}/${PASSWORD.slice(6)}@host/x`, 2],
      [`mysql://${USER}:${PASSWORD.slice(0, 6)}%zz${PASSWORD.slice(6)}@127.0.0.1/x`, 2],
      [`mysql://${creds}@127.0.0.1/%zz`, 2],
      [`mysql://127.0.0.1/${creds}@x`, 2],
      [`mysql://${creds}@127.0.0.1/x?timeout=0`, 2],
      [`mysql://${creds}@127.0.0.1:${closedPort}/x?timeout=2`, 4],
      [`mysql://${USER}@127.0.0.1:${closedPort}/x?timeout=2`, 4],
    ];
    for (const [url, code] of cases) {
      for (const args of [['info', '482913'], ['list']]) {
        const run = await runProgram('room', args, {
          env: { HOME: dir, SUNOYE_HOME: join(dir, 'home'), SUNOYE_DB: url },
        });
        if (args[0] === 'list') {
          // Nothing remembered: no database is opened, but the URL is still parsed.
          expect(run.code, `${url}: ${run.stderr}`).to.be.oneOf([0, 2]);
        } else {
          expect(run.code, `${url}: ${run.stderr}`).to.equal(code);
          expect(run.stderr.split('\n'), url).to.have.length(2);
          expect(run.stderr, url).to.not.match(/unexpected error/);
        }
        expectNoCredentials(run.stdout + run.stderr, url);
      }
    }
  });

  it('shows none of a database URL user name or password when the server denies them access', async function () {
    // A server that answers, and refuses this user (unknown to it): never a refused connection.
    await requireMysql(this);
    const url = `mysql://${USER}:${PASSWORD}@${new URL(MYSQL_TEST_URL).host}/x?timeout=5`;
    for (const args of [['info', '482913'], ['list']]) {
      const run = await runProgram('room', args, {
        env: { HOME: dir, SUNOYE_HOME: join(dir, 'home'), SUNOYE_DB: url },
      });
      if (args[0] === 'info') {
        expect(run.code, run.stderr).to.equal(4);
        expect(run.stderr).to.match(
          /^room: cannot use the database mysql:\/\/\*\*\*@[^ ]+\/x: Access denied for user \*\*\*@'[^']+'.* \(check the user name and password in the database URL\)\n$/,
        );
      }
      expectNoCredentials(run.stdout + run.stderr, url);
    }
  });

  it('refuses credentials the server refuses (1045, 1698) with exit 4, naming neither user nor password', async function () {
    await requireMysql(this);
    const admin = await mysql.createConnection({ uri: MYSQL_TEST_URL, connectTimeout: 3000 });
    // Users of this test only: a password user, and one the server knows by its Unix socket
    // peer only (MariaDB's unix_socket), which a TCP client cannot be: error 1698.
    const byPassword = `qzx${randomBytes(4).toString('hex')}`;
    const bySocket = `qzx${randomBytes(4).toString('hex')}`;
    const hosts = ['127.0.0.1', 'localhost'];
    try {
      for (const host of hosts) {
        await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [byPassword, host, 'Right-Pw-4417']);
        await admin.query('CREATE USER ?@? IDENTIFIED VIA unix_socket', [bySocket, host]);
      }
      const { hostname, port } = new URL(MYSQL_TEST_URL);
      const cases: [user: string, code: number, url: string][] = [
        [byPassword, 1045, `mysql://${byPassword}:${PASSWORD}@${hostname}:${port || 3306}/x`],
        [bySocket, 1698, `mysql://${bySocket}:${PASSWORD}@${hostname}:${port || 3306}/x`],
        [bySocket, 1698, `mysql://${bySocket}@${hostname}:${port || 3306}/x`],
      ];
      for (const [user, errno, url] of cases) {
        const run = await runProgram('room', ['info', '482913'], {
          env: { HOME: dir, SUNOYE_HOME: join(dir, 'home'), SUNOYE_DB: url },
        });
        expect(run.code, `${errno}: ${run.stderr}`).to.equal(4);
        expect(run.stderr, String(errno)).to.match(
          /^room: cannot use the database mysql:\/\/\*\*\*@[^ ]+\/x: Access denied for user \*\*\*@'[^']+'.* \(check the user name and password in the database URL\)\n$/,
        );
        for (const secret of [user, PASSWORD])
          for (let i = 0; i + 5 <= secret.length; i++)
            expect(run.stdout + run.stderr, String(errno)).to.not.include(secret.slice(i, i + 5));
      }
    } finally {
      for (const host of hosts)
        for (const user of [byPassword, bySocket])
          await admin.query('DROP USER IF EXISTS ?@?', [user, host]);
      await admin.end();
    }
  });

  it('shows none of a broker URL user name or password, however malformed', async function () {
    const creds = `${USER}:${PASSWORD}`;
    const cases: [string, number, RegExp][] = [
      [`mqtt://${creds}@host:notaport`, 2, /the broker URL is not a URL/],
      [`mqtt//${creds}@host`, 2, /the broker URL is not a URL/],
      [`mqtt://${creds}@`, 2, /the broker URL is not a URL/],
      [`mqtt:${creds}@127.0.0.1`, 2, /the broker URL names no host/],
      [
        `${creds}@127.0.0.1:1883`,
        2,
        /^publish: the broker is neither host\[:port\] nor a URL; use e.g./,
      ],
      [`http://${creds}@127.0.0.1`, 2, /unsupported broker URL scheme http:\/\/;/],
      [`mqtt://${USER}:${PASSWORD.slice(0, 6)}%zz@127.0.0.1:1883`, 2, /malformed %-escape/],
      [`mqtt://${USER}%zz:${PASSWORD}@127.0.0.1:1883`, 2, /malformed %-escape/],
      [
        `mqtt://${creds}@127.0.0.1:${closedPort}`,
        4,
        new RegExp(`cannot connect to the broker mqtt://127\\.0\\.0\\.1:${closedPort}: `),
      ],
      [`ws://${creds}@127.0.0.1:${closedPort}/mqtt`, 4, /cannot connect to the broker ws:/],
      // A token in the query or fragment is a credential too: the path stays, the rest goes.
      [
        `ws://127.0.0.1:${closedPort}/mqtt?token=${PASSWORD}&user=${USER}`,
        4,
        new RegExp(
          `cannot connect to the broker ws://127\\.0\\.0\\.1:${closedPort}/mqtt\\?\\*\\*\\*: `,
        ),
      ],
      [
        `wss://127.0.0.1:${closedPort}/mqtt#${PASSWORD}`,
        4,
        new RegExp(
          `cannot connect to the broker wss://127\\.0\\.0\\.1:${closedPort}/mqtt#\\*\\*\\*: `,
        ),
      ],
    ];
    for (const [url, code, message] of cases) {
      const run = await runProgram('publish', ['--topic', 't/x', '--plain', '-m', 'hi'], {
        env: { HOME: dir, SUNOYE_BROKER: url, SUNOYE_CONNECT_TIMEOUT: '1' },
      });
      expect(run.code, `${url}: ${run.stderr}`).to.equal(code);
      expect(run.stderr, url).to.match(message);
      expect(run.stderr.split('\n'), url).to.have.length(2);
      expectNoCredentials(run.stdout + run.stderr, url);
    }
    // room create's join line and record keep the path of a ws:// broker, never its query.
    const made = await runProgram('room', ['create'], {
      env: {
        HOME: dir,
        SUNOYE_NAME: 'alice',
        SUNOYE_BROKER: `ws://127.0.0.1:${closedPort}/mqtt?token=${PASSWORD}`,
      },
    });
    expect(made.code, made.stderr).to.equal(0);
    expect(made.stderr).to.include(`--broker ws://127.0.0.1:${closedPort}/mqtt\n`);
    expectNoCredentials(made.stdout + made.stderr, 'room create');
  });
});
