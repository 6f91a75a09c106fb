// What presence costs the registry: a listener's lease is its own setting (90 s by default,
// renewed every third of it), not the MQTT keepalive; a crash is still told within the keepalive.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { createRoom, joinedListener, stopAll, type RunningProgram } from '../helpers/programs.js';
import { elapse, waitFor } from '../helpers/wait.js';

describe('presence cost', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  let env: Record<string, string>;
  const running: RunningProgram[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-lease-'));
    broker = await startAedes();
    env = {
      HOME: dir,
      SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
      SUNOYE_BROKER: broker.url,
      SUNOYE_PASSWORD: 'correct horse battery',
    };
  });
  afterEach(async function () {
    await stopAll(running);
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const user = (name: string, extra: Record<string, string> = {}) => ({
    ...env,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, `home-${name}`),
    ...extra,
  });

  /** Each member's lease and last renewal, as the registry has them. */
  function members(room: string): Map<string, { leaseMs: number; heartbeatAt: number }> {
    const db = new Database(join(dir, 'registry.db'), { readonly: true, timeout: 5000 });
    try {
      const rows = db
        .prepare('SELECT name, lease_ms, heartbeat_at FROM members WHERE room = ?')
        .all(room) as { name: string; lease_ms: number; heartbeat_at: number }[];
      return new Map(
        rows.map((r) => [r.name, { leaseMs: r.lease_ms, heartbeatAt: r.heartbeat_at }]),
      );
    } finally {
      db.close();
    }
  }

  it('holds a 90 s lease by default, not renewed within 3 s of a 1 s keepalive; a crash is told within the keepalive', async function () {
    const fast = { SUNOYE_KEEPALIVE: '1' };
    const room = await createRoom(user('alice'));
    const bob = await joinedListener(room, [], user('bob', fast), running);
    const carol = await joinedListener(room, [], user('carol', fast), running);
    const before = members(room);
    expect(before.get('bob')?.leaseMs).to.equal(90_000);
    expect(before.get('carol')?.leaseMs).to.equal(90_000);

    // With the lease following the keepalive, bob would have renewed nine times by now.
    await elapse(3000);
    expect(members(room).get('bob')?.heartbeatAt).to.equal(before.get('bob')?.heartbeatAt);

    const killedAt = Date.now();
    carol.child.kill('SIGKILL');
    await bob.line(
      'a lost notice for carol',
      (l) => l.includes('"event":"lost"') && l.includes('"from":"carol"'),
      10_000,
    );
    expect(Date.now() - killedAt).to.be.below(5000);
  });

  it('takes --lease S (over SUNOYE_LEASE) and renews every third of it', async function () {
    const room = await createRoom(user('alice'));
    await joinedListener(room, ['--lease', '3'], user('dave', { SUNOYE_LEASE: '600' }), running);
    const first = members(room).get('dave');
    expect(first?.leaseMs).to.equal(3000);
    const renewed = await waitFor(
      'a renewal',
      () => {
        const now = members(room).get('dave');
        return now !== undefined && now.heartbeatAt > first!.heartbeatAt && now;
      },
      3000,
    );
    expect(renewed.heartbeatAt - first!.heartbeatAt).to.be.within(700, 1500);
  });

  it('refuses a lease that is not whole seconds from 1 to 3600 (exit 2)', async function () {
    for (const lease of ['0', '1.5', '3601']) {
      const run = await runProgram('listen', ['123456', '--lease', lease], { env: user('erin') });
      expect(run.code, run.stderr).to.equal(2);
      expect(run.stderr).to.match(/the lease must be a whole number of seconds from 1 to 3600/);
    }
  });
});
