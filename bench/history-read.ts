/**
 * A late joiner for `npm run bench`: a room whose history holds `lines` typed lines (one row each,
 * the most rows to open and check), read as `listen --last N` reads it, in process (read, open,
 * verify, order) and by the program (from its start to the last line of history printed).
 */
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { resolveConfig } from '../src/config/config.js';
import { rememberJoined } from '../src/commands/join.js';
import { openStore } from '../src/db/index.js';
import { readHistory } from '../src/history/reader.js';
import { HistorySealer } from '../src/history/seal.js';
import { Sender } from '../src/conversation/sender.js';
import {
  deriveRoomSecret,
  newKdfParams,
  newSigner,
  roomCodec,
  verifier,
} from '../src/protocol/index.js';
import { HISTORY_ON } from './history-writer.js';
import { sunoyeBin } from './peers.js';

export interface LateJoiner {
  lines: number;
  /** Lines a row (1: typed lines; more: a pipe's batches). */
  perRow: number;
  /** Reading, opening, verifying and ordering the history in process (ms). */
  readMs: number;
  /** `listen --last N`: from its start to its first and its last line of history (ms). */
  firstLineMs: number;
  lastLineMs: number;
}

/** Times a late joiner of a room whose history holds `lines` lines, in the registry of `env`. */
export async function benchLateJoiner(
  env: Record<string, string>,
  lines: number,
  perRow = 1,
): Promise<LateJoiner> {
  const config = resolveConfig({}, env);
  const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
  const secret = await deriveRoomSecret('correct horse battery staple', kdf);
  const store = await openStore(config.db);
  try {
    const { number: room } = await store.createRoom({
      creator: 'bench',
      mode: 'encrypted',
      idleSeconds: 3600,
      kdf,
      verifier: (n) => verifier(secret, n, 'encrypted'),
      history: HISTORY_ON,
    });
    const sink = new Writable({ write: (_c, _e, done) => done() });
    rememberJoined(
      { config, io: { stdin: process.stdin, stdout: sink, stderr: sink, env } },
      { room, store: store.label, mode: 'encrypted', secret },
    );
    const signer = newSigner();
    const codec = roomCodec(room, 'encrypted', secret, signer);
    const sender = new Sender('early');
    // Sealed as a writer seals them: typed lines each in a transaction of their own.
    const sealer = new HistorySealer(room, signer);
    for (let at = 0; at < lines; at += 500) {
      const rows = [];
      for (let i = at; i < Math.min(lines, at + 500); i += perRow) {
        const ps = Array.from({ length: Math.min(perRow, lines - i) }, (_, j) =>
          sender.message(`${String(i + j + 1).padStart(8, '0')} the quick brown fox jumps`),
        );
        const sealed = sealer.seal([
          {
            signer: signer.publicKey,
            sender: sender.id,
            firstSeq: ps[0]!.seq!,
            lastSeq: ps[ps.length - 1]!.seq!,
            payload: Buffer.from(ps.length === 1 ? codec.encode(ps[0]!) : codec.encodeBatch(ps)),
          },
        ]);
        sealed.commit();
        rows.push(...sealed.rows);
      }
      await store.appendHistory(room, rows);
    }
    const started = process.hrtime.bigint();
    const read = await readHistory(store, room, codec, { last: lines });
    const readMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (read.lines.length !== lines)
      throw new Error(`late joiner bench: read ${read.lines.length} of ${lines} lines`);
    const { firstLineMs, lastLineMs } = await listenLast(env, room, lines);
    await store.closeRoom(room);
    return { lines, perRow, readMs: Math.round(readMs), firstLineMs, lastLineMs };
  } finally {
    await store.close();
  }
}

/** Runs `listen R --last N` until it printed N lines of history; when the first and last came. */
function listenLast(
  env: Record<string, string>,
  room: string,
  lines: number,
): Promise<{ firstLineMs: number; lastLineMs: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const ms = (): number => Math.round(Number(process.hrtime.bigint() - started) / 1e6);
    const child = spawn(process.execPath, [sunoyeBin('listen'), room, '--last', String(lines)], {
      env: { ...env, SUNOYE_NAME: 'late', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = 0;
    let first = 0;
    let partial = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (!line.includes(' (earlier) ')) continue;
        seen += 1;
        if (seen === 1) first = ms();
        if (seen === lines) {
          const last = ms();
          child.kill('SIGINT');
          resolve({ firstLineMs: first, lastLineMs: last });
        }
      }
    });
    child.once('close', (code) => {
      if (seen < lines)
        reject(new Error(`listen --last exited (${code}) after ${seen} lines: ${stderr}`));
    });
  });
}
