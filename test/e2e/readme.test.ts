/**
 * The README's examples, run as written (issue 21). Every command of every ```sh block of the
 * README is either run here by a scenario, exactly as the README spells it, or listed in
 * NOT_RUN with the reason it cannot run on a test machine; a new command the test does not know
 * fails it, and so does a command that fails or does not print what the README says it does.
 *
 * How "as written" holds on a machine that runs the whole suite at once:
 * - Each command line runs in bash, with the built programs on the PATH (a scratch folder of
 *   `room`, `listen` and `publish` wrappers that run dist/bin, as `npm install -g .` would put
 *   them), in a scratch HOME per person (so the default registry is that home's own SQLite file).
 * - Configuration comes from the environment, not from the command: where an example uses the
 *   default broker (localhost:1883), SUNOYE_BROKER points at an in-process broker this test
 *   starts on a free port; SUNOYE_NAME gives each person their name (their login name in the
 *   README); a password the README has a person type at `room join`'s prompt is given in
 *   SUNOYE_PASSWORD, which the README names as the other way to give it.
 * - Substitutions, the only changes made to a command's text: the room number 482913 is the
 *   number `room create` printed in this run (numbers are random); in the two-machine example,
 *   `mysql://…@db.example/sunoye` is a scratch database on the test MySQL/MariaDB and
 *   `chat.example` is the test's broker (127.0.0.1:PORT).
 * - `room serve` on the default port 1883: where a broker already listens there (mosquitto, on
 *   this machine and in CI), the README says it exits 1 saying so, and that is checked; where the
 *   port is free, it must print its URL and stop on Ctrl-C with exit 0.
 * - Interactive commands run with a bound: `room chat` in a tmux terminal (two people exchange a
 *   line), `listen` and `tail -f | publish` started, watched until their output appears, and
 *   stopped with Ctrl-C (SIGINT to their process group).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ExitCode } from '../../src/errors.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { noteSecrets, record, testEnv } from '../helpers/cli.js';
import { requireMysql, scratchDatabase, type ScratchDatabase } from '../helpers/mysql.js';
import { startProgram } from '../helpers/programs.js';
import { openShellTerminal, tmuxInstalled, type Terminal } from '../helpers/terminal.js';
import { waitFor } from '../helpers/wait.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const binDir = join(repo, 'dist', 'bin');
const readme = readFileSync(join(repo, 'README.md'), 'utf8');

/** The room number the README's examples use; each run substitutes the one `room create` made. */
const README_ROOM = '482913';

/** Commands of the README's sh blocks that cannot run here, and why. */
const NOT_RUN: Record<string, string> = {
  'npm ci': 'installs the dependencies; this suite runs on the install it made',
  'npm install -g .':
    "installs into the machine's global npm prefix (test/e2e/fresh-clone.test.ts installs it into a scratch prefix); this test puts the same dist/bin programs on the PATH through a folder of its own",
  'npm test': 'it is this suite',
  'sudo install -d -m 2770 -g chat /srv/sunoye':
    'needs root and a group "chat", and changes the machine outside any scratch folder',
  'export SUNOYE_DB=sqlite:/srv/sunoye/rooms.db':
    'names a file in the folder the root-only line above makes (test/e2e/registry-access.test.ts shares such a file between users; the same setting is run on MySQL in the two-machine example)',
};

/** Commands run by the scenarios below, by the scenario that runs each. */
const RUN_BY: Record<string, string> = {
  'npm run demo': 'demo',
  'room serve': 'one machine',
  'room create': 'one machine, two machines, pipes',
  [`room chat ${README_ROOM}`]: 'one machine, two machines',
  [`room chat ${README_ROOM} --name bob --home ~/.config/sunoye-bob`]: 'one machine',
  'room serve --host 0.0.0.0': 'two machines',
  'room serve --port 0 --web': 'in a browser',
  'export SUNOYE_DB=mysql://alice:secret@db.example/sunoye SUNOYE_BROKER=chat.example':
    'two machines',
  [`room join ${README_ROOM}`]: 'two machines',
  [`publish ${README_ROOM} deploy finished`]: 'pipes',
  [`tail -f app.log | publish ${README_ROOM}`]: 'pipes',
  [`listen ${README_ROOM}`]: 'pipes',
  [`listen ${README_ROOM} --json | jq -r 'select(.type == "message") | .message'`]: 'pipes',
  [`listen ${README_ROOM} --count 1 --timeout 60`]: 'pipes',
};

