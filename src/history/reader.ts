/**
 * Reading a room's history from the registry: the rows it keeps are read (bounded) and opened
 * with the room's key, the signatures of rows a seal vouches for spared (seal.ts), then put in
 * order as lines.ts says.
 */
import type { RoomStore, StoredHistoryRow } from '../db/index.js';
import type { RoomCodec } from '../protocol/index.js';
import { READ_LIMITS, readLines, type HistoryRead, type HistoryRequest } from './lines.js';
import { openRowAsync, openRowVouched, type AlteredRow, type OpenedRow } from './rows.js';
import { sealRanges } from './seal.js';

export {
  alteredWarning,
  READ_LIMITS,
  type HistoryLine,
  type HistoryRead,
  type HistoryRequest,
} from './lines.js';

/** Reads the lines of `room`'s history that `request` asks for. */
export function readHistory(
  store: RoomStore,
  room: string,
  codec: RoomCodec,
  request: HistoryRequest,
  limits = READ_LIMITS,
): Promise<HistoryRead> {
  return readLines(
    (query) => store.readHistory(room, query),
    (toOpen, among) => openAll(room, codec, toOpen, among),
    request,
    limits,
  );
}

/**
 * Rows opened at once: the signatures of rows no seal vouches for are checked on Node's thread
 * pool meanwhile, so that many of them use every core.
 */
const OPEN_AT_ONCE = 256;

/**
 * Opens `rows`, in order, many at a time: those a seal of their signer vouches for (seal.ts;
 * checked among all the rows read, `among`) without checking their own signatures again. A seal
 * is checked only once the rows it would spare open (with the room's key, by the key that sealed
 * them): junk under keys an operator made up costs no check; a seal that fails costs those rows
 * their opening again, with their own signatures.
 */
async function openAll(
  room: string,
  codec: RoomCodec,
  rows: StoredHistoryRow[],
  among: readonly StoredHistoryRow[],
): Promise<(OpenedRow | AlteredRow)[]> {
  const wanted = new Set(rows);
  const vouched = new Map<StoredHistoryRow, OpenedRow>();
  for (const range of sealRanges(room, among)) {
    const mine = range.rows.filter((row) => wanted.has(row));
    if (mine.length === 0) continue;
    const opened: OpenedRow[] = [];
    for (const row of mine) {
      const one = openRowVouched(codec, row);
      if (!one.ok) break;
      opened.push(one);
    }
    if (opened.length !== mine.length || !range.check()) continue;
    mine.forEach((row, i) => vouched.set(row, opened[i]!));
  }
  const opened: (OpenedRow | AlteredRow)[] = [];
  for (let i = 0; i < rows.length; i += OPEN_AT_ONCE)
    opened.push(
      ...(await Promise.all(
        rows.slice(i, i + OPEN_AT_ONCE).map((row) => {
          const one = vouched.get(row);
          return one ? Promise.resolve(one) : openRowAsync(codec, row);
        }),
      )),
    );
  return opened;
}
