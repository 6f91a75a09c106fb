/** One room's wire format: sealed envelopes in encrypted rooms, MQTT-Chat JSON in plain ones. */
import { roomSealer } from './envelope.js';
import { messageKey } from './keys.js';
import { decodePlain, encodePlain, type ChatPayload, type DecodeResult } from './payload.js';

/** How a room's payloads travel. */
export type RoomMode = 'encrypted' | 'plain';

/** Encodes and decodes the payloads of one room. */
export interface RoomCodec {
  readonly mode: RoomMode;
  encode(payload: ChatPayload): string;
  decode(raw: Uint8Array | string): DecodeResult;
}

/** The codec of an encrypted room, bound to its number and message key. */
export function encryptedCodec(room: string, key: Uint8Array): RoomCodec {
  const sealer = roomSealer(key, room);
  return { mode: 'encrypted', encode: sealer.seal, decode: sealer.open };
}

/** The codec of a plain room or raw topic: MQTT-Chat's JSON as it is. */
export function plainCodec(): RoomCodec {
  return { mode: 'plain', encode: encodePlain, decode: decodePlain };
}

/** The codec of a registry room: sealed with the key derived from its secret, or plain. */
export function roomCodec(room: string, mode: RoomMode, secret: Uint8Array): RoomCodec {
  return mode === 'encrypted' ? encryptedCodec(room, messageKey(secret)) : plainCodec();
}
