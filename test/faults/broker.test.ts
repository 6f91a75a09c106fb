// Fault drills on the broker side: mosquitto restarted under a 50,000-line pipe, and one user
// listening to one room from two terminals at once.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  mosquittoFixture,
  type MosquittoBroker,
  type MosquittoFixture,
} from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { jsonLines, startProgram, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

describe('fault drills: the broker', function () {
  this.timeout(180_000);
  let fixture: MosquittoFixture | undefined;
  let broker: MosquittoBroker;
  let env: Record<string, string>;
  const running: RunningProgram[] = [];

  before(async function () {
    fixture = await mosquittoFixture(this, 'sunoye-drill-');
    ({ broker, env } = fixture);
  });
  afterEach(async function () {
    await stopAll(running);
  });
  after(async function () {
    await fixture?.stop();
  });

  const newRoom = async (): Promise<string> =>
    (
      JSON.parse((await runProgram('room', ['create', '--json'], { env })).stdout) as {
        room: string;
      }
    ).room;

  it('shows every one of 50,000 lines exactly once when mosquitto restarts mid-pipe', async function () {
    const room = await newRoom();
    const listener = startProgram('listen', [room, '--json', '--count', '50000'], env);
    running.push(listener);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'));
    const publisher = startProgram('publish', [room, '--timeout', '60'], env);
    running.push(publisher);
    const lines = Array.from({ length: 50_000 }, (_, i) => `line-${i + 1}`);
    publisher.child.stdin.write(`${lines.slice(0, 25_000).join('\n')}\n`);
    await waitFor('some lines at the listener', () => listener.stdoutLines.length > 5000, 60_000);
    await broker.restart();
    publisher.child.stdin.end(`${lines.slice(25_000).join('\n')}\n`);
    expect(await publisher.exited, publisher.stderr()).to.equal(0);
    expect(publisher.stderr()).to.include('sent 50000 messages');
    expect(await listener.exited, listener.stderr()).to.equal(0);
    const shown = jsonLines(listener.stdoutLines)
      .filter((m) => m.type === 'message')
      .map((m) => m.message as string);
    expect(shown).to.have.length(50_000);
    expect(new Set(shown).size).to.equal(50_000);
    expect([...shown].sort()).to.deep.equal([...lines].sort());
  });

  it('lets one user listen to one room from two terminals at once', async function () {
    const room = await newRoom();
    const listenJs = fileURLToPath(new URL('../../bin/listen.js', import.meta.url));
    // `script` gives each listener a terminal of its own, as two terminal windows would.
    const inTerminal = (): RunningProgram => {
      const command = `exec ${process.execPath} ${listenJs} ${room} --json --count 1`;
      const p = startProgramRaw('script', ['-qfec', command, '/dev/null'], {
        ...env,
        SUNOYE_NAME: 'bob',
      });
      running.push(p);
      return p;
    };
    const first = inTerminal();
    const second = inTerminal();
    for (const p of [first, second])
      await p.line('a join notice', (l) => l.includes('"event":"join"'));
    await waitFor('both as members', async () => {
      const info = JSON.parse(
        (await runProgram('room', ['info', room, '--json'], { env })).stdout,
      ) as { names: string[] };
      return info.names.join() === 'bob,bob';
    });
    expect((await runProgram('publish', [room, '-m', 'to both'], { env })).code).to.equal(0);
    expect(await first.exited).to.equal(0);
    expect(await second.exited).to.equal(0);
    for (const p of [first, second]) {
      expect(p.stdoutLines.some((l) => l.includes('"message":"to both"'))).to.equal(true);
      expect(p.stdoutLines.join('\n')).to.not.include('lost the broker connection');
    }
  });
});

/** Like startProgram, for a command other than sunoye's own programs. */
function startProgramRaw(
  command: string,
  args: string[],
  env: Record<string, string>,
): RunningProgram {
  const probe = spawnSync(command, ['--version'], { stdio: 'ignore' });
  if (probe.error) throw new Error(`${command} is not installed`);
  return startProgram(command as 'listen', args, env, { raw: true });
}
