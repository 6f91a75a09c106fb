// `npm run demo` on a machine with no broker and no database configured.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

describe('the demo', function () {
  this.timeout(60_000);
  it('shows a whole conversation with nothing installed or configured, and exits 0', async function () {
    const script = fileURLToPath(new URL('../../scripts/demo.js', import.meta.url));
    const child = spawn(process.execPath, [script], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: '/nonexistent-home',
        SUNOYE_BROKER: 'mqtt://127.0.0.1:1',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code, stderr).to.equal(0);
    expect(stdout).to.match(
      /bob's terminal \| \d\d:\d\d:\d\d -- User bob is now subscribed to sunoye\/room\/\d{6} \./,
    );
    expect(stdout).to.include("bob's terminal | ");
    expect(stdout).to.match(
      /alice( \[key [0-9a-f-]{19}, first seen\])?: Hello from the sunoye demo\./,
    );
    expect(stdout).to.match(/members: 1 \(bob( \[key [0-9a-f-]{19}\])?\)/);
    expect(stdout).to.include('sent 4 messages');
    expect(stdout).to.match(/Closed room \d{6}\./);
    expect(stdout).to.not.include('\u001b[');
  });
});
