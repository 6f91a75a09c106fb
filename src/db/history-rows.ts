/**
 * History rows between the store and its SQL: checking what a sender asks to keep (a bad row is
 * the caller's bug), reading back what the database holds (whoever can write it can put anything
 * there, so a row whose values sunoye never writes is passed over, never a crash), and cutting
 * large writes into statements a MySQL server takes.
 */
import { MAX_BATCH } from '../protocol/index.js';
import type { Row } from './sql.js';
import {
  MAX_HISTORY_PAYLOAD_BYTES,
  MAX_HISTORY_SEAL_BYTES,
  type HistoryQuery,
  type HistoryRow,
} from './store.js';

/** The length of an Ed25519 public key, the `signer` of every row. */
export const SIGNER_BYTES = 32;
/** The longest sender id a row may name (the column's width). */
export const MAX_SENDER_CHARS = 32;
/**
 * The most SQL one insert may carry. MySQL's `max_allowed_packet` is 4 MiB by default on older
 * servers (MariaDB: 16 MiB), and mysql2 writes bytes as hex, twice their size.
 */
const MAX_STATEMENT_BYTES = 4 * 2 ** 20;
/** Rows per insert at most, whatever their size. */
const MAX_ROWS_PER_STATEMENT = 500;
/** What a row costs in a statement besides its payload (its other values, quoting, commas). */
const ROW_OVERHEAD_BYTES = 256;
/** Keys per statement when rows are fetched or deleted by key. */
export const KEYS_PER_STATEMENT = 100;

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** Throws for a row sunoye would never write: a caller's bug, not a user's mistake. */
export function checkHistoryRow(row: HistoryRow): void {
  const refuse = (why: string): never => {
    throw new Error(`history row refused: ${why}`);
  };
  if (!Buffer.isBuffer(row.signer) || row.signer.length !== SIGNER_BYTES)
    refuse(`its signer is not a ${SIGNER_BYTES}-byte public key`);
  if (
    typeof row.sender !== 'string' ||
    row.sender.length === 0 ||
    row.sender.length > MAX_SENDER_CHARS
  )
    refuse(`its sender id is not 1 to ${MAX_SENDER_CHARS} characters`);
  if (
    !isCount(row.firstSeq) ||
    !isCount(row.lastSeq) ||
    row.lastSeq < row.firstSeq ||
    row.lastSeq - row.firstSeq >= MAX_BATCH
  )
    refuse(`its sequence numbers are not a range of 1 to ${MAX_BATCH} whole numbers`);
  if (!Buffer.isBuffer(row.payload) || row.payload.length > MAX_HISTORY_PAYLOAD_BYTES)
    refuse(`its payload is not bytes, or larger than ${MAX_HISTORY_PAYLOAD_BYTES} bytes`);
  if (
    row.seal !== undefined &&
    (!Buffer.isBuffer(row.seal) || row.seal.length > MAX_HISTORY_SEAL_BYTES)
  )
    refuse(`its seal is not bytes, or larger than ${MAX_HISTORY_SEAL_BYTES} bytes`);
}

/** Throws for a query no caller should make: unbounded, or with values that are no numbers. */
export function checkHistoryQuery(query: HistoryQuery): void {
  const refuse = (why: string): never => {
    throw new Error(`history query refused: ${why}`);
  };
  if (!Number.isSafeInteger(query.maxRows) || query.maxRows < 1) refuse('maxRows is not 1 or more');
  if (!Number.isSafeInteger(query.maxBytes) || query.maxBytes < 1)
    refuse('maxBytes is not 1 or more');
  if (query.sinceMs !== undefined && !Number.isFinite(query.sinceMs)) refuse('sinceMs is no time');
  if (query.last !== undefined && (!Number.isSafeInteger(query.last) || query.last < 1))
    refuse('last is not 1 or more');
  const stream = query.stream;
  if (
    stream &&
    (!Buffer.isBuffer(stream.signer) ||
      typeof stream.sender !== 'string' ||
      !Number.isSafeInteger(stream.fromSeq) ||
      !Number.isSafeInteger(stream.toSeq))
  )
    refuse('its stream is not a key, a sender id and two sequence numbers');
}

