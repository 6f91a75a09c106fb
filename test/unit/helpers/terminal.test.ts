// The tmux terminal's waits: a wait on the screen of a program that has exited fails at once,
// saying so, instead of waiting out its timeout for output that can no longer come.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { openShellTerminal, requireTmux, type Terminal } from '../../helpers/terminal.js';

describe('waiting on a terminal', function () {
  this.timeout(30_000);
  let dir: string;
  const terminals: Terminal[] = [];
  // A program that prints, lives a moment and exits with a code of its own (one that ends the
  // instant the pane opens may leave nothing on tmux's screen).
  const shortLived = (code: number): Promise<Terminal> =>
    openShellTerminal(`sleep 0.5; echo gone soon; sleep 0.5; exit ${code}`, { HOME: dir });

  before(async function () {
    await requireTmux(this, 'the terminal wait tests');
    dir = mkdtempSync(join(tmpdir(), 'sunoye-terminal-wait-'));
  });
  afterEach(async function () {
    for (const t of terminals.splice(0)) await t.close();
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fails well before its timeout, with the exit code, when the program exits first', async function () {
    const terminal = await shortLived(3);
    terminals.push(terminal);
    const started = Date.now();
    const failure = await terminal
      .waitFor('a line that never comes', (lines) => lines.includes('never'), {
        timeoutMs: 20_000,
      })
      .then(
        () => undefined,
        (err: Error) => err,
      );
    // It exits a second in; a fifth of the timeout: ample for noticing the exit on a loaded machine, far from waiting it out.
    expect(Date.now() - started).to.be.below(5000);
    expect(failure?.message).to.match(
      /^sleep \(in the terminal\) exited \(code 3\) while waiting for a line that never comes;.*--- the screen:\n/s,
    );
  });

  it('still sees what the program printed before it exited', async function () {
    const terminal = await shortLived(1);
    terminals.push(terminal);
    await terminal.exited();
    // In the history: tmux's "Pane is dead" line may have scrolled it off the screen.
    const lines = await terminal.waitFor('its last words', (l) => l.includes('gone soon'), {
      history: true,
    });
    expect(lines).to.include('gone soon');
    expect(await terminal.exited()).to.equal(1);
  });
});
