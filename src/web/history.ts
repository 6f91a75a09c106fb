/**
 * The room's history for the page, through `room serve`: the registry's rows as they are kept
 * (sealed, signed), read with the page's verifier, then opened and checked here with the room's
 * key, each believed only as far as it proves, and put in order as a listener's (history/lines.ts).
 * The page's own lines are kept in the history as a terminal's are: once the broker has them, in
 * batches, through the page's membership (which names its key: a page keeps only its own lines).
 */
import type { HistoryQuery, HistoryRow, StoredHistoryRow } from '../db/store.js';
import {
  readLines,
  type HistoryRead,
  type HistoryRequest,
  type RowOpener,
} from '../history/lines.js';
import { provenRow } from '../history/rows.js';
import type { WebRoomCodec } from '../protocol/web-envelope.js';

/** The most one read asks `room serve` for (it bounds reads the same way). */
export const PAGE_READ_LIMITS = { payloads: 10_000, bytes: 8 * 2 ** 20 };
/** Rows opened at once (WebCrypto works on them meanwhile). */
const OPEN_AT_ONCE = 64;

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** A row as `room serve` sends it. */
interface RowJson {
  signer: string;
  sender: string;
  firstSeq: number;
  lastSeq: number;
  payload: string;
  sentAt: number;
}

/** Why a request failed, in the server's words when it gave some. */
async function failure(response: Response): Promise<Error> {
  const body = (await response.json().catch(() => ({}))) as { error?: unknown };
  return new Error(
    typeof body.error === 'string' ? body.error : `room serve answered ${response.status}`,
  );
}

/** A row of the answer, or undefined when it is not one (it is then left out, as altered). */
function rowOf(json: unknown): StoredHistoryRow | undefined {
  const r = json as Partial<RowJson> | null;
  if (r === null || typeof r !== 'object') return undefined;
  const { signer, sender, firstSeq, lastSeq, payload, sentAt } = r;
  if (typeof signer !== 'string' || typeof sender !== 'string' || typeof payload !== 'string')
    return undefined;
  if (![firstSeq, lastSeq, sentAt].every((n) => Number.isSafeInteger(n))) return undefined;
  return {
    signer: Buffer.from(signer, 'base64'),
    sender,
    firstSeq: firstSeq!,
    lastSeq: lastSeq!,
    payload: Buffer.from(payload, 'base64'),
    sentAt: new Date(sentAt!),
  };
}

/**
 * Opens history rows with the page's codec (each its own signature checked: WebCrypto has no
 * batch check to spare, and a page reads a screenful), each checked against what its columns claim.
 */
export function pageRowOpener(codec: WebRoomCodec): RowOpener {
  return async (toOpen) => {
    const opened = [];
    for (let i = 0; i < toOpen.length; i += OPEN_AT_ONCE)
      opened.push(
        ...(await Promise.all(
          toOpen
            .slice(i, i + OPEN_AT_ONCE)
            .map(async (row) => provenRow(await codec.openAll(row.payload), row)),
        )),
      );
    return opened;
  };
}

/**
 * Reads rows of room `room`'s history through `room serve`, with the room's verifier: as a store's
 * `readHistory` does (the page's recovery looks its gaps up with a `stream`), bounded by the server.
 */
export function pageHistoryRows(
  room: string,
  verifier: Uint8Array,
): (query: HistoryQuery) => Promise<StoredHistoryRow[]> {
  return async (query) => {
    const { stream } = query;
    const response = await fetch(`/api/rooms/${room}/history`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        verifier: base64(verifier),
        last: query.last,
        sinceMs: query.sinceMs,
        stream: stream && {
          signer: base64(stream.signer),
          sender: stream.sender,
          fromSeq: stream.fromSeq,
          toSeq: stream.toSeq,
        },
        maxRows: query.maxRows,
        maxBytes: query.maxBytes,
      }),
    });
    if (response.status !== 200) throw await failure(response);
    const { rows } = (await response.json()) as { rows?: unknown };
    if (!Array.isArray(rows)) throw new Error('room serve sent no rows');
    // A row that is not even one is dropped here; every other is checked by opening it.
    return rows.map(rowOf).filter((row): row is StoredHistoryRow => row !== undefined);
  };
}

/** Reads room `room`'s history through `room serve`, opening its rows with `codec`. */
export function pageHistoryReader(
  room: string,
  verifier: Uint8Array,
  codec: WebRoomCodec,
): (request: HistoryRequest) => Promise<HistoryRead> {
  const fetchRows = pageHistoryRows(room, verifier);
  return (request) => readLines(fetchRows, pageRowOpener(codec), request, PAGE_READ_LIMITS);
}

/**
 * Keeps the page's rows through its membership `id`: true when kept; false when the membership
 * is gone; rejects with the server's reason otherwise.
 */
export async function keepRows(id: string, rows: HistoryRow[]): Promise<boolean> {
  const response = await fetch(`/api/members/${id}/history`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      rows: rows.map((row) => ({
        sender: row.sender,
        firstSeq: row.firstSeq,
        lastSeq: row.lastSeq,
        payload: base64(row.payload),
      })),
    }),
  });
  if (response.status === 204) return true;
  if (response.status === 410) return false;
  throw await failure(response);
}
