/**
 * Room history for `npm run bench`: piped throughput into an encrypted room that keeps history
 * beside one that keeps none (the same run, paired), and how many history rows one sender's
 * writer gets into the registry per second (SQLite file, MySQL/MariaDB), through the writer as
 * the programs use it: batched transactions of up to 500 rows or 1 MiB.
 */
import { Writable } from 'node:stream';
import { resolveConfig } from '../src/config/config.js';
import { rememberJoined } from '../src/commands/join.js';
import { openStore, type HistoryRetention } from '../src/db/index.js';
import { HistoryWriter } from '../src/history/writer.js';
import { Sender } from '../src/conversation/sender.js';
import {
  deriveRoomSecret,
  newKdfParams,
  newSigner,
  roomCodec,
  verifier,
  type ChatPayload,
} from '../src/protocol/index.js';
import { round } from './measures.js';

/** A day and 64 MiB (what an encrypted room keeps by default), and none. */
export const HISTORY_ON: HistoryRetention = { seconds: 24 * 3600, bytes: 64 * 1024 * 1024 };
export const HISTORY_OFF: HistoryRetention = { seconds: 0, bytes: 0 };

/**
 * Creates an encrypted room keeping `history` in the registry of `env` and remembers it in its
 * home, as `room create` does; returns its number.
 */
export async function historyRoom(
  env: Record<string, string>,
  history: HistoryRetention,
): Promise<string> {
  const config = resolveConfig({}, env);
  const kdf = newKdfParams();
  const secret = await deriveRoomSecret('correct horse battery staple', kdf);
  const store = await openStore(config.db);
  try {
    const record = await store.createRoom({
      creator: 'bench',
      mode: 'encrypted',
      idleSeconds: 3600,
      kdf,
      verifier: (room) => verifier(secret, room, 'encrypted'),
      history,
    });
    const sink = new Writable({ write: (_c, _e, done) => done() });
    rememberJoined(
      { config, io: { stdin: process.stdin, stdout: sink, stderr: sink, env } },
      { room: record.number, store: store.label, mode: 'encrypted', secret },
    );
    return record.number;
  } finally {
    await store.close();
  }
}

/** How fast one sender's history reaches the registry. */
export interface HistoryWrites {
  backend: string;
  /** Lines per MQTT message (1: typed lines; more: a pipe's batches) and bytes per row. */
  linesPerRow: number;
  rowBytes: number;
  rows: number;
  /** Rows in the registry at the end (all of them, unless the writer had to drop some). */
  kept: number;
  rowsPerSecond: number;
  linesPerSecond: number;
  megabytesPerSecond: number;
}

/**
 * Hands `rows` sealed messages of `linesPerRow` lines to a history writer as fast as it takes
 * them, in slices that fit its queue, and times until all are in the registry at `url`.
 */
export async function benchHistoryWrites(
  url: string,
  backend: string,
  rows: number,
  linesPerRow: number,
): Promise<HistoryWrites> {
  const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
  const secret = await deriveRoomSecret('correct horse battery staple', kdf);
  const store = await openStore(url);
  try {
    const { number: room } = await store.createRoom({
      creator: 'bench',
      mode: 'encrypted',
      idleSeconds: 3600,
      kdf,
      verifier: (n) => verifier(secret, n, 'encrypted'),
      // Room for all of it: what is timed is writing, not the size cap.
      history: { seconds: 24 * 3600, bytes: 2 * 1024 ** 3 },
    });
    const signer = newSigner();
    const codec = roomCodec(room, 'encrypted', secret, signer);
    const sender = new Sender('bench');
    const messages: { payload: string; payloads: ChatPayload[] }[] = [];
    for (let i = 0; i < rows; i++) {
      const payloads = Array.from({ length: linesPerRow }, (_, j) =>
        sender.message(
          `${String(i * linesPerRow + j).padStart(8, '0')} the quick brown fox jumps over the lazy dog`,
        ),
      );
      const payload =
        payloads.length === 1 ? codec.encode(payloads[0]!) : codec.encodeBatch(payloads);
      messages.push({ payload, payloads });
    }
    const rowBytes = Buffer.byteLength(messages[0]!.payload);
    let lost = '';
    const writer = new HistoryWriter(store, room, signer, (m) => (lost = m));
    const started = process.hrtime.bigint();
    // As a sender would: messages arrive as the broker acknowledges them, never more than the
    // queue takes; here as fast as the writer drains.
    const slice = Math.max(1, Math.floor((2 * 1024 * 1024) / rowBytes));
    for (let at = 0; at < messages.length; at += slice) {
      while (writer.waiting * rowBytes > 2 * 1024 * 1024)
        await new Promise((resolve) => setTimeout(resolve, 5));
      for (const m of messages.slice(at, at + slice)) writer.acked(m.payload, m.payloads);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writer.close(600_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const kept = (await store.historyStats(room)).rows;
    if (lost || kept !== rows)
      process.stderr.write(`bench: !!! history writes: ${kept} of ${rows} rows kept ${lost}\n`);
    await store.closeRoom(room);
    return {
      backend,
      linesPerRow,
      rowBytes,
      rows,
      kept,
      rowsPerSecond: Math.round(rows / seconds),
      linesPerSecond: Math.round((rows * linesPerRow) / seconds),
      megabytesPerSecond: round((rows * rowBytes) / seconds / 1e6, 1),
    };
  } finally {
    await store.close();
  }
}
