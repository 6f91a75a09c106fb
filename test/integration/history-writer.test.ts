// The history writer against real registries: its queue is bounded (a registry that stops
// answering costs counted, reported lines, never memory nor the sender's time), and a long pipe
// keeps the room within its size cap as it goes, pruning as much as it writes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { openStore, type RoomStore } from '../../src/db/index.js';
import { Sender } from '../../src/conversation/sender.js';
import { SEAL_ROWS, vouchedRows } from '../../src/history/seal.js';
import { HistoryWriter } from '../../src/history/writer.js';
import { newSigner, roomCodec, type ChatPayload, type Signer } from '../../src/protocol/index.js';
import { createHistoryRoom } from '../helpers/history.js';
import {
  MYSQL_TEST_URL,
  requireMysql,
  scratchDatabase,
  type ScratchDatabase,
} from '../helpers/mysql.js';
import { startProxy, type CuttableProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait.js';

/** `count` sealed messages of `lines` lines of ~1 KiB each, as a sender would publish them. */
function messages(
  room: string,
  count: number,
  lines: number,
): { payload: string; payloads: ChatPayload[]; signer: Signer }[] {
  const signer = newSigner();
  const codec = roomCodec(room, 'encrypted', Buffer.alloc(32, 1), signer);
  const sender = new Sender('alice');
  return Array.from({ length: count }, (_, i) => {
    const payloads = Array.from({ length: lines }, (_, j) =>
      sender.message(`${i}.${j} ${'x'.repeat(1000)}`),
    );
    const payload = lines === 1 ? codec.encode(payloads[0]!) : codec.encodeBatch(payloads);
    return { payload, payloads, signer };
  });
}

describe('the history writer', function () {
  this.timeout(60_000);

  describe('with a registry that stops answering', function () {
    let db: ScratchDatabase;
    let proxy: CuttableProxy;
    let store: RoomStore | undefined;

    before(async function () {
      await requireMysql(this);
      db = await scratchDatabase();
      const server = new URL(MYSQL_TEST_URL);
      proxy = await startProxy(server.hostname, Number(server.port || 3306));
    });
    after(async function () {
      await store?.close().catch(() => undefined);
      await proxy?.close();
      await db?.drop();
    });

    it('keeps at most its bound waiting, counts and reports what it drops, and never holds up the sender', async function () {
      const { room } = await createHistoryRoom(db.url, {
        seconds: 3600,
        bytes: 64 * 1024 * 1024,
      });
      const proxied = new URL(db.url);
      proxied.port = String(proxy.port);
      proxied.searchParams.set('timeout', '2');
      store = await openStore(proxied.toString(), { create: false });
      const warnings: string[] = [];
      const sent = messages(room, 600, 1);
      const writer = new HistoryWriter(store, room, sent[0]!.signer, (m) => warnings.push(m), {
        queueBytes: 256 * 1024,
        collectMs: 300,
        warnEveryMs: 60_000,
      });
      // Written while the registry answers.
      for (const m of sent.slice(0, 100)) writer.acked(m.payload, m.payloads);
      await waitFor('the first rows written', () => writer.waiting === 0);
      proxy.blackhole();
      // 500 more, about 750 KiB sealed: three times what may wait. Taken at once, whatever the
      // registry does.
      const t0 = performance.now();
      for (const m of sent.slice(100)) writer.acked(m.payload, m.payloads);
      expect(performance.now() - t0).to.be.below(200);
      const waitingBytes = sent
        .slice(100, 100 + writer.waiting)
        .reduce((n, m) => n + Buffer.byteLength(m.payload), 0);
      expect(waitingBytes).to.be.at.most(256 * 1024);
      const dropped = writer.notKept.lines;
      expect(dropped).to.equal(500 - writer.waiting);
      // Reported once, with the count and the reason.
      await waitFor('the report', () => warnings.length > 0);
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(
        new RegExp(`^${dropped} lines were not kept in room ${room}'s history: the registry`),
      );

      // At the end: what still waits is given up within the bound, and the total said once.
      const t1 = performance.now();
      await writer.close(300);
      expect(performance.now() - t1).to.be.below(1000);
      expect(writer.notKept.lines).to.equal(500);
      expect(warnings).to.have.length(2);
      expect(warnings[1]).to.match(
        new RegExp(`^500 lines \\(of 600 sent\\) were not kept in room ${room}'s history: `),
      );
      expect(warnings.join('\n')).not.to.include('root@');
    });
  });

  describe('sealing what it writes', function () {
    let dir: string;
    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-writer-seal-'));
    });
    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it('seals typed lines (a transaction each) and a pipe, so that a reader checks a signature a segment', async function () {
      const url = `sqlite:${join(dir, 'registry.db')}`;
      const { room } = await createHistoryRoom(url, { seconds: 3600, bytes: 64 * 1024 * 1024 });
      const store = await openStore(url, { create: false });
      try {
        const sent = messages(room, 2 * SEAL_ROWS + 20, 1);
        const writer = new HistoryWriter(store, room, sent[0]!.signer, () => undefined, {
          flushMs: 0,
        });
        // Typed: each line written before the next comes.
        for (const m of sent.slice(0, SEAL_ROWS + 10)) {
          writer.acked(m.payload, m.payloads);
          await waitFor('the line written', () => writer.waiting === 0, 10_000, 2);
        }
        // Piped: the rest at once.
        for (const m of sent.slice(SEAL_ROWS + 10)) writer.acked(m.payload, m.payloads);
        await writer.close(5000);
        const rows = await store.readHistory(room, { maxRows: 10_000, maxBytes: 1e9 });
        expect(rows).to.have.length(sent.length);
        const sealed = rows.filter((r) => r.seal !== undefined).length;
        expect(sealed).to.be.within(SEAL_ROWS + 10, SEAL_ROWS + 14);
        expect(vouchedRows(room, rows).size).to.equal(sent.length);
        // The newest 100 rows only, as a late joiner reads them: the segment the read cuts (rows
        // 129 to 256) is not vouched for; the last one (257 to 276) is.
        const last = await store.readHistory(room, { maxRows: 10_000, maxBytes: 1e9, last: 100 });
        expect(vouchedRows(room, last).size).to.equal(sent.length - 2 * SEAL_ROWS);
      } finally {
        await store.close();
      }
    });
  });

  describe('with a long pipe into a room with a size cap', function () {
    let dir: string;
    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-writer-'));
    });
    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it('prunes as much as it writes, so the room stays near its cap', async function () {
      const url = `sqlite:${join(dir, 'registry.db')}`;
      const cap = 1024 * 1024;
      const { room } = await createHistoryRoom(url, { seconds: 3600, bytes: cap });
      const store = await openStore(url, { create: false });
      try {
        // 4,000 rows of a line each, about 6 MiB: six times the cap, in a few seconds.
        const sent = messages(room, 4000, 1);
        const writer = new HistoryWriter(store, room, sent[0]!.signer, () => undefined);
        writer.start();
        for (let at = 0; at < sent.length; at += 500) {
          for (const m of sent.slice(at, at + 500)) writer.acked(m.payload, m.payloads);
          await waitFor('the batch written', () => writer.waiting === 0);
        }
        await writer.close(2000);
        expect(writer.notKept).to.deep.equal({ lines: 0, notices: 0 });
        const raw = new Database(join(dir, 'registry.db'), { readonly: true });
        const { bytes } = raw
          .prepare('SELECT COALESCE(SUM(bytes), 0) AS bytes FROM room_history WHERE room = ?')
          .get(room) as { bytes: number };
        raw.close();
        // Within the cap and a step of pruning (200 rows of ~1.5 KiB) that has not run yet.
        expect(bytes).to.be.below(cap + 200 * 1600);
      } finally {
        await store.close();
      }
    });

    it('keeps a quick pipe of long lines in its cap too: few rows, many bytes, pruned at the end', async function () {
      const url = `sqlite:${join(dir, 'quick.db')}`;
      const cap = 1024 * 1024;
      const { room } = await createHistoryRoom(url, { seconds: 3600, bytes: cap });
      const store = await openStore(url, { create: false });
      try {
        // 90 rows of 30 lines of 1 KiB: about 4 MiB in far fewer rows than a pruning step.
        const sent = messages(room, 90, 30);
        const writer = new HistoryWriter(store, room, sent[0]!.signer, () => undefined);
        writer.start();
        for (const m of sent) writer.acked(m.payload, m.payloads);
        await writer.close(5000);
        expect(writer.notKept).to.deep.equal({ lines: 0, notices: 0 });
        const stats = await store.historyStats(room);
        // Within the cap and one row (about 42 KiB) of the last step.
        expect(stats.bytes).to.be.at.most(cap + 64 * 1024);
        expect(stats.rows).to.be.above(0);
      } finally {
        await store.close();
      }
    });
  });
});
