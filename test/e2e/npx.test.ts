// The programs run with npx from the package's folder, as the README tells a newcomer who has not
// installed them (issue 21, 1). npm 7 and later pass on the `--` that keeps npx's own options
// apart (`npx listen -- --help` runs `listen -- --help`): a `--` before any other argument is
// dropped, and a `--` anywhere else still ends the options.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { noteSecrets, record, testEnv, type Run } from '../helpers/cli.js';
import { createRoom, joinedListener, stopAll, type RunningProgram } from '../helpers/programs.js';

/** The package's folder: npx runs the `bin` of the package.json it is started in. */
const packageDir = fileURLToPath(new URL('../../..', import.meta.url));

describe('the programs run with npx', function () {
  // npx installs the folder into its cache on the first run (a few seconds, more on a loaded machine).
  this.timeout(180_000);
  let dir: string;
  let broker: TestBroker;
  let env: Record<string, string>;
  const running: RunningProgram[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-npx-'));
    broker = await startAedes();
    env = {
      HOME: dir,
      SUNOYE_HOME: join(dir, 'home'),
      SUNOYE_DB: `sqlite:${join(dir, 'r.db')}`,
      SUNOYE_BROKER: broker.url,
      // npm's cache, logs and npx's folder in the temporary folder; nothing asked of a registry.
      npm_config_cache: join(dir, 'npm-cache'),
      // npm on Node 22 and later keeps its compiled code in TMPDIR/node-compile-cache unless told
      // where: here, in the test's own folder.
      NODE_COMPILE_CACHE: join(dir, 'node-compile-cache'),
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
    };
  });
  afterEach(() => stopAll(running));
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `npx PROGRAM ARGS` in the package's folder. */
  const npx = (program: string, args: string[]): Promise<Run> =>
    new Promise((resolve, reject) => {
      noteSecrets(env, args);
      const child = spawn('npx', [program, ...args], {
        cwd: packageDir,
        env: testEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('error', reject);
      child.once('close', (code) => {
        record(program, args, stdout, stderr);
        resolve({ code, stdout, stderr });
      });
    });

  it('takes `npx PROGRAM -- OPTIONS` as the README writes it, and `npx PROGRAM OPTIONS`', async function () {
    const plain = await npx('listen', ['--help']);
    expect(plain.code, plain.stderr).to.equal(0);
    expect(plain.stdout).to.match(/^listen <room>\n/);
    const separated = await npx('listen', ['--', '--help']);
    expect(separated.code, separated.stderr).to.equal(0);
    expect(separated.stdout).to.equal(plain.stdout);
    const publish = await npx('publish', ['--', '--help']);
    expect(publish.code, publish.stderr).to.equal(0);
    expect(publish.stdout).to.match(/^publish <room> /);
    const version = await npx('room', ['--', '--version']);
    expect(version.code, version.stderr).to.equal(0);
    expect(version.stdout).to.match(/^\d+\.\d+\.\d+\n$/);
  });

  it('runs commands given after `--`, and a later `--` still ends the options', async function () {
    const created = await npx('room', ['--', 'create', '--json']);
    expect(created.code, created.stderr).to.equal(0);
    const room = (JSON.parse(created.stdout) as { room: string }).room;
    const other = await createRoom(env);
    const info = await npx('room', ['info', room, '--json']);
    expect(info.code, info.stderr).to.equal(0);
    expect(JSON.parse(info.stdout)).to.include({ room });
    // `npx listen -- ROOM --timeout 1`: the options after the room are options.
    const quiet = await npx('listen', ['--', other, '--timeout', '1']);
    expect(quiet.code, quiet.stderr).to.equal(0);
    expect(quiet.stderr).to.equal('no message for 1 s\n');
    // A `--` after an argument, or a second one, ends the options: "-text" and "-x" are messages.
    const listener = await joinedListener(room, [], env, running);
    const one = await npx('publish', [room, '--', '-text']);
    expect(one.code, one.stderr).to.equal(0);
    const two = await npx('publish', ['--', room, '--', '-x']);
    expect(two.code, two.stderr).to.equal(0);
    await listener.line('"-text"', (l) => l.includes('"message":"-text"'));
    await listener.line('"-x"', (l) => l.includes('"message":"-x"'));
    // Nothing but a command's name may come first: after `--` (npx's, then the program's) it is not one.
    const late = await npx('room', ['--', '--', 'create']);
    expect(late.code).to.equal(2);
    expect(late.stderr).to.match(/^room: "create" comes after --, where no command is looked for/);
  });
});
