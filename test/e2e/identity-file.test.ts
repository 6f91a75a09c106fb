// The identity file holds the private key every message is signed with: it is made readable by
// its owner only, and one that other users can read is refused by every program that signs, with
// the advice docs/security.md gives ("a file other users can read is refused"), never used.
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { ownAccount, runProgram } from '../helpers/cli.js';
import { createRoom } from '../helpers/programs.js';

describe('an identity file other users can read', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  let env: Record<string, string>;
  let identity: string;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-identity-'));
    broker = await startAedes();
    env = ownAccount(dir, 'alice', {
      SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
      SUNOYE_BROKER: broker.url,
    });
    identity = join(dir, 'alice', 'config', 'sunoye', 'identity.json');
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const whoami = async () => {
    const run = await runProgram('room', ['whoami', '--json'], { env });
    return { ...run, key: run.code === 0 ? (JSON.parse(run.stdout) as { key: string }).key : '' };
  };
  const refusal = (program: string) =>
    `${program}: ${identity} can be read by other users; run \`chmod 600 ${identity}\` ` +
    '(and consider making a new identity)\n';

  it('is made 0600, and refused with exit 1 and the chmod advice once others can read it', async function () {
    const made = await whoami();
    expect(made.code, made.stderr).to.equal(0);
    expect(statSync(identity).mode & 0o777).to.equal(0o600);
    const room = await createRoom(env);

    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(identity, mode);
      const what = `mode ${mode.toString(8)}`;
      const shown = await runProgram('room', ['whoami', '--json'], { env });
      expect(shown.code, `${what}: ${shown.stderr}`).to.equal(1);
      expect(shown.stderr, what).to.equal(refusal('room'));
      expect(shown.stdout, what).to.equal('');
      const sent = await runProgram('publish', [room, '-m', 'signed with a leaked key'], { env });
      expect(sent.code, `${what}: ${sent.stderr}`).to.equal(1);
      expect(sent.stderr, what).to.equal(refusal('publish'));
    }

    // Private again, the same identity is used: the refusal never replaced the key.
    chmodSync(identity, 0o600);
    const again = await whoami();
    expect(again.code, again.stderr).to.equal(0);
    expect(again.key).to.equal(made.key);
  });
});