/** The README's headings and sh blocks, read outside and inside its code fences. */
function parseMarkdown(text: string): { headings: string[]; shCommands: string[] } {
  const headings: string[] = [];
  const shCommands: string[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const opening = /^\s*```(\w*)/.exec(line);
    if (fence === undefined && opening) {
      fence = opening[1];
      continue;
    }
    if (fence !== undefined && /^\s*```\s*$/.test(line)) {
      fence = undefined;
      continue;
    }
    if (fence === undefined) {
      const heading = /^(#{1,6}) (.+)$/.exec(line);
      if (heading) headings.push(`${heading[1]} ${heading[2]}`);
    } else if (fence === 'sh') {
      // A command, without its trailing comment (a # after blanks) and without comment lines.
      const command = line.replace(/\s+#\s.*$/, '').trim();
      if (command !== '' && !command.startsWith('#')) shCommands.push(command);
    }
  }
  return { headings, shCommands };
}

const { headings, shCommands } = parseMarkdown(readme);

/** The README's command `text`, checked to be there and to be one a scenario runs. */
function example(text: string, room?: string): string {
  expect(shCommands, 'the README has this example').to.include(text);
  expect(RUN_BY, 'the example is listed in RUN_BY').to.have.property(text);
  return room === undefined ? text : text.replaceAll(README_ROOM, room);
}

/** A program started by a shell command and stopped with a signal to its process group. */
interface Started {
  child: ChildProcessWithoutNullStreams;
  stdout: string[];
  stderr(): string;
  exited: Promise<number | null>;
  /** Waits until a stdout line satisfies `match`, or fails if the program ends first. */
  line(what: string, match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Sends `signal` to the command's process group (Ctrl-C: SIGINT) and waits for its end. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** One person: a home of their own and the environment their shell has. */
class Person {
  readonly home: string;
  env: Record<string, string>;
  readonly started: Started[] = [];

  constructor(dir: string, name: string, env: Record<string, string>) {
    this.home = join(dir, name);
    mkdirSync(this.home, { recursive: true });
    this.env = { ...env, HOME: this.home, SUNOYE_NAME: name };
  }

  /** Runs a command line in bash, in the home folder; its exports stay for later commands. */
  run(
    command: string,
    extra: Record<string, string> = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const envFile = join(this.home, '.env-after');
    const env = { ...this.env, ...extra };
    noteSecrets(env);
    return new Promise((done, fail) => {
      const child = spawn(
        'bash',
        ['-c', `${command}\ncode=$?; env -0 > '${envFile}'; exit $code`],
        { cwd: this.home, env, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(new Error(`\`${command}\` did not finish in 60 s\n${stderr}`));
      }, 60_000);
      child.stdin.end();
      child.once('error', fail);
      child.once('close', (code) => {
        clearTimeout(timer);
        note(command, stdout, stderr);
        if (existsSync(envFile)) {
          const after: Record<string, string> = {};
          for (const entry of readFileSync(envFile, 'utf8').split('\0')) {
            const eq = entry.indexOf('=');
            if (eq > 0) after[entry.slice(0, eq)] = entry.slice(eq + 1);
          }
          for (const name of ['_', 'PWD', 'OLDPWD', 'SHLVL', ...Object.keys(extra)])
            delete after[name];
          this.env = after;
          rmSync(envFile);
        }
        done({ code, stdout, stderr });
      });
    });
  }

  /** Starts a command line that runs until stopped (a listener, a pipe from `tail -f`). */
  start(command: string): Started {
    const running = startProgram('bash' as 'room', ['-c', command], this.env, {
      raw: true,
      cwd: this.home,
      detached: true,
    });
    const { child } = running;
    // Ended by a signal (the whole shell job stopped), a shell says 128 and more.
    const exited = running.exited.then((code) => code ?? (child.signalCode ? 128 : null));
    const started: Started = {
      ...running,
      stdout: running.stdoutLines,
      exited,
      stop: async (signal = 'SIGINT') => {
        if (child.exitCode === null && child.signalCode === null) signalGroup(child, signal);
        return exited;
      },
    };
    this.started.push(started);
    return started;
  }

  /** Kills whatever this person still runs. */
  async stopAll(): Promise<void> {
    for (const started of this.started.splice(0).reverse()) {
      if (started.child.exitCode === null && started.child.signalCode === null)
        signalGroup(started.child, 'SIGKILL');
      await started.exited;
    }
  }
}

function signalGroup(child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // the group has gone already
  }
}

/** Records a command's output for the suite's secret check (`room create` prints its password). */
function note(command: string, ...outputs: string[]): void {
  const [program = '', ...args] = command.split(/\s+/);
  record(program, args, ...outputs);
}

/** The number and password `room create` printed. */
function created(stdout: string): { room: string; password: string } {
  const room = /^Room number: (\d{6})$/m.exec(stdout)?.[1];
  const password = /^Password:\s+(\S+)$/m.exec(stdout)?.[1];
  expect(room, `a room number in:\n${stdout}`).to.be.a('string');
  expect(password, 'a generated password').to.be.a('string');
  return { room: room!, password: password! };
}

/** `room serve` on the default port: it serves (and stops on Ctrl-C), or says the port is taken. */
async function checkServe(person: Person, command: string): Promise<void> {
  const serve = person.start(command);
  const outcome = await waitFor(
    `\`${command}\` to serve or to say the port is taken`,
    () =>
      serve.stdout.some((l) => /^mqtt:\/\/[\d.]+:1883$/.test(l))
        ? 'serving'
        : serve.child.exitCode !== null
          ? 'exited'
          : undefined,
    15_000,
  );
  if (outcome === 'serving') {
    expect(await serve.stop('SIGINT')).to.equal(0);
  } else {
    expect(await serve.exited).to.equal(1);
    expect(serve.stderr()).to.match(/already listens on [\d.]+:1883; you do not need room serve/);
  }
}

/** Opens a room window for `command`, and waits until it says whose window it is. */
async function window(
  command: string,
  person: Person,
  room: string,
  name: string,
  password?: string,
): Promise<Terminal> {
  const terminal = await openShellTerminal(command, person.env, { columns: 100, rows: 20 });
  if (password !== undefined) {
    await terminal.waitFor('the password prompt', (lines) =>
      lines.some((l) => l.includes(`Password for room ${room}`)),
    );
    await terminal.type(password);
    await terminal.press('Enter');
  }
  await terminal.waitFor(`${name}'s window`, (lines) =>
    lines.some((l) => l.includes(`You are in room ${room} as ${name}.`)),
  );
  return terminal;
}

/** Alice and bob each send a line from their window, and each sees the other's. */
async function converse(alice: Terminal, bob: Terminal): Promise<void> {
  await alice.waitFor('bob joined, in alice’s window', (lines) =>
    lines.some((l) => / -- bob joined \[key [0-9a-f-]+, first seen\]$/.test(l)),
  );
  await alice.type('hello bob');
  await alice.press('Enter');
  // bob's window opened with the room's history: alice's join, her key first seen there.
  await bob.waitFor('alice’s line, in bob’s window', (lines) =>
    lines.some((l) => /^\d\d:\d\d:\d\d alice: hello bob$/.test(l)),
  );
  expect(
    (await bob.screen()).some((l) =>
      / \(earlier\) -- alice joined \[key [0-9a-f-]+, first seen\]$/.test(l),
    ),
  ).to.equal(true);
  await bob.type('hi alice');
  await bob.press('Enter');
  await alice.waitFor('bob’s line, in alice’s window', (lines) =>
    lines.some((l) => /^\d\d:\d\d:\d\d bob: hi alice$/.test(l)),
  );
  for (const terminal of [bob, alice]) {
    await terminal.type('/quit');
    await terminal.press('Enter');
    expect(await terminal.exited()).to.equal(0);
  }
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, blanks as hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings (a repeated one gets -1, -2, as on GitHub). */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const all = new Set<string>();
  for (const heading of parseMarkdown(readFileSync(file, 'utf8')).headings) {
    const base = anchor(heading.replace(/^#+ /, ''));
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    all.add(count === 0 ? base : `${base}-${count}`);
  }
  return all;
}

describe('the README', function () {
  this.timeout(120_000);
  let dir: string;
  let broker: TestBroker;
  let env: Record<string, string>;
  const people: Person[] = [];
  const terminals: Terminal[] = [];
  const person = (name: string, extra: Record<string, string> = {}): Person => {
    const p = new Person(mkdtempSync(join(dir, 'home-')), name, { ...env, ...extra });
    people.push(p);
    return p;
  };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-readme-'));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const program of ['room', 'listen', 'publish']) {
      const wrapper = join(bin, program);
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexec '${process.execPath}' '${join(binDir, `${program}.js`)}' "$@"\n`,
      );
      chmodSync(wrapper, 0o755);
    }
    broker = await startAedes();
    // With the run's own TMPDIR (testEnv), so what the commands leave there is found at the end.
    env = testEnv({ PATH: `${bin}:${process.env.PATH ?? ''}`, SUNOYE_BROKER: broker.url });
  });
  afterEach(async function () {
    for (const terminal of terminals.splice(0)) await terminal.close();
    for (const p of people.splice(0)) await p.stopAll();
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is under 400 lines, with its sections in the order a newcomer needs them', function () {
    expect(readme.split('\n').length).to.be.below(400);
    const h2 = headings.filter((h) => h.startsWith('## ')).map((h) => h.slice(3));
    const order = [
      'Set-up',
      'Two people chatting',
      'Pipes',
      'Commands',
      'Exit codes',
      'Configuration',
    ];
    expect(h2.filter((h) => order.includes(h))).to.deep.equal(order);
    // What it is comes first, before any section.
    const intro = readme.slice(0, readme.indexOf('\n## '));
    expect(intro).to.match(/chat rooms in the terminal, over MQTT/);
    const h3 = headings.filter((h) => h.startsWith('### ')).map((h) => h.slice(4));
    expect(h3.findIndex((h) => /^On one machine/.test(h))).to.be.below(
      h3.findIndex((h) => /^On two machines/.test(h)),
    );
    // The test command, and what the tests do without MySQL or mosquitto.
    expect(shCommands).to.include('npm test');
    expect(readme).to.match(/SUNOYE_TEST_MYSQL_URL/);
    expect(readme).to.match(/A missing MySQL, `mosquitto` or `tmux` skips those suites loudly/);
  });

  it('lists every exit code the programs use, in one table', function () {
    const rows = [...readme.matchAll(/^\| (\d+) +\| /gm)].map((m) => Number(m[1]));
    expect(rows).to.deep.equal(Object.values(ExitCode));
  });

  it('and docs/*.md link only to files and headings that exist', function () {
    const files = [
      join(repo, 'README.md'),
      ...readdirSync(join(repo, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(repo, 'docs', f)),
    ];
    const broken: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
        .replace(/^\s*```[\s\S]*?^\s*```/gm, '')
        .replace(/`[^`\n]*`/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // http:, mailto:
        const [path = '', hash] = target!.split('#');
        const linked = path === '' ? file : resolve(dirname(file), path);
        const where = `${file.slice(repo.length)}: ${target}`;
        if (!existsSync(linked)) broken.push(`${where} (no such file)`);
        else if (hash !== undefined && !anchors(linked).has(hash))
          broken.push(`${where} (no such heading)`);
      }
    }
    expect(broken).to.deep.equal([]);
    // Every document in docs/ is reachable from the README.
    for (const file of files.slice(1))
      expect(readme, file).to.include(`(docs/${file.slice(join(repo, 'docs').length + 1)})`);
  });

  it('has only sh examples that this test runs, or says why it cannot', function () {
    const unknown = shCommands.filter((c) => !(c in RUN_BY) && !(c in NOT_RUN));
    expect(unknown, 'README commands this test does not know how to run').to.deep.equal([]);
    const stale = [...Object.keys(RUN_BY), ...Object.keys(NOT_RUN)].filter(
      (c) => !shCommands.includes(c),
    );
    expect(stale, 'commands the test knows that the README no longer has').to.deep.equal([]);
  });

  it('set-up: `npm run demo` shows two room windows talking and exits 0', async function () {
    const alice = person('alice');
    // npm's own update check stays off: it would ask the registry from a fresh home.
    const demo = await alice.run(`cd '${repo}' && ${example('npm run demo')}`, {
      npm_config_update_notifier: 'false',
    });
    expect(demo.code, demo.stderr).to.equal(0);
    expect(demo.stdout).to.match(/bob joined/);
    expect(demo.stdout).to.match(/alice \(you\): Hi bob!/);
  });

  it('on one machine: a broker, `room create`, and two room windows that talk', async function () {
    if (!(await tmuxInstalled())) {
      process.stderr.write('\n  !!! SKIPPING the room windows of the README: no tmux\n\n');
      this.skip();
    }
    const alice = person('alice');
    await checkServe(alice, example('room serve'));

    const made = await alice.run(example('room create'));
    expect(made.code, made.stderr).to.equal(0);
    const { room, password } = created(made.stdout);
    // The join line for bob (with the test's broker, which is not the default here).
    expect(made.stderr).to.match(new RegExp(`^  room join ${room}( --broker mqtt://\\S+)?$`, 'm'));
    noteSecrets({ SUNOYE_PASSWORD: password });

    const aliceWindow = await window(
      example(`room chat ${README_ROOM}`, room),
      alice,
      room,
      'alice',
    );
    terminals.push(aliceWindow);
    // Bob is alice's account under another name and home: `room chat` asks for the password.
    const bobWindow = await window(
      example(`room chat ${README_ROOM} --name bob --home ~/.config/sunoye-bob`, room),
      alice,
      room,
      'bob',
      password,
    );
    terminals.push(bobWindow);
    await converse(aliceWindow, bobWindow);
    expect(existsSync(join(alice.home, '.config', 'sunoye-bob', 'identity.json'))).to.equal(true);
  });

  it('in a browser: `room serve --port 0 --web` serves the page and the rooms of your registry', async function () {
    const alice = person('alice');
    const made = await alice.run(example('room create'));
    expect(made.code, made.stderr).to.equal(0);
    const { room } = created(made.stdout);
    const serve = alice.start(example('room serve --port 0 --web'));
    const page = await serve.line('the page’s address', (l) =>
      /^http:\/\/127\.0\.0\.1:\d+\/$/.test(l),
    );
    expect(serve.stdout.slice(0, 2).map((l) => l.split(':')[0])).to.deep.equal(['mqtt', 'ws']);
    const html = await fetch(page);
    expect(html.status).to.equal(200);
    expect(html.headers.get('content-security-policy')).to.include("script-src 'self'");
    expect(await html.text()).to.include('id="password"');
    const record = await fetch(new URL(`/api/rooms/${room}`, page));
    expect(record.status).to.equal(200);
    expect(await record.json()).to.include({ room, mode: 'encrypted' });
    expect(await serve.stop('SIGINT')).to.equal(0);
  });

  describe('on two machines, with a shared MySQL/MariaDB registry', function () {
    let db: ScratchDatabase | undefined;
    before(async function () {
      await requireMysql(this);
      db = await scratchDatabase();
    });
    after(async function () {
      await db?.drop();
    });

    it('alice creates a room, bob joins it with the password and they talk', async function () {
      if (!(await tmuxInstalled())) {
        process.stderr.write('\n  !!! SKIPPING the room windows of the README: no tmux\n\n');
        this.skip();
      }
      const deployment = (command: string): string =>
        command
          .replace(/mysql:\/\/\S*@db\.example\/sunoye/g, db!.url)
          .replace(/\bchat\.example\b/g, `127.0.0.1:${broker.port}`);
      // Neither has a broker until the README's export names one.
      const noBroker = { ...env };
      delete noBroker.SUNOYE_BROKER;
      const alice = new Person(mkdtempSync(join(dir, 'machine-')), 'alice', noBroker);
      const bob = new Person(mkdtempSync(join(dir, 'machine-')), 'bob', noBroker);
      people.push(alice, bob);

      await checkServe(alice, example('room serve --host 0.0.0.0'));
      const settings = example(
        'export SUNOYE_DB=mysql://alice:secret@db.example/sunoye SUNOYE_BROKER=chat.example',
      );
      for (const p of [alice, bob]) {
        const exported = await p.run(deployment(settings));
        expect(exported.code, exported.stderr).to.equal(0);
        expect(p.env.SUNOYE_DB).to.equal(db!.url);
      }

      const made = await alice.run(example('room create'));
      expect(made.code, made.stderr).to.equal(0);
      const { room, password } = created(made.stdout);
      expect(made.stderr).to.include(`room join ${room} --broker mqtt://127.0.0.1:${broker.port}`);

      const joined = await bob.run(example(`room join ${README_ROOM}`, room), {
        SUNOYE_PASSWORD: password,
      });
      expect(joined.code, joined.stderr).to.equal(0);
      expect(joined.stdout + joined.stderr).to.match(new RegExp(`Joined encrypted room ${room}`));

      const chat = example(`room chat ${README_ROOM}`, room);
      const aliceWindow = await window(chat, alice, room, 'alice');
      terminals.push(aliceWindow);
      // Bob joined: his window asks for no password.
      const bobWindow = await window(chat, bob, room, 'bob');
      terminals.push(bobWindow);
      await converse(aliceWindow, bobWindow);
    });
  });

  it('pipes: publish, tail -f | publish, and three kinds of listen', async function () {
    if (!(await tmuxInstalled())) {
      process.stderr.write('\n  !!! SKIPPING the pipes of the README: no tmux\n\n');
      this.skip();
    }
    const alice = person('alice');
    const made = await alice.run(example('room create'));
    expect(made.code, made.stderr).to.equal(0);
    const { room } = created(made.stdout);

    const subscribed = (l: string) => / -- User alice is now subscribed to sunoye\/room\//.test(l);
    const listener = alice.start(example(`listen ${README_ROOM}`, room));
    await listener.line('the listener’s own join notice', subscribed);
    // jq buffers what it writes into a pipe until it ends: at a terminal, as in the README, it
    // prints each line at once.
    const jq = await openShellTerminal(
      example(`listen ${README_ROOM} --json | jq -r 'select(.type == "message") | .message'`, room),
      alice.env,
    );
    terminals.push(jq);
    const jqShows = (text: string) =>
      jq.waitFor(`"${text}" through jq`, (lines) => lines.includes(text));
    const once = alice.start(example(`listen ${README_ROOM} --count 1 --timeout 60`, room));
    // Both later listeners are subscribed once their join notices reach the first one.
    await waitFor('the join notices of the other two listeners', () =>
      listener.stdout.filter(subscribed).length >= 3 ? true : undefined,
    );

    const sent = await alice.run(example(`publish ${README_ROOM} deploy finished`, room));
    expect(sent.code, sent.stderr).to.equal(0);
    expect(sent.stderr).to.include(`sent 1 message to room ${room}`);
    await listener.line('the message, as a line', (l) =>
      /^\d\d:\d\d:\d\d alice \(you\): deploy finished$/.test(l),
    );
    await jqShows('deploy finished');
    expect(await once.exited).to.equal(0);
    expect(once.stdout.some((l) => l.endsWith('alice (you): deploy finished'))).to.equal(true);

    writeFileSync(join(alice.home, 'app.log'), 'first line of the log\n');
    const tail = alice.start(example(`tail -f app.log | publish ${README_ROOM}`, room));
    await jqShows('first line of the log');
    appendFileSync(join(alice.home, 'app.log'), 'a line written later\n');
    await jqShows('a line written later');
    expect(await tail.stop('SIGINT')).to.be.oneOf([0, 130]);
    expect(await listener.stop('SIGINT')).to.equal(0);
    await jq.press('C-c');
    expect(await jq.exited()).to.be.oneOf([0, 130]);
  });
});
