// A listener whose reader cannot keep up (a pipe nobody reads for a while, `listen | less`) stops
// taking messages from the broker instead of holding them all in memory, and loses none.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { mosquittoFixture, type MosquittoFixture } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  createRoom,
  joinedListener,
  jsonLines,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';

const LINES = 300_000;

function peakMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

describe('a listener with a slow reader', function () {
  this.timeout(120_000);
  let fixture: MosquittoFixture | undefined;
  let env: Record<string, string>;
  const running: RunningProgram[] = [];

  before(async function () {
    fixture = await mosquittoFixture(this, 'sunoye-slow-');
    ({ env } = fixture);
  });
  after(async function () {
    await stopAll(running);
    await fixture?.stop();
  });

  it('leaves the backlog with the broker and prints all of it once read', async function () {
    const room = await createRoom(env);
    const listener = await joinedListener(room, [], env, running);
    // The listener's own peak so far, joined and idle: what this Node needs anyway.
    const baseline = peakMb(listener.child.pid!);

    // Nobody reads the listener's output while 300,000 lines (about 60 MB of JSON) are sent.
    listener.child.stdout.pause();
    const lines = Array.from({ length: LINES }, (_, i) => `${i + 1} the quick brown fox`);
    const sent = await runProgram('publish', [room], {
      env,
      input: `${lines.join('\n')}\n`,
      timeoutMs: 60_000,
    });
    expect(sent.code, sent.stderr).to.equal(0);
    // All of it sent while nobody read.
    const whilePaused = peakMb(listener.child.pid!);
    listener.child.stdout.resume();
    const last = `"message":"${LINES} the quick brown fox"`;
    await listener.line('the last line', (l) => l.includes(last), 60_000);

    const caughtUp = peakMb(listener.child.pid!);
    // The backlog's size as printed (about 60 MB of JSON): held in memory, it would add at least
    // that much while nobody read. The listener is bounded instead: what it grew by while paused is
    // a fraction of it, and catching up (printing as fast as it can: the peak then is V8's garbage,
    // about 80 MB on Node 20 and 95-120 MB on Node 24) adds less than one and a half backlogs.
    const backlogMb = Buffer.byteLength(listener.stdoutLines.join('\n')) / 1024 / 1024;
    expect(backlogMb).to.be.above(50);
    expect(whilePaused - baseline, `${baseline} MB idle, ${whilePaused} MB paused`).to.be.below(
      backlogMb / 2,
    );
    expect(caughtUp - baseline, `${baseline} MB idle, ${caughtUp} MB caught up`).to.be.below(
      backlogMb * 1.5,
    );
    const got = jsonLines(listener.stdoutLines).filter((m) => m.type === 'message');
    expect(got.length).to.equal(LINES);
    expect(got.every((m, i) => m.message === lines[i])).to.equal(true);
    expect(listener.stderr()).to.equal(''); // no gap, no lost connection
  });
});
