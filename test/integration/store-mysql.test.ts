// The room-store contract on MySQL/MariaDB, in a database created for the run and dropped after;
// and the store against a server that stops answering.
import { expect } from 'chai';
import { openStore, type RoomStore } from '../../src/db/index.js';
import { ExitCode, SunoyeError } from '../../src/errors.js';
import { newKdfParams } from '../../src/protocol/index.js';
import { requireMysql, scratchDatabase, MYSQL_TEST_URL } from '../helpers/mysql.js';
import { startProxy } from '../helpers/proxy.js';
import { roomStoreContract, type StoreFixture } from './store-contract.js';

/**
 * A registry in a scratch database of its own: left for sunoye to create, or (`empty`) created
 * with no tables, as an older sunoye's would be before its schema is written into it.
 */
async function mysqlFixture(empty = false): Promise<StoreFixture> {
  const db = await scratchDatabase();
  if (empty) await db.create();
  return {
    url: db.url,
    raw: (sql, params) => db.query(sql, params),
    another: () => mysqlFixture(true),
    cleanup: () => db.drop(),
  };
}

roomStoreContract('mysql', async (ctx) => {
  await requireMysql(ctx);
  return mysqlFixture();
});

describe('MySQL store: a server that stops answering', function () {
  it('fails each call within the timeout, reuses no stuck connection, and closes at once', async function () {
    await requireMysql(this);
    const db = await scratchDatabase();
    const server = new URL(MYSQL_TEST_URL);
    const proxy = await startProxy(server.hostname, Number(server.port || 3306));
    let store: RoomStore | undefined;
    try {
      const url = new URL(db.url);
      url.port = String(proxy.port);
      url.searchParams.set('timeout', '1');
      store = await openStore(url.toString());
      const { number } = await store.createRoom({
        creator: 'alice',
        mode: 'plain',
        idleSeconds: 600,
        kdf: newKdfParams({ N: 1024, r: 8, p: 1 }),
        verifier: () => Buffer.alloc(32),
      });
      const member = await store.addMember(number, 'bob', 30);

      proxy.blackhole();
      const timed = async (call: Promise<unknown>): Promise<number> => {
        const started = Date.now();
        const err = await call.then(
          () => new Error('expected a failure'),
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(SunoyeError);
        expect((err as SunoyeError).exitCode).to.equal(ExitCode.unavailable);
        expect((err as Error).message, (err as Error).message).to.match(/no answer within 1 s/);
        return Date.now() - started;
      };
      // Twice each: the second would wait behind the first if its connection were reused.
      for (const call of [
        () => store!.status(number),
        () => store!.status(number),
        () => store!.heartbeat(member.id),
        () => store!.heartbeat(member.id),
      ]) {
        // The whole 1 s timeout, and not two of them (waiting behind the first call).
        const took = await timed(call());
        expect(took).to.be.at.least(900);
        expect(took).to.be.below(2000);
      }

      await proxy.restore();
      expect((await store.status(number))?.members.map((m) => m.name)).to.deep.equal(['bob']);
      expect(await store.heartbeat(member.id)).to.equal(true);

      proxy.blackhole();
      const closing = Date.now();
      await store.close();
      store = undefined;
      expect(Date.now() - closing).to.be.below(1000);
    } finally {
      await store?.close();
      await proxy.close();
      await db.drop();
    }
  });
});

describe('MySQL store: a list of servers', function () {
  const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
  const newRoom = (store: RoomStore) =>
    store.createRoom({
      creator: 'alice',
      mode: 'plain',
      idleSeconds: 600,
      kdf,
      verifier: () => Buffer.alloc(32),
    });

  /** Two proxies to the test server, as two nodes of one cluster, and the URL listing both. */
  async function twoNodes(db: { name: string }, timeout: number) {
    const server = new URL(MYSQL_TEST_URL);
    const nodes = await Promise.all(
      [0, 1].map(() => startProxy(server.hostname, Number(server.port || 3306))),
    );
    const hosts = nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
    return { nodes, url: `mysql://root@${hosts}/${db.name}?timeout=${timeout}` };
  }

  it('goes on through the next node when the first dies, and reports when all are gone', async function () {
    await requireMysql(this);
    const db = await scratchDatabase();
    const { nodes, url } = await twoNodes(db, 2);
    let store: RoomStore | undefined;
    try {
      store = await openStore(url);
      const { number } = await newRoom(store);
      const member = await store.addMember(number, 'bob', 30);

      await nodes[0]!.cut();
      const started = Date.now();
      expect(await store.heartbeat(member.id)).to.equal(true);
      expect((await store.status(number))?.members.map((m) => m.name)).to.deep.equal(['bob']);
      // Both calls together in less than the 2 s timeout: neither waited on the dead node.
      expect(Date.now() - started).to.be.below(2000);

      await nodes[1]!.cut();
      const err = await store.status(number).then(
        () => new Error('expected a failure'),
        (e: unknown) => e as Error,
      );
      expect(err).to.be.instanceOf(SunoyeError);
      expect((err as SunoyeError).exitCode).to.equal(ExitCode.unavailable);
      expect(err.message).to.include(`mysql://***@127.0.0.1:${nodes[0]!.port},127.0.0.1:`);
    } finally {
      await store?.close();
      for (const node of nodes) await node.close();
      await db.drop();
    }
  });

  it('opens through the second node within the timeout when the first never answers', async function () {
    await requireMysql(this);
    const db = await scratchDatabase();
    const { nodes, url } = await twoNodes(db, 2);
    let store: RoomStore | undefined;
    try {
      await db.create(); // a registry in use (a fresh one opens three pools, each paying again)
      nodes[0]!.blackhole();
      const started = Date.now();
      store = await openStore(url);
      const { number } = await newRoom(store);
      expect((await store.status(number))?.room.number).to.equal(number);
      // The silent node had its share of the 2 s timeout (1 s) to accept, no more.
      expect(Date.now() - started).to.be.within(900, 2000);
    } finally {
      await store?.close();
      for (const node of nodes) await node.close();
      await db.drop();
    }
  });

  it('passes over a node that goes silent under pooled connections after one call times out', async function () {
    await requireMysql(this);
    const db = await scratchDatabase();
    const { nodes, url } = await twoNodes(db, 2);
    let store: RoomStore | undefined;
    try {
      store = await openStore(url);
      const { number } = await newRoom(store);
      const member = await store.addMember(number, 'bob', 30);
      // Four calls at once leave four idle connections to node 1 in its pool.
      await Promise.all([1, 2, 3, 4].map(() => store!.status(number)));

      nodes[0]!.blackhole();
      const started = Date.now();
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++)
        outcomes.push(
          await store.heartbeat(member.id).then(
            (renewed) => String(renewed),
            () => 'failed',
          ),
        );
      const took = Date.now() - started;
      // The first call waits out the silence (2 s); the rest go to node 2 after node 1's share
      // of a fresh connect (1 s). Before, each pooled connection to node 1 cost a failed call of
      // 2 s of its own: four failures in 8 s.
      expect(outcomes, `${took} ms`).to.deep.equal(['failed', 'true', 'true', 'true']);
      expect(took).to.be.below(4000);
    } finally {
      await store?.close();
      for (const node of nodes) await node.close();
      await db.drop();
    }
  });

  it('uses a node again as soon as it is back when every node had failed', async function () {
    await requireMysql(this);
    const db = await scratchDatabase();
    const { nodes, url } = await twoNodes(db, 2);
    let store: RoomStore | undefined;
    try {
      store = await openStore(url);
      const { number } = await newRoom(store);
      const member = await store.addMember(number, 'bob', 30);
      // A short break on the way to both nodes (the client's own network, say): one call fails.
      for (const node of nodes) await node.cut();
      await store.heartbeat(member.id).then(
        () => expect.fail('a call with every node gone succeeded'),
        () => undefined,
      );
      for (const node of nodes) await node.restore();
      // Both are back: a call, or a listener leaving the room, must not fail for 10 s more
      // because each node was passed over (with one server in the URL, it would not).
      const started = Date.now();
      const renewed = await store.heartbeat(member.id).catch((err: Error) => err.message);
      expect(renewed, `${Date.now() - started} ms after both nodes came back`).to.equal(true);
      await store.removeMember(member.id);
      expect((await store.status(number))?.members).to.deep.equal([]);
    } finally {
      await store?.close();
      for (const node of nodes) await node.close();
      await db.drop();
    }
  });
});
