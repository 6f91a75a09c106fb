/**
 * Opening a row of a room's history. The registry keeps what each sender stored, and whoever can
 * write the database can change it; so a row is believed only as far as its payload proves: it
 * must open with the room's key, carry a valid signature, and hold exactly the sender stream and
 * sequence numbers its columns claim. Anything else is an altered row, never shown.
 */
import type { StoredHistoryRow } from '../db/index.js';
import type { BatchResult, ChatPayload, RoomCodec } from '../protocol/index.js';
import { senderOf } from '../conversation/tracker.js';

/** What an opened row proves: its payloads, the key that signed them, and when it was written. */
export interface OpenedRow {
  ok: true;
  payloads: ChatPayload[];
  signer: Buffer;
  /** The sender stream, as the inbox names it: `<signing key, base64url>/<sender id>`. */
  stream: string;
  sentAt: Date;
}

/** A row that does not prove what it claims, and why (short, for a warning). */
export interface AlteredRow {
  ok: false;
  reason: string;
}

/** Opens one history row with the room's codec and checks it against what its columns claim. */
export function openRow(codec: RoomCodec, row: StoredHistoryRow): OpenedRow | AlteredRow {
  return provenRow(codec.decodeAll(row.payload), row);
}

/**
 * Opens rows one after another with `openRow`, on this thread: for the few rows a recovery reads,
 * where the workers of `openRowAsync` would cost more than they save.
 */
export function rowsOpener(
  codec: RoomCodec,
): (toOpen: readonly StoredHistoryRow[]) => Promise<(OpenedRow | AlteredRow)[]> {
  return (toOpen) => Promise.resolve(toOpen.map((row) => openRow(codec, row)));
}

/**
 * `openRow` with the signature checked off the main thread: many rows opened at once (a history
 * read) use every core.
 */
export async function openRowAsync(
  codec: RoomCodec,
  row: StoredHistoryRow,
): Promise<OpenedRow | AlteredRow> {
  return provenRow(await codec.decodeAllAsync(row.payload), row);
}

/**
 * `openRow` for a row whose exact payload a seal of its signer vouches for (seal.ts): its own
 * signature is not checked again; everything else is.
 */
export function openRowVouched(codec: RoomCodec, row: StoredHistoryRow): OpenedRow | AlteredRow {
  return provenRow(codec.decodeAllVouched(row.payload, row.signer), row);
}

/** What an opened row proves, checked against what its columns claim. */
export function provenRow(decoded: BatchResult, row: StoredHistoryRow): OpenedRow | AlteredRow {
  if (!decoded.ok) return { ok: false, reason: decoded.reason };
  const { payloads, signer } = decoded;
  if (!signer) return { ok: false, reason: 'not signed' };
  if (!signer.equals(row.signer))
    return { ok: false, reason: 'signed by another key than it names' };
  let expected = row.firstSeq;
  for (const payload of payloads) {
    if (payload.id === undefined || senderOf(payload.id) !== row.sender)
      return { ok: false, reason: 'holds another sender stream than it names' };
    if (payload.seq !== expected)
      return { ok: false, reason: 'holds other sequence numbers than it names' };
    expected += 1;
  }
  if (expected - 1 !== row.lastSeq)
    return { ok: false, reason: 'holds other sequence numbers than it names' };
  return {
    ok: true,
    payloads,
    signer,
    stream: `${signer.toString('base64url')}/${row.sender}`,
    sentAt: row.sentAt,
  };
}
