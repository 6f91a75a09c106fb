// Database and broker URLs, well-formed or not, reachable or not: no message shows any part of
// their credentials, neither the user name nor the password.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { freePort } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { MYSQL_TEST_URL } from '../helpers/mysql.js';

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
    const mysqlHost = new URL(MYSQL_TEST_URL).host; // the test server: refuses this user
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
      [`mysql://${creds}@${mysqlHost}/x?timeout=5`, 4],
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
  });
});
