// `npm run demo`: sunoye end to end on a machine with no broker and no database server. It starts
// the embedded broker on a free port, uses a temporary home and SQLite file, creates a room, starts
// a listener, pipes a few lines through `publish`, shows the conversation, and cleans up.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { colourFor } from '../src/chat/colour.js';
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

  step(`bob$ listen ${room} --count 4    (bob's terminal: he leaves after four messages)`);
  const listener = spawn(process.execPath, [bin('listen'), room, '--count', '4'], {
    env: as('bob'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let heard = '';
  const joined = new Promise<void>((resolve) => {
    listener.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      heard += chunk;
      for (const line of chunk.split('\n').filter(Boolean)) out(`  bob's terminal | ${line}\n`);
      if (heard.includes('is now subscribed')) resolve();
    });
  });
  let listenerErrors = '';
  listener.stderr.setEncoding('utf8').on('data', (c: string) => (listenerErrors += c));
  const listenerDone = new Promise<number | null>((resolve) => listener.once('close', resolve));
  await Promise.race([
    joined,
    listenerDone.then(() => Promise.reject(new Error(`listen ended early: ${listenerErrors}`))),
  ]);

  step(`carol$ room info ${room}`);
  out(check('room info', await run('room', ['info', room], as('carol'))).stdout);

  const lines = [
    'Hello from the sunoye demo.',
    'Every line is encrypted before it leaves.',
    'The broker only sees ciphertext.',
    'Bye!',
  ];
  step(`alice$ printf '...4 lines...' | publish ${room}`);
  out(check('publish', await run('publish', [room], as('alice'), `${lines.join('\n')}\n`)).stderr);

  const code = await listenerDone;
  if (code !== 0) throw new Error(`listen exited ${code}: ${listenerErrors}`);
  step(`alice$ room close ${room}`);
  out(check('room close', await run('room', ['close', room], as('alice'))).stderr);

  step('That was sunoye. Try it for real: see the README quick start.');
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  exitCode = 1;
} finally {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = exitCode;
