/**
 * Seals over a sender's history rows. Each row's payload is signed, and checking 10,000
 * signatures (a late joiner reading typed lines, a row each) takes most of a second. So each
 * transaction of a history writer also stores, on the last row it writes of each sender stream, a
 * seal: one signature, by the same key, over the SHA-256 of every payload the stream stored from
 * the start of its segment (at most SEAL_ROWS rows) up to that row. A reader that finds all the
 * rows of a seal's range, exactly as sealed, checks that one signature instead of each row's.
 *
 * A seal only ever spares a check: a row it does not vouch for (a seal that is missing, damaged,
 * signed by another key, or whose range the reader does not hold whole, as it was sealed) is
 * checked by its own signature, as before, and every other check of a row is made either way.
 */
import { hash } from 'node:crypto';
import type { HistoryRow, StoredHistoryRow } from '../db/index.js';
import { SIGNATURE_BYTES, verifySignature, type Signer } from '../protocol/index.js';

/** What a seal holds: the signature, then the first sequence number of its range (64 bits). */
export const SEAL_BYTES = SIGNATURE_BYTES + 8;
/** The most rows one seal covers: a stream is sealed in segments of this many rows. */
export const SEAL_ROWS = 128;

/** What a seal signs starts with this, so that it is never taken for anything else signed. */
const DOMAIN = 'sunoye/v1/history-seal\n';

/** One row of a seal's range, as signed. */
interface Entry {
  firstSeq: number;
  lastSeq: number;
  digest: Buffer;
}

/** A row's digest: Node's one-shot hash (in every Node sunoye runs on), cheaper than a Hash. */
function digestOf(payload: Uint8Array): Buffer {
  return hash('sha256', payload, 'buffer');
}

