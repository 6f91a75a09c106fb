// `npm run bench:history`: the room history in the registry, measured through the library's own
// store on a SQLite file and on MySQL/MariaDB (BENCH_MYSQL_URL, default mysql://root@127.0.0.1:3306,
// in a database it creates and drops). Reports appendHistory throughput (rows/s) for batches of 1
// and of 100 rows of 1 KiB, one writer; then, on a room holding --rows rows (default 200,000),
// the time of a pruning step with nothing to prune, with expired rows, and over the size cap, and
// of readHistory (last 50, since, stream) and historyStats. Last, on MariaDB, --writers (default
// 50) writers at once, each a store of its own writing one-row transactions into a room of its own
// for --seconds (default 10): what many rooms of typed lines cost the registry together.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { openStore, type HistoryRow, type RoomStore } from '../src/db/index.js';
import { newKdfParams } from '../src/protocol/index.js';
import { TestClock } from '../test/helpers/clock.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const ROWS = arg('rows', 200_000);
const WRITERS = arg('writers', 50);
const SECONDS = arg('seconds', 10);
const APPENDS = arg('appends', 2000);
const SERVER = (process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/$/, '');
const GiB = 2 ** 30;

const newRoom = (bytes: number) => ({
  creator: 'bench',
  mode: 'encrypted' as const,
  idleSeconds: 30 * 24 * 3600,
  kdf: newKdfParams({ N: 1024, r: 8, p: 1 }),
  verifier: () => Buffer.alloc(32),
  history: { seconds: 24 * 3600, bytes },
});

/** Rows of 1 KiB from `senders` streams, numbered on from `from`. */
function rows(count: number, from: number, senders = 10): HistoryRow[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const sender = n % senders;
    return {
      signer: Buffer.alloc(32, sender + 1),
      sender: `sender${sender}`,
      firstSeq: Math.floor(n / senders),
      lastSeq: Math.floor(n / senders),
      payload: randomBytes(1024),
    };
  });
}

async function ms(fn: () => Promise<unknown>, runs = 5): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return `${times[Math.floor(times.length / 2)]!.toFixed(1)} ms`;
}

async function bench(label: string, url: string): Promise<void> {
  const clock = new TestClock();
  const store: RoomStore = await openStore(url, { clock });
  try {
    for (const batch of [1, 100]) {
      const { number } = await store.createRoom(newRoom(4 * GiB));
      const total = batch === 1 ? APPENDS : APPENDS * 10;
      const started = performance.now();
      for (let n = 0; n < total; n += batch) await store.appendHistory(number, rows(batch, n));
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `${label}: appendHistory, batches of ${batch} x 1 KiB: ${Math.round(total / seconds)} rows/s`,
      );
    }

    const { number } = await store.createRoom(newRoom(4 * GiB));
    const filled = performance.now();
    for (let n = 0; n < ROWS; n += 1000) await store.appendHistory(number, rows(1000, n));
    console.log(
      `${label}: ${ROWS} rows filled in ${((performance.now() - filled) / 1000).toFixed(1)} s`,
    );
    console.log(
      `${label}: pruneHistory(100), nothing to prune: ${await ms(() => store.pruneHistory(number, 100))}`,
    );
    console.log(`${label}: historyStats: ${await ms(() => store.historyStats(number))}`);
    const bounds = { maxRows: 500, maxBytes: 4 * 2 ** 20 };
    console.log(
      `${label}: readHistory last 50: ${await ms(() => store.readHistory(number, { ...bounds, last: 50 }))}`,
    );
    const newest = (await store.readHistory(number, { ...bounds, last: 1 }))[0]!.sentAt.getTime();
    console.log(
      `${label}: readHistory since (500 rows, 500 KiB): ${await ms(() => store.readHistory(number, { ...bounds, sinceMs: newest - 1 }))}`,
    );
    console.log(
      `${label}: readHistory stream, 20 seq numbers: ${await ms(() =>
        store.readHistory(number, {
          ...bounds,
          stream: { signer: Buffer.alloc(32, 4), sender: 'sender3', fromSeq: 9000, toSeq: 9019 },
        }),
      )}`,
    );
    // Over the cap: the room's cap lowered behind the store's back is what an altered record
    // would be; instead a second room of the same size with a 64 MiB cap.
    const capped = await store.createRoom(newRoom(64 * 2 ** 20));
    for (let n = 0; n < ROWS; n += 1000) await store.appendHistory(capped.number, rows(1000, n));
    console.log(
      `${label}: pruneHistory(100), over the size cap: ${await ms(() => store.pruneHistory(capped.number, 100))}`,
    );
    clock.advance(25 * 3600 * 1000);
    console.log(
      `${label}: pruneHistory(100), expired rows: ${await ms(() => store.pruneHistory(number, 100))}`,
    );
  } finally {
    await store.close();
  }
}

/**
 * `WRITERS` stores appending one 400-byte row a transaction, each into its own room, for
 * `SECONDS`: the registry's rate of single-row commits from many programs at once (group commit).
 */
async function concurrentWriters(label: string, url: string): Promise<void> {
  const stores = await Promise.all(
    Array.from({ length: WRITERS }, () => openStore(url, { create: true })),
  );
  try {
    const rooms = await Promise.all(stores.map((s) => s.createRoom(newRoom(4 * GiB))));
    const signer = randomBytes(32);
    const payload = randomBytes(400);
    let written = 0;
    const until = performance.now() + SECONDS * 1000;
    const started = performance.now();
    await Promise.all(
      stores.map(async (store, i) => {
        for (let seq = 1; performance.now() < until; seq++) {
          await store.appendHistory(rooms[i]!.number, [
            { signer, sender: `w${i}`, firstSeq: seq, lastSeq: seq, payload },
          ]);
          written += 1;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${label}: ${WRITERS} writers at once, one 400 B row a transaction: ${Math.round(written / seconds)} rows/s in all`,
    );
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}

/** What MariaDB's room_history takes on disk per row beyond its payload (data and indexes). */
async function tableSize(label: string, database: string): Promise<void> {
  const db = await mysql.createConnection({ uri: `${SERVER}/${database}`, connectTimeout: 3000 });
  try {
    await db.query('ANALYZE TABLE room_history');
    const [[size]] = (await db.query(
      `SELECT data_length + index_length AS disk FROM information_schema.tables
        WHERE table_schema = DATABASE() AND table_name = 'room_history'`,
    )) as unknown as [{ disk: number }[]];
    const [[rows]] = (await db.query(
      'SELECT COUNT(*) AS n, SUM(bytes) AS payload FROM room_history',
    )) as unknown as [{ n: number; payload: number }[]];
    const n = Number(rows!.n);
    const overhead = (Number(size!.disk) - Number(rows!.payload)) / n;
    console.log(
      `${label}: room_history: ${n} rows, ${(Number(size!.disk) / 1e6).toFixed(1)} MB on disk, ${Math.round(overhead)} B a row beyond its payload`,
    );
  } finally {
    await db.end();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'sunoye-bench-history-'));
try {
  await bench('SQLite', `sqlite:${join(dir, 'registry.db')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const name = `sunoye_history_${randomBytes(4).toString('hex')}`;
try {
  await bench('MariaDB', `${SERVER}/${name}`);
  await tableSize('MariaDB', name);
  await concurrentWriters('MariaDB', `${SERVER}/${name}`);
} finally {
  const admin = await mysql.createConnection({ uri: SERVER, connectTimeout: 3000 });
  await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
  await admin.end();
}
