// Conventions people bring from mosquitto_sub and ntfy (issue 12, 2.8): `listen --timeout`,
// `listen --json` naming the room and whether a line is yours, `room list` without closed rooms,
// and times with their date when they are not today.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { alterRoomRecord } from '../helpers/registries.js';
import {
  createRoom,
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { elapse } from '../helpers/wait.js';

describe('conventions from mosquitto_sub and friends', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  const running: RunningProgram[] = [];
  const user = (name: string): Record<string, string> => ({
    HOME: dir,
    SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
    SUNOYE_BROKER: broker.url,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, 'home'),
  });

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-conventions-'));
    broker = await startAedes();
  });
  afterEach(() => stopAll(running));
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('`listen --timeout S` leaves normally, exit 0, after S seconds without a chat message', async function () {
    const room = await createRoom(user('alice'));
    const observer = await joinedListener(room, [], user('alice'), running);
    const bob = await joinedListener(room, ['--timeout', '3'], user('bob'), running);
    const joined = Date.now();
    // A message within the S seconds starts the wait again.
    await elapse(1000);
    const sent = await runProgram('publish', [room, '-m', 'still here?'], { env: user('alice') });
    expect(sent.code, sent.stderr).to.equal(0);
    await bob.line('the message', (l) => l.includes('still here?'));
    const shownAt = Date.now();
    expect(await bob.exited, bob.stderr()).to.equal(0);
    const exitedAt = Date.now();
    expect(bob.stderr()).to.equal('no message for 3 s\n');
    expect(exitedAt - shownAt).to.be.at.least(2500);
    expect(exitedAt - joined).to.be.at.least(3900);
    // A normal leave: the room hears bob's goodbye, never that he timed out.
    await observer.line('bob leaving', (l) => l.includes('"event":"leave"') && l.includes('bob'));
    await runProgram('publish', [room, '-m', 'after bob'], { env: user('alice') });
    await observer.line('the line after', (l) => l.includes('after bob'));
    const bobs = jsonLines(observer.stdoutLines).filter((m) => m.from === 'bob');
    expect(bobs.map((m) => m.event)).to.deep.equal(['join', 'leave']);
  });

  it('refuses a --timeout that is not a number of seconds above 0', async function () {
    for (const value of ['0', '-1', 'soon']) {
      const run = await runProgram('listen', ['482913', '--timeout', value], {
        env: user('bob'),
      });
      expect(run.code, value).to.equal(2);
      expect(run.stderr).to.match(/^listen: --timeout must be a number of seconds above 0/);
    }
  });

  it('refuses a switch given twice (exit 2), as any other option, and does nothing', async function () {
    const cases: ['room' | 'listen' | 'publish', string[], string][] = [
      ['room', ['create', '--json', '--json'], '--json'],
      ['room', ['create', '--plain', '--json', '--plain=true'], '--plain'],
      ['room', ['list', '--all', '--json', '--all'], '--all'],
      ['listen', ['--topic', 't', '--plain', '--plain'], '--plain'],
      ['publish', ['--topic', 't', '--plain', '--json', '--json=false', '-m', 'hi'], '--json'],
    ];
    for (const [program, args, flag] of cases) {
      const run = await runProgram(program, args, { env: user('alice') });
      expect(run.code, `${program} ${args.join(' ')}`).to.equal(2);
      expect(run.stderr).to.equal(`${program}: ${flag} was given twice; give it once\n`);
      expect(run.stdout).to.equal('');
    }
  });

  it('`listen --json` names the room (or the topic) and says which lines are yours', async function () {
    const created = await runProgram('room', ['create', '--json'], { env: user('bob') });
    const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };
    const bob = await joinedListener(room, ['--count', '2'], user('bob'), running);
    await runProgram('publish', [room, '-m', 'mine'], { env: user('bob') });
    // Another member, with a key of her own.
    const alice = { ...user('alice'), SUNOYE_HOME: join(dir, 'alice'), SUNOYE_PASSWORD: password };
    const theirs = await runProgram('publish', [room, '-m', 'theirs'], { env: alice });
    expect(theirs.code, theirs.stderr).to.equal(0);
    expect(await bob.exited, bob.stderr()).to.equal(0);
    const lines = jsonLines(bob.stdoutLines);
    expect(lines.every((m) => m.room === room)).to.equal(true);
    expect(
      lines.filter((m) => m.type === 'message').map((m) => [m.from, m.message, m.mine]),
    ).to.deep.equal([
      ['bob', 'mine', true],
      ['alice', 'theirs', false],
    ]);
    expect(lines.find((m) => m.event === 'join')).to.include({ from: 'bob', mine: true });

    // A raw topic names the topic; plain lines are unsigned, never yours.
    const topic = `chat/conventions-${process.pid}`;
    const raw = startProgram('listen', ['--topic', topic, '--plain', '--json', '--count', '1'], {
      ...user('bob'),
    });
    running.push(raw);
    await raw.line('the join notice', (l) => l.includes('"event":"join"'));
    await runProgram('publish', ['--topic', topic, '--plain', '-m', 'raw'], { env: user('bob') });
    expect(await raw.exited, raw.stderr()).to.equal(0);
    const rawLines = jsonLines(raw.stdoutLines);
    expect(rawLines.every((m) => m.room === topic && m.mine === false)).to.equal(true);
    expect(rawLines.map((m) => m.message ?? m.event)).to.deep.equal(['join', 'raw']);
  });

  it('`room list` leaves closed rooms out unless --all', async function () {
    const home = { ...user('dave'), SUNOYE_HOME: join(dir, 'dave') };
    const open = await createRoom(home);
    const closed = await createRoom(home);
    expect((await runProgram('room', ['close', closed], { env: home })).code).to.equal(0);
    const list = await runProgram('room', ['list'], { env: home });
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.include(open).and.not.include(closed);
    expect(list.stderr).to.equal('1 closed room not shown: `room list --all` lists it.\n');
    const all = await runProgram('room', ['list', '--all'], { env: home });
    expect(all.stdout)
      .to.include(open)
      .and.match(new RegExp(`^${closed} +closed `, 'm'));
    expect(all.stderr).to.equal('');
    const rooms = (args: string[]) =>
      runProgram('room', ['list', '--json', ...args], { env: home }).then((r) =>
        (JSON.parse(r.stdout) as { room: string }[]).map((x) => x.room),
      );
    expect(await rooms([])).to.deep.equal([open]);
    expect((await rooms(['--all'])).sort()).to.deep.equal([open, closed].sort());
    // Only closed rooms: the list says so rather than nothing.
    expect((await runProgram('room', ['close', open], { env: home })).code).to.equal(0);
    const none = await runProgram('room', ['list'], { env: home });
    expect(none.stdout).to.equal('');
    expect(none.stderr).to.equal(
      'No open rooms remembered. 2 closed rooms not shown: `room list --all` lists them.\n',
    );
  });

  it('`room info` shows times on the clock, with the date when it is not today', async function () {
    const room = await createRoom(user('erin'));
    const today = await runProgram('room', ['info', room], { env: user('erin') });
    expect(today.stdout).to.match(/^created by erin at \d\d:\d\d:\d\d on \S+; closes after /m);
    const lastWeek = Date.now() - 7 * 86_400_000;
    alterRoomRecord(join(dir, 'registry.db'), room, { created_at: lastWeek });
    const close = await runProgram('room', ['close', room], { env: user('erin') });
    expect(close.code, close.stderr).to.equal(0);
    const info = await runProgram('room', ['info', room], { env: user('erin') });
    expect(info.stdout).to.match(
      /^created by erin at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d on \S+, closed at \d\d:\d\d:\d\d$/m,
    );
  });
});
