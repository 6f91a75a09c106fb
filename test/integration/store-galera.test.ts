// The registry on a real 3-node MariaDB Galera cluster (multi-primary: every node takes writes,
// and a lock taken on one node holds there only): first use from all nodes at the same moment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { openStore, type HistoryRow, type RoomStore } from '../../src/db/index.js';
import { MIGRATIONS, SCHEMA_TABLE } from '../../src/db/schema.js';
import { newKdfParams } from '../../src/protocol/index.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { requireGalera, startGalera, type GaleraCluster } from '../helpers/galera.js';

describe('registry on a 3-node Galera cluster', function () {
  this.timeout(120_000);
  let cluster: GaleraCluster | undefined;
  let broker: TestBroker | undefined;
  let dir: string | undefined;
  let database = 0;

  before(async function () {
    requireGalera(this);
    cluster = await startGalera(3);
    broker = await startAedes();
    dir = mkdtempSync(join(tmpdir(), 'sunoye-galera-use-'));
  });
  after(async function () {
    await broker?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh registry's URL on each node (the database does not exist yet). */
  const freshRegistry = (): string[] => {
    database += 1;
    return cluster!.urls.map((url) => `${url}/sunoye_first_use_${database}`);
  };

  /** Each node's own view of the registry: its rooms and recorded schema versions. */
  async function views(urls: string[]): Promise<{ rooms: string[]; versions: number[] }[]> {
    return Promise.all(
      urls.map(async (uri) => {
        const conn = await mysql.createConnection({ uri });
        try {
          // A node answers once it has applied what the others committed before.
          await conn.query('SET SESSION wsrep_sync_wait = 1');
          const [rooms] = await conn.query('SELECT number FROM rooms ORDER BY number');
          const [versions] = await conn.query(
            `SELECT version FROM ${SCHEMA_TABLE} ORDER BY version`,
          );
          return {
            rooms: (rooms as { number: string }[]).map((r) => r.number),
            versions: (versions as { version: number }[]).map((v) => Number(v.version)),
          };
        } finally {
          await conn.end();
        }
      }),
    );
  }

  it('gives 24 stores opening a fresh registry at once, 8 on each node, 48 distinct rooms', async function () {
    const urls = freshRegistry();
    const stores: RoomStore[] = [];
    try {
      const opened = await Promise.allSettled(
        Array.from({ length: 24 }, async (_, i) => {
          const store = await openStore(urls[i % urls.length]!);
          stores.push(store);
          return Promise.all(
            [1, 2].map(() =>
              store.createRoom({
                creator: `user${i}`,
                mode: 'plain',
                idleSeconds: 600,
                kdf: newKdfParams({ N: 1024, r: 8, p: 1 }),
                verifier: () => Buffer.alloc(32, i),
              }),
            ),
          );
        }),
      );
      const failures = opened.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
      expect(failures).to.deep.equal([]);
      const made = opened.flatMap((o) => (o.status === 'fulfilled' ? o.value : []));
      const numbers = made.map((r) => r.number).sort();
      expect(new Set(numbers).size).to.equal(48);
      const expected = { rooms: numbers, versions: MIGRATIONS.map((m) => m.version) };
      expect(await views(urls)).to.deep.equal([expected, expected, expected]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('keeps the exact member count under 60 joins and leaves at once through the three nodes', async function () {
    const urls = freshRegistry();
    const stores = await Promise.all(urls.map((url) => openStore(url)));
    try {
      const { number } = await stores[0]!.createRoom({
        creator: 'alice',
        mode: 'plain',
        idleSeconds: 600,
        kdf: newKdfParams({ N: 1024, r: 8, p: 1 }),
        verifier: () => Buffer.alloc(32),
      });
      const on = (i: number): RoomStore => stores[i % stores.length]!;
      const first = await Promise.all(
        Array.from({ length: 30 }, (_, i) => on(i).addMember(number, `m${i}`, 600)),
      );
      // Conflicting writes to one room from three primaries: some fail certification, and are
      // run again.
      await Promise.all([
        ...first.slice(0, 15).map((m, i) => on(i + 1).removeMember(m.id)),
        ...Array.from({ length: 15 }, (_, i) => on(i + 2).addMember(number, `n${i}`, 600)),
      ]);
      for (const store of stores) {
        const status = await store.status(number);
        expect(status?.members).to.have.length(30);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('finds a room, and its members, through one node the moment another made them', async function () {
    const urls = freshRegistry();
    const stores = await Promise.all(urls.map((url) => openStore(url)));
    try {
      for (let i = 0; i < 100; i++) {
        const maker = stores[i % 3]!;
        const reader = stores[(i + 1) % 3]!;
        const { number } = await maker.createRoom({
          creator: 'alice',
          mode: 'plain',
          idleSeconds: 600,
          kdf: newKdfParams({ N: 1024, r: 8, p: 1 }),
          verifier: () => Buffer.alloc(32),
        });
        const member = await reader.addMember(number, 'bob', 600);
        const seen = await maker.status(number);
        expect(seen?.members.map((m) => m.id)).to.deep.equal([member.id]);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('runs 12 `room create` at once on a fresh registry, 4 through each node: all exit 0 with distinct rooms', async function () {
    const urls = freshRegistry();
    const runs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        runProgram('room', ['create', '--json'], {
          env: {
            HOME: dir!,
            SUNOYE_HOME: join(dir!, `home-${database}-${i}`),
            SUNOYE_DB: urls[i % urls.length]!,
            SUNOYE_BROKER: broker!.url,
            SUNOYE_NAME: `user${i}`,
            SUNOYE_PASSWORD: 'correct horse battery',
          },
          timeoutMs: 60_000,
        }),
      ),
    );
    for (const run of runs) expect(run.code, run.stderr).to.equal(0);
    const rooms = runs.map((run) => (JSON.parse(run.stdout) as { room: string }).room).sort();
    expect(new Set(rooms).size).to.equal(12);
    const expected = { rooms, versions: MIGRATIONS.map((m) => m.version) };
    expect(await views(urls)).to.deep.equal([expected, expected, expected]);
  });

  // Last: it kills a node of the cluster the tests above share.
  it('keeps every acknowledged history append, once, when the node in use is killed mid-way', async function () {
    const name = 'sunoye_history_failover';
    const list = `mysql://root@${cluster!.hosts.join(',')}/${name}?timeout=20`;
    const store = await openStore(list);
    const signer = randomBytes(32);
    const acknowledged: HistoryRow[] = [];
    const failed: HistoryRow[][] = [];
    let killing: Promise<void> | undefined;
    try {
      const { number } = await store.createRoom({
        creator: 'alice',
        mode: 'encrypted',
        idleSeconds: 600,
        kdf: newKdfParams({ N: 1024, r: 8, p: 1 }),
        verifier: () => Buffer.alloc(32),
        history: { seconds: 3600, bytes: 64 * 2 ** 20 },
      });
      // 60 batches of 10 rows from one sender; node 1 (the store's first, so the one in use)
      // dies as in a crash after the 20th, while the next ones are being written.
      let seq = 0;
      for (let batch = 0; batch < 60; batch++) {
        const rows = Array.from({ length: 10 }, () => {
          const row = {
            signer,
            sender: 'writer',
            firstSeq: seq,
            lastSeq: seq,
            payload: randomBytes(1024),
          };
          seq += 1;
          return row;
        });
        if (batch === 20) killing = cluster!.kill(0);
        try {
          await store.appendHistory(number, rows);
          acknowledged.push(...rows);
        } catch (err) {
          // Not acknowledged: a sender keeps such a batch and writes it again later.
          failed.push(rows);
          process.stderr.write(`    (batch ${batch} failed: ${(err as Error).message})\n`);
        }
      }
      await killing;
      // The batches that failed, written again: those that did commit store nothing twice.
      for (const rows of failed) {
        await store.appendHistory(number, rows);
        acknowledged.push(...rows);
      }
      expect(acknowledged).to.have.length(600);
      for (const url of cluster!.urls.slice(1)) {
        const node = await openStore(`${url}/${name}`);
        try {
          const read = await node.readHistory(number, { maxRows: 10_000, maxBytes: 64 * 2 ** 20 });
          const seqs = read.map((r) => r.firstSeq).sort((a, b) => a - b);
          expect(seqs, url).to.deep.equal(Array.from({ length: 600 }, (_, i) => i));
          const sent = new Map(acknowledged.map((r) => [r.firstSeq, r.payload]));
          for (const row of read)
            expect(row.payload.equals(sent.get(row.firstSeq)!)).to.equal(true);
          expect(await node.historyStats(number)).to.include({ rows: 600, bytes: 600 * 1024 });
        } finally {
          await node.close();
        }
      }
    } finally {
      await killing?.catch(() => undefined);
      await store.close();
    }
  });
});
