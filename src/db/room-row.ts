/**
 * Reading a room's row. Whoever can write the registry can put anything in it, so each value is
 * checked as it is read: a value no sunoye writes (KDF parameters that are not JSON or too costly,
 * a time no date has, an unknown mode or state, a verifier or salt of the wrong length) is the
 * refusal `RecordAlteredError`, never a crash further on.
 */
import { checkKdfParams, type KdfParams } from '../protocol/index.js';
import { wholeNumber } from './history-rows.js';
import type { Row } from './sql.js';
import {
  HISTORY_BYTES_RANGE,
  HISTORY_SECONDS_RANGE,
  IDLE_SECONDS_RANGE,
  RecordAlteredError,
  type HistoryRetention,
  type RoomRecord,
} from './store.js';

/** A room's row: its record, and when it was last active (ms since the epoch). */
export interface RoomRow extends RoomRecord {
  activeAt: number;
}

/** The verifier's length: HKDF-SHA256's 32 bytes (`verifier` in src/protocol/keys.ts). */
const VERIFIER_BYTES = 32;
/** The longest salt a room is made with, and then some: sunoye makes 16 bytes. */
const MAX_SALT_BYTES = 64;
/** The latest time a JavaScript date can hold (ms since the epoch). */
const MAX_TIME_MS = 8.64e15;

/** A time column (ms since the epoch) of a room's row or a member's: a whole number that is a date. */
export function time(value: unknown, column: string, room: string): number {
  const ms = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0 || ms > MAX_TIME_MS)
    throw new RecordAlteredError(room, `its ${column} is not a time`);
  return ms;
}

function kdfOf(value: unknown, room: string): KdfParams {
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(value));
  } catch {
    throw new RecordAlteredError(room, 'its key-derivation parameters are not JSON');
  }
  let kdf: KdfParams;
  try {
    kdf = checkKdfParams(parsed);
  } catch (err) {
    // "the room record has invalid key-derivation parameters…": said of this room's record.
    const detail = (err as Error).message.replace(/^the room record has /, '');
    throw new RecordAlteredError(room, `it has ${detail}`);
  }
  if (Buffer.from(kdf.salt, 'base64').length > MAX_SALT_BYTES)
    throw new RecordAlteredError(room, 'its salt is longer than any sunoye makes');
  return kdf;
}

function oneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  what: string,
  room: string,
): T {
  if (!allowed.includes(value as T))
    throw new RecordAlteredError(room, `its ${what} is neither ${allowed.join(' nor ')}`);
  return value as T;
}

/**
 * What a room keeps of its history: none (0 seconds, 0 bytes), or a time and a size within the
 * bounds `room create` allows. (A plain room whose record says it keeps some keeps none all the
 * same: the store keeps history for encrypted rooms only. Its record says plain because it was
 * altered, which the room's remembered mode tells; see src/room/room-access.ts.)
 */
function historyOf(row: Row, room: string): HistoryRetention {
  const seconds = wholeNumber(row.history_seconds);
  const bytes = wholeNumber(row.history_bytes);
  if (seconds === 0 && bytes === 0) return { seconds, bytes };
  if (
    seconds === undefined ||
    seconds < HISTORY_SECONDS_RANGE.min ||
    seconds > HISTORY_SECONDS_RANGE.max ||
    bytes === undefined ||
    bytes < HISTORY_BYTES_RANGE.min ||
    bytes > HISTORY_BYTES_RANGE.max
  )
    throw new RecordAlteredError(room, 'its history retention is out of range');
  return { seconds, bytes };
}

/** A room's row as sunoye wrote it, or `RecordAlteredError` for a value it never writes. */
export function toRoom(row: Row): RoomRow {
  const number = String(row.number);
  const idleSeconds = Number(row.idle_seconds);
  if (
    !Number.isSafeInteger(idleSeconds) ||
    idleSeconds < IDLE_SECONDS_RANGE.min ||
    idleSeconds > IDLE_SECONDS_RANGE.max
  )
    throw new RecordAlteredError(number, 'its idle timeout is out of range');
  if (!(row.verifier instanceof Uint8Array) || row.verifier.length !== VERIFIER_BYTES)
    throw new RecordAlteredError(number, 'its password verifier is not one sunoye makes');
  return {
    number,
    creator: String(row.creator),
    state: oneOf(row.state, ['open', 'closed'], 'state', number),
    mode: oneOf(row.mode, ['encrypted', 'plain'], 'mode', number),
    idleSeconds,
    kdf: kdfOf(row.kdf, number),
    verifier: Buffer.from(row.verifier),
    createdAt: new Date(time(row.created_at, 'creation time', number)),
    closedAt: row.closed_at === null ? null : new Date(time(row.closed_at, 'closing time', number)),
    // Advice only, shown as scheme, host and port or not at all (see src/room/sharing.ts).
    broker: typeof row.broker === 'string' ? row.broker : null,
    activeAt: time(row.active_at, 'last activity time', number),
    history: historyOf(row, number),
  };
}
