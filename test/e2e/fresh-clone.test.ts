// `npm install -g .` in a fresh clone, as the README says it (issue 21, 5): npm links the clone
// into the global folder and runs only its `prepare`, with no dependencies installed;
// scripts/prepare.js installs them (`npm ci`) and builds, and the installed `room` runs.
//
// The clone is a copy of this checkout's files as a clone has them (no node_modules, dist, .git
// or generated code), so that it is what is being tested, committed or not, also where the
// checkout has no .git (CI's Node 24 pass). npm uses this machine's cache and asks the registry
// only for what it lacks; better-sqlite3's addon comes from this checkout's build as a "local
// prebuild" (its installer's own way), since building it from source takes minutes.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { testEnv } from '../helpers/cli.js';

const checkout = fileURLToPath(new URL('../../..', import.meta.url));
/** What a clone does not have: what .gitignore names, and git's own folder. */
const NOT_IN_A_CLONE = [
  'node_modules',
  'dist',
  '.git',
  '.bench-results',
  'bench-results.json',
  'bench-cost-results.json',
  join('src', 'protocol', 'generated'),
];

/**
 * Runs `command ARGS` in `cwd` to its end, with `env` and the run's own TMPDIR (so what it leaves
 * there is found at the end); its stdout, both outputs, and the exit code.
 */
function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: testEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, output }));
  });
}

describe('installing from a fresh clone', function () {
  // About 40 s on a busy two-core machine: `npm ci` from the cache, and the build.
  this.timeout(240_000);
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-clone-'));
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('`npm install -g .` installs the dependencies, builds, and puts a working `room` on the PATH', async function () {
    const clone = join(dir, 'clone');
    cpSync(checkout, clone, {
      recursive: true,
      filter: (path) => {
        const inside = relative(checkout, path);
        return !NOT_IN_A_CLONE.some((p) => inside === p || inside.startsWith(`${p}${sep}`));
      },
    });
    // better-sqlite3's addon, packed as its installer looks for a prebuilt one.
    const sqlite = join(checkout, 'node_modules', 'better-sqlite3');
    const { version } = JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')) as {
      version: string;
    };
    const prebuilds = join(dir, 'prebuilds');
    mkdirSync(prebuilds);
    const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    const packed = await run(
      'tar',
      ['-czf', join(prebuilds, name), 'build/Release/better_sqlite3.node'],
      sqlite,
      { PATH: process.env.PATH ?? '' },
    );
    expect(packed.code, packed.output).to.equal(0);

    const home = join(dir, 'home');
    mkdirSync(home);
    const global = join(dir, 'global');
    const installed = await run('npm', ['install', '-g', '--prefix', global, '.'], clone, {
      PATH: process.env.PATH ?? '',
      HOME: home,
      npm_config_cache: process.env.npm_config_cache || join(homedir(), '.npm'),
      npm_config_prefer_offline: 'true',
      npm_config_logs_dir: join(dir, 'logs'),
      npm_config_update_notifier: 'false',
      npm_config_better_sqlite3_local_prebuilds: prebuilds,
    });
    expect(installed.code, installed.output).to.equal(0);

    const room = join(global, 'bin', 'room');
    const env = { PATH: process.env.PATH ?? '', HOME: home };
    const shown = await run(room, ['--version'], dir, env);
    expect(shown.code, shown.output).to.equal(0);
    const pkg = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(shown.stdout).to.equal(`${pkg.version}\n`);
    // The registry's SQLite addon is there too: the installed program makes a room.
    const created = await run(
      room,
      ['create', '--json', '--db', `sqlite:${join(dir, 'r.db')}`],
      dir,
      env,
    );
    expect(created.code, created.output).to.equal(0);
    expect(JSON.parse(created.stdout))
      .to.have.property('room')
      .that.matches(/^\d{6}$/);
  });
});
