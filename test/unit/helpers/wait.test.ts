// The suite's own waiting: a wait on a program's output ends when the program does, at once and
// saying why, instead of waiting out its timeout for output that can no longer come.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startProgram, stopAll, type RunningProgram } from '../../helpers/programs.js';
import { waitFor } from '../../helpers/wait.js';

describe('waiting on a program', function () {
  this.timeout(20_000);
  let dir: string;
  let env: Record<string, string>;
  const running: RunningProgram[] = [];

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-wait-'));
    env = { HOME: dir, SUNOYE_HOME: join(dir, 'home'), SUNOYE_DB: `sqlite:${join(dir, 'r.db')}` };
  });
  afterEach(async function () {
    await stopAll(running);
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fails within a second, with the exit code and stderr, when the program exits first', async function () {
    const listener = startProgram('listen', ['--no-such-option'], env);
    running.push(listener);
    const started = Date.now();
    const failure = await listener
      .line('the join notice', (l) => l.includes('"event":"join"'))
      .then(
        () => undefined,
        (err: Error) => err,
      );
    expect(Date.now() - started).to.be.below(1000);
    expect(failure?.message).to.match(
      /^listen exited \(code 2\) while waiting for the join notice; its stderr ended:\n.*--no-such-option/s,
    );
  });

  it('fails at once in a plain waitFor given the program, not at its timeout', async function () {
    const listener = startProgram('listen', ['--no-such-option'], env);
    running.push(listener);
    const started = Date.now();
    const failure = await waitFor('ten lines', () => listener.stdoutLines.length >= 10, {
      timeoutMs: 15_000,
      program: listener,
    }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(Date.now() - started).to.be.below(1000);
    expect(failure?.message).to.match(/^listen exited \(code 2\) while waiting for ten lines;/);
  });

  it('still finds what the program printed just before it exited', async function () {
    const room = startProgram('room', ['--help'], env);
    running.push(room);
    await room.exited;
    const line = await room.line('the usage line', (l) => l.startsWith('room <command>'));
    expect(line).to.equal('room <command> [options]');
  });

  it('keeps waiting while the check says null, as a regular expression that has not matched yet does', async function () {
    let text = '';
    setTimeout(() => (text = 'warning: found 3 lines\n'), 200);
    const started = Date.now();
    const found = await waitFor('the warning', () => /found (\d+) lines\n/.exec(text), 5000);
    expect(Date.now() - started).to.be.at.least(150);
    expect(found[1]).to.equal('3');
  });
});
