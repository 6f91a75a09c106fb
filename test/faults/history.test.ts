// Fault drills on the room history: the registry goes away (cut) or stops answering (blackholed)
// in the middle of a pipe into a room that keeps history. Every line still reaches the listener,
// publish exits 0 at its usual speed, and says how many lines were not kept in the history; the
// history holds the others, each once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadIdentity } from '../../src/home/identity.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import {
  byStream,
  createHistoryRoom,
  DAY_OF_HISTORY,
  openAll,
  readAllHistory,
} from '../helpers/history.js';
import {
  requireMysql,
  scratchDatabase,
  MYSQL_TEST_URL,
  type ScratchDatabase,
} from '../helpers/mysql.js';
import {
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { startProxy, type CuttableProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait.js';

const LINES = 2000;

describe('fault drills: the registry under a pipe into a room that keeps history', function () {
  this.timeout(120_000);
  let dir: string;
  let broker: TestBroker;
  let db: ScratchDatabase;
  let proxy: CuttableProxy;
  const running: RunningProgram[] = [];

  before(async function () {
    await requireMysql(this);
    dir = mkdtempSync(join(tmpdir(), 'sunoye-history-faults-'));
    broker = await startAedes();
    db = await scratchDatabase();
    const server = new URL(MYSQL_TEST_URL);
    proxy = await startProxy(server.hostname, Number(server.port || 3306));
  });
  afterEach(async function () {
    await stopAll(running);
    await proxy?.restore();
  });
  after(async function () {
    await proxy?.close();
    await broker?.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const fault of ['cut', 'blackholed'] as const) {
    it(`delivers every line, exits 0 and says how many lines were not kept when the registry is ${fault}`, async function () {
      const { room, password, codec } = await createHistoryRoom(db.url, DAY_OF_HISTORY);
      const env = (name: string, dbUrl: string) => ({
        HOME: dir,
        SUNOYE_HOME: join(dir, `home-${name}`),
        SUNOYE_NAME: name,
        SUNOYE_DB: dbUrl,
        SUNOYE_BROKER: broker.url,
        SUNOYE_PASSWORD: password,
      });
      // The listener's registry stays up; the publisher's is behind the proxy.
      const proxied = new URL(db.url);
      proxied.port = String(proxy.port);
      const bob = await joinedListener(
        room,
        ['--count', String(LINES)],
        env('bob', db.url),
        running,
      );
      const alice = startProgram('publish', [room], env('alice', proxied.toString()));
      running.push(alice);
      const lines = Array.from({ length: LINES }, (_, i) => `line ${i + 1} of the pipe`);
      const half = LINES / 2;
      alice.child.stdin.write(`${lines.slice(0, half).join('\n')}\n`);
      await bob.line('the first half', (l) => l.includes(`"message":"line ${half} of the pipe"`));
      // The first half is in the history before the registry goes.
      const aliceKey = () => loadIdentity(join(dir, 'home-alice')).signer.publicKey;
      await waitFor('the first rows kept', async () =>
        (await readAllHistory(db.url, room)).some((r) => r.signer.equals(aliceKey())),
      );
      if (fault === 'cut') await proxy.cut();
      else proxy.blackhole();
      const endedAt = Date.now();
      alice.child.stdin.end(`${lines.slice(half).join('\n')}\n`);
      // The pipe goes at its own speed: the registry is not on the sending path.
      await bob.line('the last line', (l) => l.includes(`"message":"line ${LINES} of the pipe"`));
      expect(Date.now() - endedAt).to.be.below(2000);
      expect(await alice.exited, alice.stderr()).to.equal(0);
      // The way out waits for the history a bounded time only: 2 s, then the registry's own
      // timeout (5 s) for a statement it sent.
      expect(Date.now() - endedAt).to.be.below(9000);
      expect(await bob.exited, bob.stderr()).to.equal(0);
      const heard = jsonLines(bob.stdoutLines).filter((m) => m.type === 'message');
      expect(heard.map((m) => m.message)).to.deep.equal(lines);

      const said =
        /(\d+) lines?(?: and \d+ notices?)? \(of (\d+) sent\) (?:was|were) not kept in room (\d+)'s history: (.+)/.exec(
          alice.stderr(),
        );
      expect(said, alice.stderr()).not.to.equal(null);
      const notKept = Number(said![1]);
      expect(Number(said![2])).to.equal(LINES);
      expect(said![3]).to.equal(room);
      expect(notKept).to.be.above(0);
      expect(alice.stderr()).not.to.include(password);

      // What was kept opens, each line once; with what was said to be missing, it is every line.
      await proxy.restore();
      const streams = byStream(openAll(codec, await readAllHistory(db.url, room)));
      const mine = [...streams.entries()].filter(([s]) =>
        s.startsWith(`${aliceKey().toString('base64url')}/`),
      );
      expect(mine).to.have.length(1);
      const kept = mine[0]![1].flatMap((r) => r.payloads).filter((p) => p.type === 'message');
      const seqs = kept.map((p) => p.seq!);
      expect(new Set(seqs).size).to.equal(seqs.length);
      expect(kept.length + notKept).to.be.at.least(LINES);
      expect(kept.length).to.be.at.least(1).and.below(LINES);
      for (const p of kept) expect(p.type === 'message' && p.message).to.equal(lines[p.seq! - 1]);
    });
  }
});
