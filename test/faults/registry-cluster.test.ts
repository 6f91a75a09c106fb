// Fault drills on a registry cluster (three MariaDB Galera nodes, every one taking writes), given
// to sunoye as one URL listing the three: the node a running listener uses dies, and the
// listener stays a member, renewing its lease through the others.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { brokerEnv, startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { requireGalera, startGalera, type GaleraCluster } from '../helpers/galera.js';
import { createRoom, joinedListener, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

/** How long the listener must stay a member after its node dies (the 25 s). */
const AFTER_DEATH_MS = 25_000;
/**
 * The listener's lease, renewed every 5 s. Longer than the cluster's own stall: Galera holds
 * commits for about 5 s (evs.suspect_timeout) until it declares a crashed node gone, so a renewal
 * in that window may fail and the next one, through a live node, must make up for it. Without
 * renewals after the death the lease lapses within 15 s, inside the 25 s watched.
 */
const LEASE_SECONDS = 15;

describe('fault drills: a registry cluster', function () {
  this.timeout(150_000);
  let cluster: GaleraCluster | undefined;
  let broker: TestBroker | undefined;
  let dir: string | undefined;
  const running: RunningProgram[] = [];

  before(async function () {
    requireGalera(this);
    cluster = await startGalera(3);
    broker = await startAedes();
    dir = mkdtempSync(join(tmpdir(), 'sunoye-registry-cluster-'));
  });
  after(async function () {
    await stopAll(running);
    await broker?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The live members of `room` as node `index` sees them (after applying what others wrote), and
   * the latest renewal of any of them (epoch ms, 0 when none).
   */
  async function liveMembers(index: number, room: string): Promise<[number, number]> {
    const conn = await mysql.createConnection({ uri: `${cluster!.urls[index]}/sunoye_failover` });
    try {
      await conn.query('SET SESSION wsrep_sync_wait = 1');
      const [rows] = await conn.query(
        'SELECT COUNT(*) AS n, COALESCE(MAX(heartbeat_at), 0) AS renewed FROM members WHERE room = ? AND heartbeat_at + lease_ms > CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)',
        [room],
      );
      const row = (rows as { n: number; renewed: number }[])[0]!;
      return [Number(row.n), Number(row.renewed)];
    } finally {
      await conn.end();
    }
  }

  it('keeps a listener a member for 25 s after its database node is killed', async function () {
    const list = `mysql://root@${cluster!.hosts.join(',')}/sunoye_failover`;
    const env = {
      HOME: dir!,
      SUNOYE_HOME: join(dir!, 'home'),
      SUNOYE_DB: list,
      SUNOYE_LEASE: String(LEASE_SECONDS),
      ...brokerEnv(broker!),
    };
    const room = await createRoom(env);
    const listener = await joinedListener(room, [], env, running);
    await waitFor('the listener to be a member through node 3', async () =>
      (await liveMembers(2, room))[0] === 1 ? true : undefined,
    );

    // The listener's connections are to node 1, the first of the list: it dies as in a crash.
    await cluster!.kill(0);
    const killedAt = Date.now();
    let checks = 0;
    let renewed = 0;
    // Asked again and again through node 3, which answers once the cluster has moved on: a lease
    // that lapsed for want of renewals through the live nodes would show as 0 members.
    for (;;) {
      const [members, latest] = await liveMembers(2, room);
      expect(
        members,
        `members through node 3, ${Date.now() - killedAt} ms after the kill`,
      ).to.equal(1);
      renewed = latest;
      checks += 1;
      if (Date.now() >= killedAt + AFTER_DEATH_MS) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(checks).to.be.greaterThan(20);
    // Renewed well after the death, through another node (clocks: the nodes share this machine's).
    expect(renewed - killedAt).to.be.greaterThan(AFTER_DEATH_MS - (2 * (LEASE_SECONDS * 1000)) / 3);

    // What a user sees, through node 2: one member; and the chat goes on (publish finds the
    // room through the list).
    const nodeTwo = { ...env, SUNOYE_DB: `${cluster!.urls[1]}/sunoye_failover` };
    const info = await runProgram('room', ['info', room, '--json'], { env: nodeTwo });
    expect(info.code, info.stderr).to.equal(0);
    expect((JSON.parse(info.stdout) as { members: number }).members).to.equal(1);
    const sent = await runProgram('publish', [room, '-m', 'after the node died'], { env });
    expect(sent.code, sent.stderr).to.equal(0);
    await listener.line('the message sent after the node died', (l) =>
      l.includes('after the node died'),
    );
    // A renewal caught in the cluster's stall may have failed: if so, the listener said so and
    // then that presence was renewed again.
    const stderr = listener.stderr();
    if (/cannot renew presence/.test(stderr))
      expect(stderr, stderr).to.match(/database reachable again: presence renewed/);
  });

  it('says the cluster lost its majority (exit 4) when only one node of three is left', async function () {
    // Node 1 may be dead already (above); node 2 goes too, and node 3 alone is not a primary
    // component: it refuses every statement (1047) until more than half of the cluster is back.
    await cluster!.kill(0);
    await cluster!.kill(1);
    await waitFor('node 3 to leave the primary component', async () => {
      const conn = await mysql.createConnection({ uri: cluster!.urls[2] });
      try {
        const [rows] = await conn.query("SHOW STATUS LIKE 'wsrep_cluster_status'");
        return (rows as { Value: string }[])[0]?.Value === 'non-Primary';
      } finally {
        await conn.end();
      }
    });
    const env = {
      HOME: dir!,
      SUNOYE_HOME: join(dir!, 'home'),
      SUNOYE_DB: `mysql://root@${cluster!.hosts.join(',')}/sunoye_failover?timeout=10`,
      ...brokerEnv(broker!),
    };
    const info = await runProgram('room', ['info', '123456'], { env });
    expect(info.code, info.stderr).to.equal(4);
    expect(info.stderr).to.not.match(/unexpected error/);
    expect(info.stderr).to.match(/more than half of the cluster must be running/);
  });
});
