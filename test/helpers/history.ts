/** Rooms made through the registry with the history they keep, and their history read back. */
import { randomBytes } from 'node:crypto';
import type {
  HistoryRetention,
  HistoryRow,
  RegistryClock,
  StoredHistoryRow,
} from '../../src/db/index.js';
import { openStore } from '../../src/db/index.js';
import { openRow, type OpenedRow } from '../../src/history/rows.js';
import {
  deriveRoomSecret,
  newKdfParams,
  newSigner,
  roomCodec,
  verifier,
  type ChatPayload,
  type RoomCodec,
  type RoomMode,
  type Signer,
} from '../../src/protocol/index.js';

/** A room's number, its password, and the codec that opens what is sent there. */
export interface HistoryRoom {
  room: string;
  password: string;
  codec: RoomCodec;
}

/** A day and 64 MiB: what an encrypted room keeps by default. */
export const DAY_OF_HISTORY: HistoryRetention = { seconds: 24 * 3600, bytes: 64 * 1024 * 1024 };

/** Makes a room in the registry at `url` as `room create` does, keeping `history`. */
export async function createHistoryRoom(
  url: string,
  history: HistoryRetention | undefined,
  mode: RoomMode = 'encrypted',
): Promise<HistoryRoom> {
  const password = `history ${randomBytes(9).toString('base64url')}`;
  const kdf = newKdfParams();
  const secret = await deriveRoomSecret(password, kdf);
  const store = await openStore(url);
  try {
    const record = await store.createRoom({
      creator: 'alice',
      mode,
      idleSeconds: 600,
      kdf,
      verifier: (number) => verifier(secret, number, mode),
      history,
    });
    return {
      room: record.number,
      password,
      codec: roomCodec(record.number, mode, secret, mode === 'encrypted' ? newSigner() : undefined),
    };
  } finally {
    await store.close();
  }
}

/** Every history row of `room`, oldest first (read with the store's own query). */
export async function readAllHistory(
  url: string,
  room: string,
  clock?: RegistryClock,
): Promise<StoredHistoryRow[]> {
  const store = await openStore(url, { create: false, clock });
  try {
    return await store.readHistory(room, {
      sinceMs: 0,
      maxRows: 1_000_000,
      maxBytes: 1024 * 1024 * 1024,
    });
  } finally {
    await store.close();
  }
}

/** Opens every row; throws on one that does not open (the writers wrote them all). */
export function openAll(codec: RoomCodec, rows: StoredHistoryRow[]): OpenedRow[] {
  return rows.map((row) => {
    const opened = openRow(codec, row);
    if (!opened.ok) throw new Error(`a history row does not open: ${opened.reason}`);
    return opened;
  });
}

/** The opened rows by stream, each stream's rows in sequence order. */
export function byStream(opened: OpenedRow[]): Map<string, OpenedRow[]> {
  const streams = new Map<string, OpenedRow[]>();
  for (const row of opened) streams.set(row.stream, [...(streams.get(row.stream) ?? []), row]);
  for (const rows of streams.values())
    rows.sort((a, b) => a.payloads[0]!.seq! - b.payloads[0]!.seq!);
  return streams;
}

/** `payloads` of `sender`'s stream, sealed by `codec` as `signer`'s, a row each (as stored). */
export function rowsOf(
  codec: RoomCodec,
  signer: Signer,
  sender: { id: string },
  payloads: ChatPayload[],
): HistoryRow[] {
  return payloads.map((p) => ({
    signer: signer.publicKey,
    sender: sender.id,
    firstSeq: p.seq!,
    lastSeq: p.seq!,
    payload: Buffer.from(codec.encode(p)),
  }));
}
