// `npm run bench:registry-size`: what a MySQL/MariaDB registry
// holds and takes at scale, measured through the library's own store, in a database it creates and
// drops. Fills --rooms rooms (default 20,000) and --members live members (default 100,000, spread
// evenly over the rooms), then reports InnoDB's bytes per table and per row, lease renewals per
// second with --writers renewals in flight at once (default 10, as many listeners renewing), and
// how many server connections one registry client (one `listen`) holds. MySQL at
// BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306).
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { openStore, type RoomStore } from '../src/db/index.js';
import { deriveRoomSecret, newKdfParams, verifier } from '../src/protocol/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const ROOMS = arg('rooms', 20_000);
const MEMBERS = arg('members', 100_000);
const WRITERS = arg('writers', 10);
const RENEWALS = arg('renewals', 20_000);
const CLIENTS = arg('clients', 20);
const SERVER = (process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/$/, '');
const name = `sunoye_size_${randomBytes(4).toString('hex')}`;

/** Runs `count` calls of `fn`, `WRITERS` at a time; returns each call's milliseconds. */
async function inParallel(count: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await fn(i);
        times.push(performance.now() - t);
      }
    }),
  );
  return times;
}

const admin = await mysql.createConnection({ uri: SERVER, connectTimeout: 3000 });
const threads = async (): Promise<number> => {
  const [rows] = await admin.query("SHOW GLOBAL STATUS LIKE 'Threads_connected'");
  return Number((rows as { Value: string }[])[0]!.Value);
};
const store: RoomStore = await openStore(`${SERVER}/${name}`);
try {
  const kdf = newKdfParams();
  const secret = await deriveRoomSecret('correct horse battery staple', kdf);
  const started = performance.now();
  const numbers: string[] = [];
  await inParallel(ROOMS, async () => {
    const room = await store.createRoom({
      creator: 'creator',
      mode: 'encrypted',
      idleSeconds: 3600,
      kdf,
      verifier: (n) => verifier(secret, n, 'encrypted'),
      // A three-node cluster's list, as rooms made on one record it.
      broker: 'mqtt://n1.example:1883,mqtt://n2.example:1883,mqtt://n3.example:1883',
    });
    numbers.push(room.number);
  });
  const ids: string[] = [];
  const joins = await inParallel(MEMBERS, async (i) => {
    const member = await store.addMember(numbers[i % numbers.length]!, `member${i}`, 90);
    ids.push(member.id);
  });
  const fillSeconds = (performance.now() - started) / 1000;

  const renewStart = performance.now();
  const renewals = await inParallel(RENEWALS, (i) => store.heartbeat(ids[i % ids.length]!));
  const renewSeconds = (performance.now() - renewStart) / 1000;

  // Connections one client holds: CLIENTS stores, each joined and renewed once, as listeners do.
  const before = await threads();
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, () => openStore(`${SERVER}/${name}`)),
  );
  await Promise.all(
    clients.map(async (c, i) => {
      const m = await c.addMember(numbers[i]!, `client${i}`, 90);
      await c.heartbeat(m.id);
    }),
  );
  const perClient = ((await threads()) - before) / CLIENTS;
  await Promise.all(clients.map((c) => c.close()));

  await admin.query(`ANALYZE TABLE ${mysql.escapeId(name)}.rooms, ${mysql.escapeId(name)}.members`);
  const [tables] = await admin.query(
    'SELECT TABLE_NAME AS t, TABLE_ROWS AS n, DATA_LENGTH AS data, INDEX_LENGTH AS idx FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
    [name],
  );
  const [version] = await admin.query('SELECT VERSION() AS v');
  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
  const q = (xs: number[], p: number): number =>
    Number(sorted(xs)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(2));
  const size = (tables as { t: string; n: number; data: number; idx: number }[])
    .filter((r) => r.t === 'rooms' || r.t === 'members')
    .map((r) => {
      const rows = r.t === 'rooms' ? ROOMS : MEMBERS;
      return {
        table: r.t,
        rows,
        dataBytes: Number(r.data),
        indexBytes: Number(r.idx),
        bytesPerRow: Math.round((Number(r.data) + Number(r.idx)) / rows),
      };
    });
  const result = {
    server: (version as { v: string }[])[0]!.v,
    rooms: ROOMS,
    members: MEMBERS,
    writers: WRITERS,
    fillSeconds: Number(fillSeconds.toFixed(1)),
    joinMs: { p50: q(joins, 0.5), p99: q(joins, 0.99) },
    size,
    renewals: {
      count: RENEWALS,
      perSecond: Math.round(RENEWALS / renewSeconds),
      p50: q(renewals, 0.5),
      p99: q(renewals, 0.99),
    },
    serverConnectionsPerClient: perClient,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await store.close();
  await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
  await admin.end();
}
