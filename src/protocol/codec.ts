/** One room's wire format: sealed envelopes in encrypted rooms, MQTT-Chat JSON in plain ones. */
import { MAX_BATCH, roomSealer } from './envelope.js';
import { messageKey } from './keys.js';
import type { Signer } from './signing.js';
import {
  decodePlain,
  encodePlain,
  type BatchResult,
  type ChatPayload,
  type DecodeResult,
} from './payload.js';

/** How a room's payloads travel. */
export type RoomMode = 'encrypted' | 'plain';

/** Encodes and decodes the payloads of one room. */
export interface RoomCodec {
  readonly mode: RoomMode;
  /** Most payloads `encodeBatch` takes: 1 where the format has no batches (MQTT-Chat's JSON). */
  readonly maxBatch: number;
  encode(payload: ChatPayload): string;
  /** Several payloads as one MQTT message. */
  encodeBatch(payloads: ChatPayload[]): string;
  /** One message that holds exactly one payload. */
  decode(raw: Uint8Array | string): DecodeResult;
  /** One message: every payload it holds. */
  decodeAll(raw: Uint8Array | string): BatchResult;
  /** `decodeAll` with its signature checked off the main thread, for many messages at once. */
  decodeAllAsync(raw: Uint8Array | string): Promise<BatchResult>;
  /**
   * `decodeAll` for a message whose exact bytes `signer` vouched for otherwise (a history seal
   * the caller checked): its own signature is not checked again, only that `signer` made it.
   */
  decodeAllVouched(raw: Uint8Array | string, signer: Buffer): BatchResult;
}

/** The codec of an encrypted room, bound to its number, message key and our signing key. */
export function encryptedCodec(room: string, key: Uint8Array, signer: Signer): RoomCodec {
  const sealer = roomSealer(key, room, signer);
  return {
    mode: 'encrypted',
    maxBatch: MAX_BATCH,
    encode: sealer.seal,
    encodeBatch: sealer.sealBatch,
    decode: sealer.open,
    decodeAll: sealer.openAll,
    decodeAllAsync: sealer.openAllAsync,
    decodeAllVouched: sealer.openAllVouched,
  };
}

/** One plain message: its one payload. */
function decodeAll(raw: Uint8Array | string): BatchResult {
  const one = decodePlain(raw);
  return one.ok ? { ok: true, payloads: [one.payload] } : one;
}

/** The codec of a plain room or raw topic: MQTT-Chat's JSON as it is. */
export function plainCodec(): RoomCodec {
  return {
    mode: 'plain',
    maxBatch: 1,
    encode: encodePlain,
    encodeBatch: (payloads) => {
      if (payloads.length !== 1) throw new Error('MQTT-Chat JSON carries one payload per message');
      return encodePlain(payloads[0]!);
    },
    decode: decodePlain,
    decodeAll,
    decodeAllAsync: (raw) => Promise.resolve(decodeAll(raw)),
    // Plain messages carry no signature: nothing to vouch for (never called: no history).
    decodeAllVouched: decodeAll,
  };
}

/** The codec of a registry room: sealed with the key derived from its secret and signed, or plain. */
export function roomCodec(
  room: string,
  mode: RoomMode,
  secret: Uint8Array,
  signer: Signer | undefined,
): RoomCodec {
  if (mode === 'plain') return plainCodec();
  if (!signer) throw new Error('an encrypted room needs a signing key');
  return encryptedCodec(room, messageKey(secret, room), signer);
}
