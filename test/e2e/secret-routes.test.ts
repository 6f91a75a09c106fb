// A room password and a broker password given by every route the programs take one (--password
// and --password=, --password-file FILE and -, SUNOYE_PASSWORD, a URL of a broker list, a
// config.json): the programs work with each, and refuse a wrong one. That none of these secrets
// appears in anything a program printed, success or refusal, is checked by test/setup.ts after
// this suite, which names the secret (test/helpers/cli.ts notes every one of these routes).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { freePort, startAedes, type TestBroker } from '../helpers/brokers.js';
import { ownAccount, runProgram } from '../helpers/cli.js';
import { createRoomWithPassword } from '../helpers/programs.js';

describe('secrets given by every route', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  let room: string;
  let password: string;
  /** A broker list whose second URL, the one that answers, holds a password. */
  let brokers: string;
  const user = (name: string, extra: Record<string, string> = {}) =>
    ownAccount(dir, name, { SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`, ...extra });

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-routes-'));
    broker = await startAedes();
    brokers = `mqtt://127.0.0.1:${await freePort()},mqtt://bob:Br0ker-List-Pw@127.0.0.1:${broker.port}`;
    ({ room, password } = await createRoomWithPassword(user('alice', { SUNOYE_BROKER: brokers })));
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('room join takes the password from --password, --password=, a file, stdin and SUNOYE_PASSWORD', async function () {
    const file = join(dir, 'password.txt');
    writeFileSync(file, `${password}\n`);
    const routes: [string, string[], Record<string, string>, string?][] = [
      ['bob', ['--password', password], {}],
      ['carol', [`--password=${password}`], {}],
      ['dave', ['--password-file', file], {}],
      ['erin', ['--password-file', '-'], {}, `${password}\n`],
      ['frank', [], { SUNOYE_PASSWORD: password }],
    ];
    for (const [name, args, extra, input] of routes) {
      const joined = await runProgram('room', ['join', room, '--broker', brokers, ...args], {
        env: user(name, extra),
        ...(input === undefined ? {} : { input }),
      });
      expect(joined.code, `${name}: ${joined.stderr}`).to.equal(0);
    }
  });

  it('a wrong password is refused by every route (exit 3)', async function () {
    const wrong = 'Not-The-Room-Password-42';
    const file = join(dir, 'wrong.txt');
    writeFileSync(file, `${wrong}\n`);
    for (const [args, extra, input] of [
      [['--password', wrong], {}],
      [[`--password=${wrong}`], {}],
      [[`--password-file=${file}`], {}],
      [['--password-file', '-'], {}, `${wrong}\n`],
      [[], { SUNOYE_PASSWORD: wrong }],
    ] as [string[], Record<string, string>, string?][]) {
      const refused = await runProgram('room', ['join', room, ...args], {
        env: user('grace', { SUNOYE_BROKER: brokers, ...extra }),
        ...(input === undefined ? {} : { input }),
      });
      expect(refused.code, `${args.join(' ')}: ${refused.stderr}`).to.equal(3);
      expect(refused.stderr).to.include(`wrong password for room ${room}`);
    }
  });

  it('publish uses the broker list of the flag, the environment and config.json', async function () {
    const heidi = user('heidi');
    const settings = join(dir, 'heidi', 'config', 'sunoye'); // ownAccount's XDG_CONFIG_HOME
    mkdirSync(settings, { recursive: true });
    writeFileSync(join(settings, 'config.json'), JSON.stringify({ broker: brokers }));
    const runs = [
      runProgram('publish', [room, '-m', 'hi', `--broker=${brokers}`], {
        env: user('bob', { SUNOYE_PASSWORD: password }),
      }),
      runProgram('publish', [room, '-m', 'hi'], {
        env: user('carol', { SUNOYE_BROKER: brokers, SUNOYE_PASSWORD: password }),
      }),
      runProgram('publish', [room, '-m', 'hi'], {
        env: { ...heidi, SUNOYE_PASSWORD: password },
      }),
    ];
    for (const run of await Promise.all(runs)) expect(run.code, run.stderr).to.equal(0);
  });
});
