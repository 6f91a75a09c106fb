// Re-running `listen` in the same terminal (issue 12, 2.4): what the broker kept for the resumed
// session, our own earlier listener's last will among it, comes above the new join line, in the
// order it arrived; a will shows when it arrived, not when its listener started.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { jsonLines, stopAll, type RunningProgram } from '../helpers/programs.js';
import { startInScript } from '../helpers/script.js';
import { shellAssignments, shellQuote } from '../helpers/shell.js';

describe('listen started again in the same terminal', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  const running: RunningProgram[] = [];
  const user = (name: string): Record<string, string> => ({
    HOME: dir,
    SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
    SUNOYE_BROKER: broker.url,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, name),
    NO_COLOR: '1',
  });
  const q = shellQuote;
  const bin = (program: string): string =>
    `${q(process.execPath)} ${q(join(process.cwd(), 'dist', 'bin', `${program}.js`))}`;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-backlog-'));
    broker = await startAedes();
  });
  afterEach(() => stopAll(running));
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * In one terminal (`script`): bob's listener, killed -9 once it has joined; alice sends a line
   * while it is gone; then `second` runs in the same terminal. Returns what it printed there.
   */
  async function rerun(
    room: string,
    password: string,
    second: string,
  ): Promise<{ first: string; lines: string[] }> {
    const first = join(dir, `first-${room}.out`);
    const env = shellAssignments;
    const steps = [
      `${bin('listen')} ${room} --json > ${q(first)} & echo $! > ${q(first)}.pid`,
      `until grep -q '"event":"join"' ${q(first)}; do sleep 0.05; done`,
      `kill -9 $(cat ${q(first)}.pid)`,
      `env ${env({ ...user('alice'), SUNOYE_PASSWORD: password })} ${bin('publish')} ${room} -m 'sent while bob was away'`,
      `exec ${second}`,
    ].join('; ');
    const terminal = startInScript(steps, user('bob'));
    running.push(terminal);
    expect(await terminal.exited, terminal.stderr()).to.equal(0);
    return {
      first: readFileSync(first, 'utf8'),
      lines: terminal.stdoutLines.map((l) => l.replace(/\r$/, '')),
    };
  }

  /** A room of bob's, and its password (alice has not joined it). */
  async function bobsRoom(): Promise<{ room: string; password: string }> {
    const created = await runProgram('room', ['create', '--json'], { env: user('bob') });
    expect(created.code, created.stderr).to.equal(0);
    return JSON.parse(created.stdout) as { room: string; password: string };
  }

  it('shows the backlog, our own earlier will first, above the new join line, in order', async function () {
    const { room, password } = await bobsRoom();
    const { first, lines } = await rerun(
      room,
      password,
      `${bin('listen')} ${room} --json --timeout 2`,
    );
    const shown = jsonLines(lines.filter((l) => l.startsWith('{')));
    // Then, perhaps, the echo of its own goodbye: nothing else.
    expect(shown.slice(0, 3).map((m) => [m.from, m.event ?? m.message])).to.deep.equal([
      ['bob', 'lost'],
      ['alice', 'sent while bob was away'],
      ['bob', 'join'],
    ]);
    expect(shown.slice(3).filter((m) => m.event !== 'leave')).to.deep.equal([]);
    expect(lines.join('\n')).to.include('no message for 2 s');
    // The will is the earlier listener's own: signed when it started, shown when it arrived.
    const [will, message] = shown as [Record<string, string>, Record<string, string>];
    const firstJoin = jsonLines(first.split('\n')).find((m) => m.event === 'join')!;
    expect(Date.parse(will.since!)).to.be.at.most(Date.parse(firstJoin.ts as string));
    expect(Date.parse(will.ts!)).to.be.at.least(Date.parse(message.ts!));
    expect(will).to.include({ room, mine: true, trust: 'you' });
    expect(message).to.include({ room, mine: false });
  });

  it('marks, in words, a will that came before the join line', async function () {
    const { room, password } = await bobsRoom();
    const { lines } = await rerun(room, password, `${bin('listen')} ${room} --timeout 2`);
    const text = lines.filter((l) => /^[\d: -]+ /.test(l));
    expect(text[0]).to.match(/-- User bob timed out\. \(before you joined\)$/);
    expect(text[1]).to.match(/ alice .*: sent while bob was away$/);
    expect(text[2]).to.match(/-- User bob is now subscribed to /);
    expect(text.slice(3).filter((l) => !/-- User bob disconnecting from /.test(l))).to.deep.equal(
      [],
    );
  });
});
