// `npm run demo` on a machine with no broker and no database configured.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { testEnv } from '../helpers/cli.js';

describe('the demo', function () {
  this.timeout(60_000);
  it('shows a two-way conversation in room windows with nothing installed or configured, and exits 0', async function () {
    const script = fileURLToPath(new URL('../../scripts/demo.js', import.meta.url));
    const child = spawn(process.execPath, [script], {
      env: testEnv({ HOME: '/nonexistent-home', SUNOYE_BROKER: 'mqtt://127.0.0.1:1' }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code, stderr).to.equal(0);
    // Two room windows talking both ways, each line shown once in each window.
    expect(stdout).to.match(/bob's window +\| \d\d:\d\d:\d\d -- bob joined \(you\)/);
    // bob's window opens with the room's history: alice joined before him, her key seen first there.
    // (The two windows' lines interleave in the demo's output: bob's are taken alone.)
    const bobs = stdout
      .split('\n')
      .filter((line) => /^ *bob's window +\| /.test(line))
      .join('\n');
    expect(bobs).to.match(
      /bob's window +\| \d\d:\d\d:\d\d \(earlier\) -- alice joined \[key [0-9a-f-]{19}, first seen\]\n.*bob's window +\| ── earlier messages above ──\n/,
    );
    expect(stdout).to.match(/bob's window +\| \d\d:\d\d:\d\d alice: Hi bob!/);
    // alice's window had no history to show: no divider.
    expect(stdout).to.not.match(/alice's window +\| ── earlier/);
    expect(stdout).to.match(/alice's window +\| \d\d:\d\d:\d\d bob: Hi alice\./);
    expect(stdout.match(/alice's window +\| .*bob: Hi alice\./g)).to.have.length(1);
    expect(bobs).to.match(
      /bob's window +\| in room \d{6} \(2\):\n.*bob's window +\| {3}joined [\d:]+ {2}alice \[key [0-9a-f-]{19}\]\n.*bob's window +\| {3}joined [\d:]+ {2}bob \(you\) \[key [0-9a-f-]{19}\]\n/,
    );
    expect(stdout).to.match(
      /members: 2\n.* {2}joined [\d:]+ {2}alice (\(you\) )?\[key [0-9a-f-]{19}(, not seen yet)?\]\n.* {2}joined [\d:]+ {2}bob \[key/,
    );
    // A pipe into the room shows in the windows; closing the room ends them.
    expect(stdout).to.match(/bob's window +\| .*alice: deploy finished/);
    expect(stdout).to.include('sent 3 messages');
    expect(stdout).to.match(/bob's window +\| .* -- room \d{6} closed by alice/);
    expect(stdout).to.match(/Closed room \d{6}\./);
    expect(stdout).to.not.include('\u001b[');
  });
});