/** The bytes a seal signs: the room, the sender stream, the range, and each row in it, in order. */
function sealed(
  room: string,
  sender: string,
  fromSeq: number,
  toSeq: number,
  entries: Entry[],
): Buffer {
  // The room and the sender id each after its length, so that no two of them read the same.
  const text = (value: string): Buffer => {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const name = Buffer.concat([Buffer.from(DOMAIN, 'utf8'), text(room), text(sender)]);
  const out = Buffer.alloc(name.length + 20 + entries.length * 48);
  let at = name.copy(out, 0);
  at = writeSeq(out, fromSeq, at);
  at = writeSeq(out, toSeq, at);
  at = out.writeUInt32BE(entries.length, at);
  for (const e of entries) {
    at = writeSeq(out, e.firstSeq, at);
    at = writeSeq(out, e.lastSeq, at);
    at += e.digest.copy(out, at);
  }
  return out;
}

/** A sequence number (a safe integer) as 64 bits, big-endian; the offset after it. */
function writeSeq(out: Buffer, seq: number, at: number): number {
  out.writeUInt32BE(Math.floor(seq / 2 ** 32), at);
  return out.writeUInt32BE(seq % 2 ** 32, at + 4);
}

/**
 * The seals of one history writer: what each of its sender streams stored since its segment
 * began. `seal` gives the rows of a transaction with their seals; `commit` keeps the segments
 * they grew once the transaction is written (a failed one is sealed again when tried again).
 */
export class HistorySealer {
  private segments = new Map<string, Entry[]>();

  constructor(
    private readonly room: string,
    private readonly signer: Signer,
  ) {}

  seal(rows: HistoryRow[]): { rows: HistoryRow[]; commit: () => void } {
    const segments = new Map(this.segments);
    const lastOf = new Map<string, number>();
    rows.forEach((row, i) => lastOf.set(row.sender, i));
    const out = rows.map((row, i) => {
      // Rows of another key are not this writer's to seal (a bug elsewhere): left unsealed.
      if (!row.signer.equals(this.signer.publicKey)) return row;
      let entries = [...(segments.get(row.sender) ?? [])];
      const prev = entries.at(-1);
      // A row again, or one from before the segment (sent again late): left to its own signature.
      if (prev !== undefined && row.firstSeq <= prev.lastSeq) return row;
      if (entries.length >= SEAL_ROWS) entries = [];
      entries.push({ firstSeq: row.firstSeq, lastSeq: row.lastSeq, digest: digestOf(row.payload) });
      segments.set(row.sender, entries);
      if (entries.length < SEAL_ROWS && lastOf.get(row.sender) !== i) return row;
      const fromSeq = entries[0]!.firstSeq;
      const signature = this.signer.sign(
        sealed(this.room, row.sender, fromSeq, row.lastSeq, entries),
      );
      const seal = Buffer.alloc(SEAL_BYTES);
      signature.copy(seal, 0);
      seal.writeBigUInt64BE(BigInt(fromSeq), SIGNATURE_BYTES);
      return { ...row, seal };
    });
    return { rows: out, commit: () => (this.segments = segments) };
  }
}

/** A seal and the rows of its range, as a reader holds them: `check` verifies the seal (once). */
export interface SealRange {
  rows: StoredHistoryRow[];
  check(): boolean;
}

/**
 * The rows whose payloads a seal vouches for (see the top of this file): for each sender stream,
 * from its newest seal down, each seal whose range the rows hold whole, from its first sequence
 * number on, is checked once; a seal inside a range taken already is passed over.
 */
export function vouchedRows(
  room: string,
  rows: readonly StoredHistoryRow[],
): Set<StoredHistoryRow> {
  const vouched = new Set<StoredHistoryRow>();
  for (const range of sealRanges(room, rows))
    if (range.check()) for (const row of range.rows) vouched.add(row);
  return vouched;
}

/**
 * The seals `vouchedRows` would check, each with the rows of its range, unchecked: a reader
 * checks a seal only where it spares work (its rows open with the room's key, by the key that
 * sealed them), so that seals of rows nobody in the room wrote (an operator's, under keys it
 * made up: a key new to the reader costs far more to check with than a row that does not
 * decrypt) cost nothing.
 */
export function sealRanges(room: string, rows: readonly StoredHistoryRow[]): SealRange[] {
  const streams = new Map<string, StoredHistoryRow[]>();
  for (const row of rows) {
    const name = `${row.signer.toString('hex')}/${row.sender}`;
    let stream = streams.get(name);
    if (!stream) streams.set(name, (stream = []));
    stream.push(row);
  }
  const ranges: SealRange[] = [];
  for (const stream of streams.values()) {
    stream.sort((a, b) => a.firstSeq - b.firstSeq);
    // Below `floor`, rows still need a seal; each row is in at most one range checked.
    let floor = Infinity;
    for (let end = stream.length - 1; end >= 0; end -= 1) {
      const last = stream[end]!;
      const seal = last.seal;
      if (last.lastSeq >= floor || seal === undefined || seal.length !== SEAL_BYTES) continue;
      const fromSeq = Number(seal.readBigUInt64BE(SIGNATURE_BYTES));
      if (!Number.isSafeInteger(fromSeq) || fromSeq > last.firstSeq) continue;
      // A seal covers SEAL_ROWS rows at most: no longer walk for one (an operator's seals).
      let start = end;
      while (start > 0 && end - start < SEAL_ROWS - 1 && stream[start - 1]!.firstSeq >= fromSeq)
        start -= 1;
      const range = stream.slice(start, end + 1);
      // The range's first row is not here (older than the read, or deleted): it cannot hold.
      if (range[0]!.firstSeq !== fromSeq) continue;
      if (start > 0 && stream[start - 1]!.lastSeq >= fromSeq) continue;
      floor = fromSeq;
      let checked: boolean | undefined;
      ranges.push({
        rows: range,
        check: () => {
          if (checked !== undefined) return checked;
          const entries = range.map((r) => ({
            firstSeq: r.firstSeq,
            lastSeq: r.lastSeq,
            digest: digestOf(r.payload),
          }));
          // Checked here: a seal a segment is few, and a check handed to the thread pool costs
          // the main thread more than it saves.
          const data = sealed(room, last.sender, fromSeq, last.lastSeq, entries);
          checked = verifySignature(last.signer, data, seal.subarray(0, SIGNATURE_BYTES));
          return checked;
        },
      });
    }
  }
  return ranges;
}
