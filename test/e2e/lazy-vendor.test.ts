// The password strength estimator's dictionaries (1.6 MB of vendor bundles) load only where a
// password is checked: shown with a copy of the programs from which those bundles are removed.
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { startProgram, stopAll } from '../helpers/programs.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('the password estimator', function () {
  this.timeout(60_000);
  let dir: string;
  let bin: string;
  let broker: TestBroker;
  let env: Record<string, string>;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-lazy-'));
    // The programs as built, next to the project's node_modules (for better-sqlite3's addon),
    // without the estimator.
    bin = join(dir, 'copy', 'bin');
    cpSync(join(root, 'dist', 'bin'), bin, { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'copy', 'node_modules'));
    const vendor = join(bin, 'lib', 'vendor');
    const removed = readdirSync(vendor).filter((f) => f.startsWith('zxcvbn-'));
    expect(removed.filter((f) => f.endsWith('.cjs'))).to.have.length(3);
    for (const file of removed) rmSync(join(vendor, file));
    broker = await startAedes();
    env = { HOME: dir, SUNOYE_BROKER: broker.url, SUNOYE_DB: `sqlite:${join(dir, 'r.db')}` };
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is not loaded by listen, publish, room info, list, join or a generated password', async function () {
    const run = (program: 'room' | 'publish', args: string[], input?: string) =>
      runProgram(program, args, { env, bin, input });
    const created = await run('room', ['create', '--json']);
    expect(created.code, created.stderr).to.equal(0);
    const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };
    for (const [program, args] of [
      ['room', ['info', room]],
      ['room', ['list']],
      ['room', ['join', room, '--password-file', '-']],
      ['publish', [room, '-m', 'hello']],
    ] as const) {
      const ran = await run(program, [...args], `${password}\n`);
      expect(ran.code, `${program} ${args.join(' ')}: ${ran.stderr}`).to.equal(0);
    }
    const listener = startProgram('listen', [room, '--json', '--count', '1'], env, { bin });
    try {
      await listener.line('the join notice', (l) => l.includes('"event":"join"'));
      expect((await run('publish', [room, '-m', 'to the listener'])).code).to.equal(0);
      expect(await listener.exited, listener.stderr()).to.equal(0);
    } finally {
      await stopAll([listener]);
    }
  });

  it('is loaded by room create given a password, which fails without it', async function () {
    const given = await runProgram('room', ['create'], {
      env: { ...env, SUNOYE_PASSWORD: 'Trombone-Velvet-7' },
      bin,
    });
    expect(given.code).to.equal(1);
    expect(given.stderr).to.match(/zxcvbn-core\.cjs/);
  });
});
