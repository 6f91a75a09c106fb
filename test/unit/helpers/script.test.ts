// The `script` terminal of the tests: what is typed at a password prompt there is a password
// given to the program, which the secret check must then look for in every output.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { secretsGiven } from '../../helpers/cli.js';
import { stopAll } from '../../helpers/programs.js';
import { startInScript, type ScriptTerminal } from '../../helpers/script.js';
import { waitFor } from '../../helpers/wait.js';

describe('a command run under script', function () {
  this.timeout(20_000);
  let dir: string;
  const terminals: ScriptTerminal[] = [];

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-script-'));
  });
  afterEach(() => stopAll(terminals));
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('notes a password typed at a password prompt as a secret, and a line typed elsewhere not', async function () {
    // The prompt as the programs print it (src/room/room-access.ts), the password read unechoed.
    const terminal = startInScript(
      "echo 'name?'; read -r name; printf 'Password for room 123456: '; stty -echo; read -r pw; stty echo; echo done",
      { HOME: dir },
    );
    terminals.push(terminal);
    await waitFor('the first question', () => terminal.output().includes('name?'), {
      program: terminal,
    });
    terminal.type('plain-typed-name\n');
    await waitFor('the password prompt', () => terminal.output().endsWith('123456: '), {
      program: terminal,
    });
    terminal.type('typed-at-the-prompt\n');
    expect(await terminal.exited, terminal.output()).to.equal(0);
    expect(terminal.output()).to.match(/done\r\n$/);
    expect(secretsGiven.has('typed-at-the-prompt')).to.equal(true);
    expect(secretsGiven.has('plain-typed-name')).to.equal(false);
  });
});
