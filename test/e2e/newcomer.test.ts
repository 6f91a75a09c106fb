// What a newcomer trips over (issue 12), each reproduced with the built programs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  createRoom,
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';

describe('what a newcomer trips over', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  const running: RunningProgram[] = [];
  const user = (name: string) => ({
    HOME: dir,
    SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
    SUNOYE_BROKER: broker.url,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, 'home'),
  });

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-newcomer-'));
    broker = await startAedes();
  });
  afterEach(() => stopAll(running));
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('`listen R | head -1`: a closed output is a quiet exit 0 and a normal leave', async function () {
    const room = await createRoom(user('alice'));
    const observer = await joinedListener(room, [], user('alice'), running);
    const carol = startProgram('listen', [room], user('carol'));
    running.push(carol);
    await carol.line('the join notice', (l) => l.includes('User carol is now subscribed'));
    carol.child.stdout.destroy(); // what `head -1` does once it has its line
    // Enough to fill the pipe's buffer, so the listener also holds its subscription back.
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(60)}`);
    const sent = await runProgram('publish', [room], {
      env: user('alice'),
      input: `${lines.join('\n')}\n`,
    });
    expect(sent.code, sent.stderr).to.equal(0);
    expect(await carol.exited).to.equal(0);
    expect(carol.stderr()).to.equal('');
    // Anything the broker sent for carol's going (a last will) comes before this line.
    await runProgram('publish', [room, '-m', 'after carol'], { env: user('alice') });
    await observer.line('the line after', (l) => l.includes('after carol'), 30_000);
    const events = jsonLines(observer.stdoutLines)
      .filter((m) => m.from === 'carol')
      .map((m) => m.event);
    expect(events).to.deep.equal(['join', 'leave']);
  });
});
