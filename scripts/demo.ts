// `npm run demo`: sunoye end to end on a machine with no broker and no database server. It starts
// the embedded broker on a free port, uses a temporary home and SQLite file, creates a room, opens
// two `room chat` windows that talk both ways, pipes a few lines in with `publish`, closes the
// room under them, and cleans up. Each window's lines are shown as they come, with whose it is.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { colourFor } from '../src/terminal/colour.js';
import { startBroker } from '../src/mqtt/broker.js';

const bin = (program: string): string =>
  fileURLToPath(new URL(`../bin/${program}.js`, import.meta.url));
const out = (text: string): boolean => process.stdout.write(text);
const bold = colourFor(process.stdout, process.env).bold;
const step = (text: string): boolean => out(`\n${bold(text)}\n`);

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to the end, as `name`, feeding it `input`. */
function run(
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input = '',
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin(program), ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

function check(what: string, result: Finished): Finished {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${result.stderr}`);
  return result;
}

/** A `room chat` window of `name`'s: its lines are shown as they come, labelled with whose it is. */
function openWindow(name: string, room: string) {
  const child = spawn(process.execPath, [bin('room'), 'chat', room], {
    env: as(name),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let shown = '';
  let errors = '';
  const waiting: { check: (text: string) => boolean; resolve: () => void }[] = [];
  const label = `${name}'s window`.padEnd(14);
  const onText = (chunk: string): void => {
    shown += chunk;
    for (const line of chunk.split('\n').filter(Boolean)) out(`  ${label} | ${line}\n`);
    for (const w of waiting.filter((w) => w.check(shown))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout.setEncoding('utf8').on('data', onText);
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    errors += c;
    onText(c);
  });
  const done = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    done,
    errors: () => errors,
    /** What is typed: shown as typed, then sent. */
    type(line: string): void {
      out(`  ${label} > ${line}\n`);
      child.stdin.write(`${line}\n`);
    },
    /** Waits until the window has shown what `check` looks for (or fails if it ends first). */
    until(check: (text: string) => boolean): Promise<void> {
      if (check(shown)) return Promise.resolve();
      return Promise.race([
        new Promise<void>((resolve) => waiting.push({ check, resolve })),
        done.then((code) =>
          Promise.reject(new Error(`${name}'s window ended (exit ${code}): ${errors}`)),
        ),
      ]);
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'sunoye-demo-'));
const broker = await startBroker('127.0.0.1', 0);
const base = {
  PATH: process.env.PATH,
  HOME: dir,
  SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
  SUNOYE_BROKER: broker.url,
  NO_COLOR: '1',
};
const as = (name: string): NodeJS.ProcessEnv => ({
  ...base,
  SUNOYE_NAME: name,
  SUNOYE_HOME: join(dir, name),
});
let exitCode = 0;
try {
  step(`An embedded broker is listening on ${broker.url}; the registry is ${base.SUNOYE_DB}.`);

  step('alice$ room create --json');
  const created = check('room create', await run('room', ['create', '--json'], as('alice')));
  out(created.stdout);
  const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };

  step(`bob$ room join ${room}    (bob types the password alice gave him)`);
  out(
    check(
      'room join',
      await run('room', ['join', room, '--password-file', '-'], as('bob'), `${password}\n`),
    ).stderr,
  );

  step(`alice$ room chat ${room}    and    bob$ room chat ${room}    (one window each)`);
  const alice = openWindow('alice', room);
  await alice.until((text) => text.includes('alice joined (you)'));
  const bob = openWindow('bob', room);
  await bob.until((text) => text.includes('bob joined (you)'));
  await alice.until((text) => text.includes('bob joined'));
  alice.type('Hi bob! This is the room window: we read and type in one terminal.');
  await bob.until((text) => text.includes('read and type in one terminal'));
  bob.type('Hi alice. Only we can read this: the broker sees ciphertext.');
  await alice.until((text) => text.includes('the broker sees ciphertext'));
  bob.type('/who');
  await bob.until((text) => text.includes(`in room ${room} (2)`));

  step(`carol$ room info ${room}`);
  out(check('room info', await run('room', ['info', room], as('carol'))).stdout);

  const lines = ['build 1432 passed', 'deploy started', 'deploy finished'];
  step(
    `alice$ printf '...3 lines...' | publish ${room}    (a pipe into the room, from another terminal)`,
  );
  out(check('publish', await run('publish', [room], as('alice'), `${lines.join('\n')}\n`)).stderr);
  await bob.until((text) => text.includes('deploy finished'));

  step(`alice$ room close ${room}`);
  alice.type('/quit');
  if ((await alice.done) !== 0) throw new Error(`alice's window failed: ${alice.errors()}`);
  out(check('room close', await run('room', ['close', room], as('alice'))).stderr);
  await bob.until((text) => text.includes(`closed by alice`));
  if ((await bob.done) !== 0) throw new Error(`bob's window failed: ${bob.errors()}`);

  step('That was sunoye. Try it for real: see "Two people chatting" in the README.');
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  exitCode = 1;
} finally {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = exitCode;
