// Fault drills on the registry: the database goes away under a running listener and comes back;
// it stops answering (blackholed) under a running listener; every member of a room crashes and
// the room closes after its idle timeout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  requireMysql,
  scratchDatabase,
  MYSQL_TEST_URL,
  type ScratchDatabase,
} from '../helpers/mysql.js';
import {
  createRoom,
  startProgram,
  jsonLines,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { startProxy, type CuttableProxy } from '../helpers/proxy.js';
import { elapse, waitFor } from '../helpers/wait.js';

describe('fault drills: the registry', function () {
  this.timeout(90_000);
  let dir: string;
  let broker: TestBroker;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-faults-'));
    broker = await startAedes();
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('the database going away while listening', function () {
    let db: ScratchDatabase;
    let proxy: CuttableProxy;

    before(async function () {
      await requireMysql(this);
      db = await scratchDatabase();
      const server = new URL(MYSQL_TEST_URL);
      proxy = await startProxy(server.hostname, Number(server.port || 3306));
    });
    after(async function () {
      await proxy?.close();
      await db?.drop();
    });

    it('keeps the chat going with one warning, and renews presence when it is back', async function () {
      const url = new URL(db.url);
      url.port = String(proxy.port);
      const env = {
        HOME: dir,
        SUNOYE_DB: url.toString(),
        SUNOYE_BROKER: broker.url,
        SUNOYE_KEEPALIVE: '3',
        SUNOYE_LEASE: '3',
      };
      const room = await createRoom({ ...env, SUNOYE_NAME: 'alice' });
      const bob = startProgram('listen', [room, '--json'], {
        ...env,
        SUNOYE_NAME: 'bob',
      });
      const alice = startProgram('publish', [room], { ...env, SUNOYE_NAME: 'alice' });
      try {
        await bob.line('the join notice', (l) => l.includes('"event":"join"'));
        alice.child.stdin.write('before the outage\n');
        await bob.line('the first message', (l) => l.includes('before the outage'));

        await proxy.cut();
        await waitFor(
          'a warning about presence',
          () => bob.stderr().includes('cannot renew presence in the database'),
          { timeoutMs: 20_000, program: bob },
        );
        alice.child.stdin.write('during the outage\n');
        await bob.line('a message during the outage', (l) => l.includes('during the outage'));

        await proxy.restore();
        await waitFor('presence renewed', () => bob.stderr().includes('database reachable again'), {
          timeoutMs: 20_000,
          program: bob,
        });
        const info = await runProgram('room', ['info', room, '--json'], { env });
        expect(JSON.parse(info.stdout)).to.include({ state: 'open', members: 1 });
        const warnings = bob
          .stderr()
          .split('\n')
          .filter((l) => l.startsWith('warning: cannot renew presence'));
        expect(warnings).to.have.length(1);

        alice.child.stdin.end('after the outage\n');
        expect(await alice.exited, alice.stderr()).to.equal(0);
        await bob.line('the last message', (l) => l.includes('after the outage'));
        const messages = jsonLines(bob.stdoutLines)
          .filter((m) => m.type === 'message')
          .map((m) => m.message);
        expect(messages).to.deep.equal([
          'before the outage',
          'during the outage',
          'after the outage',
        ]);
      } finally {
        for (const p of [bob, alice]) if (p.child.exitCode === null) p.child.kill('SIGKILL');
        await Promise.all([bob.exited, alice.exited]);
      }
    });
  });

  describe('the database stops answering while listening', function () {
    let db: ScratchDatabase;
    let proxy: CuttableProxy;
    let env: Record<string, string>;

    before(async function () {
      await requireMysql(this);
      db = await scratchDatabase();
      const server = new URL(MYSQL_TEST_URL);
      proxy = await startProxy(server.hostname, Number(server.port || 3306));
      const url = new URL(db.url);
      url.port = String(proxy.port);
      // A 3 s lease: renewed every second, each renewal allowed a third of the lease, so the
      // warning comes within two thirds of it, a second before the lease ends.
      env = {
        HOME: dir,
        SUNOYE_DB: url.toString(),
        SUNOYE_BROKER: broker.url,
        SUNOYE_KEEPALIVE: '1',
        SUNOYE_LEASE: '3',
      };
    });
    afterEach(async function () {
      await proxy?.restore();
    });
    after(async function () {
      await proxy?.close();
      await db?.drop();
    });

    /** A listener in a fresh room, joined, with the database then blackholed; when it started. */
    async function blackholedListener(): Promise<{ bob: RunningProgram; blackholedAt: number }> {
      const room = await createRoom({ ...env, SUNOYE_NAME: 'alice' });
      const bob = startProgram('listen', [room, '--json'], { ...env, SUNOYE_NAME: 'bob' });
      await bob.line('the join notice', (l) => l.includes('"event":"join"'));
      proxy.blackhole();
      return { bob, blackholedAt: Date.now() };
    }

    const warned = (bob: RunningProgram): boolean =>
      bob.stderr().includes('cannot renew presence in the database');

    it('warns within the lease', async function () {
      const { bob, blackholedAt } = await blackholedListener();
      try {
        const after = await waitFor(
          'a warning',
          () => warned(bob) && Date.now() - blackholedAt,
          10_000,
          10,
        );
        process.stderr.write(`      (warned ${after} ms after the database stopped answering)\n`);
        // Before the lease ends, that is before the others are told bob is gone.
        expect(after).to.be.below(3000);
        expect(bob.stderr()).to.match(/cannot reach the database .*: no answer within 1 s/);
      } finally {
        await stopAll([bob]);
      }
    });

    it('ends on Ctrl-C within 2 s', async function () {
      const { bob } = await blackholedListener();
      try {
        await waitFor('a warning', () => warned(bob), 10_000, 10);
        const interruptedAt = Date.now();
        bob.child.kill('SIGINT');
        const code = await Promise.race([bob.exited, elapse(10_000).then(() => 'hung')]);
        const took = Date.now() - interruptedAt;
        process.stderr.write(`      (ended ${took} ms after SIGINT, exit ${String(code)})\n`);
        expect(code).to.equal(0);
        expect(took).to.be.below(2000);
      } finally {
        await stopAll([bob]);
      }
    });
  });

  it('closes a room whose members all crashed once its idle timeout has passed', async function () {
    const env = {
      HOME: dir,
      SUNOYE_DB: `sqlite:${join(dir, 'crash.db')}`,
      SUNOYE_BROKER: broker.url,
      SUNOYE_KEEPALIVE: '1',
      SUNOYE_LEASE: '1',
    };
    const room = await createRoom(env, ['--idle', '2']);
    const listeners = ['bob', 'carol'].map((name) =>
      startProgram('listen', [room], { ...env, SUNOYE_NAME: name }),
    );
    await Promise.all(
      listeners.map((l) => l.line('joined', (line) => line.includes('is now subscribed'))),
    );
    expect(
      JSON.parse((await runProgram('room', ['info', room, '--json'], { env })).stdout),
    ).to.include({ members: 2 });
    const killedAt = Date.now();
    for (const l of listeners) l.child.kill('SIGKILL');
    await Promise.all(listeners.map((l) => l.exited));
    // A room closes when a command reads it past its deadline: when each `room info` that
    // still found it open was started, after the crash.
    const openAt: number[] = [];
    const closed = await waitFor(
      'the room to close',
      async () => {
        const startedAt = Date.now() - killedAt;
        const info = JSON.parse(
          (await runProgram('room', ['info', room, '--json'], { env })).stdout,
        ) as { state: string; closedAt: string };
        if (info.state !== 'closed') openAt.push(startedAt);
        return info.state === 'closed' && info;
      },
      20_000,
      250,
    );
    // Closed no earlier than lease (1 s) + idle timeout (2 s) after the crash (the last
    // heartbeat may be a third of the lease before it)...
    expect(Date.parse(closed.closedAt) - killedAt).to.be.at.least(2500);
    // ...and by 4 s: the last heartbeat was before the crash, so the deadline is at most 3 s
    // after it, and a command started after 4 s finds the room closed, however slow it is to
    // start (a later read only finds it more surely past its deadline). Measured from the crash
    // to the start of each read, so a loaded machine cannot make this fail.
    expect(
      openAt.filter((t) => t >= 4000),
      `reads that found it open (ms after the crash)`,
    ).to.deep.equal([]);
  });
});