/** Groups rows into inserts that stay under the statement limit (a row too big goes alone). */
export function insertGroups(rows: HistoryRow[], oneByOne: boolean): HistoryRow[][] {
  const groups: HistoryRow[][] = [];
  let group: HistoryRow[] = [];
  let size = 0;
  for (const row of rows) {
    const cost = row.payload.length * 2 + ROW_OVERHEAD_BYTES;
    if (
      group.length > 0 &&
      (oneByOne || group.length >= MAX_ROWS_PER_STATEMENT || size + cost > MAX_STATEMENT_BYTES)
    ) {
      groups.push(group);
      group = [];
      size = 0;
    }
    group.push(row);
    size += cost;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** A row's place in the history, as read back without its payload. */
export interface HistoryKey {
  signer: Buffer;
  sender: string;
  firstSeq: number;
  lastSeq: number;
  sentAt: number;
  bytes: number;
}

/** A whole number column (MySQL may give a BIGINT as a string); undefined for anything else. */
export function wholeNumber(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return isCount(n) ? n : undefined;
}

/** The latest time a JavaScript date can hold (ms since the epoch). */
const MAX_TIME_MS = 8.64e15;

/** A row's key columns as sunoye writes them; undefined for values it never writes. */
export function historyKey(row: Row): HistoryKey | undefined {
  const { signer, sender } = row;
  const firstSeq = wholeNumber(row.first_seq);
  const lastSeq = wholeNumber(row.last_seq);
  const sentAt = wholeNumber(row.sent_at);
  const bytes = wholeNumber(row.bytes);
  if (
    !(signer instanceof Uint8Array) ||
    signer.length !== SIGNER_BYTES ||
    typeof sender !== 'string' ||
    sender.length === 0 ||
    sender.length > MAX_SENDER_CHARS ||
    firstSeq === undefined ||
    lastSeq === undefined ||
    lastSeq < firstSeq ||
    lastSeq - firstSeq >= MAX_BATCH ||
    sentAt === undefined ||
    sentAt > MAX_TIME_MS ||
    bytes === undefined ||
    bytes > MAX_HISTORY_PAYLOAD_BYTES
  )
    return undefined;
  return {
    signer: Buffer.isBuffer(signer) ? signer : Buffer.from(signer),
    sender,
    firstSeq,
    lastSeq,
    sentAt,
    bytes,
  };
}

/**
 * The checks of `historyKey` in SQLite's SQL, as near as it can say them (a sender id's length in
 * characters, never more than in UTF-16 units): a row's payload is read with its key (one
 * statement, see SqlRoomStore.readHistory) only where they hold, so that rows passed over cost
 * no payload read.
 */
export const SQLITE_KEY_HOLDS =
  `(LENGTH(signer) = ${SIGNER_BYTES} AND LENGTH(sender) BETWEEN 1 AND ${MAX_SENDER_CHARS} ` +
  `AND first_seq BETWEEN 0 AND ${Number.MAX_SAFE_INTEGER} ` +
  `AND last_seq BETWEEN first_seq AND first_seq + ${MAX_BATCH - 1} ` +
  `AND last_seq <= ${Number.MAX_SAFE_INTEGER} ` +
  `AND sent_at BETWEEN 0 AND ${MAX_TIME_MS} ` +
  `AND bytes BETWEEN 0 AND ${MAX_HISTORY_PAYLOAD_BYTES})`;

/** A string naming a row by its primary key (within one room). */
export function keyName(signer: Uint8Array, sender: unknown, firstSeq: unknown): string {
  return `${Buffer.from(signer).toString('hex')}/${String(sender)}/${String(firstSeq)}`;
}

/**
 * A condition matching the rows of `keys`, and its parameters: SQLite takes a list of row values
 * (where a long OR of keys is planned row by row: 400 ms for 100 keys on 200,000 rows), MySQL
 * an OR of keys (which it reads as ranges of the primary key).
 */
export function keysMatch(
  keys: readonly Pick<HistoryKey, 'signer' | 'sender' | 'firstSeq'>[],
  dialect: 'sqlite' | 'mysql',
): { sql: string; params: unknown[] } {
  return {
    sql:
      dialect === 'sqlite'
        ? `(signer, sender, first_seq) IN (VALUES ${keys.map(() => '(?, ?, ?)').join(', ')})`
        : keys.map(() => '(signer = ? AND sender = ? AND first_seq = ?)').join(' OR '),
    params: keys.flatMap((k) => [k.signer, k.sender, k.firstSeq]),
  };
}

/** `items` in slices of at most `size`. */
export function slices<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
