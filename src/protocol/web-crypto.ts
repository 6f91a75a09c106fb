/**
 * The protocol's cryptography over WebCrypto (a browser's, or Node's own `crypto.subtle`) and
 * noble's scrypt (WebCrypto has none): what a page needs to derive a room's keys, seal, sign and
 * open. Every format and rule comes from the shared modules (`kdf.ts`, `wire.ts`, `points.ts`);
 * only the primitives are WebCrypto's, and they give byte for byte what node:crypto gives.
 *
 * WebCrypto is asynchronous, so this is: one wait per envelope (a whole batch), never per line.
 */
import { scrypt } from '@noble/hashes/scrypt.js';
import type { RoomMode } from './codec.js';
import {
  SECRET_BYTES,
  UNBOUND_VERIFIER_INFO,
  messageKeyInfo,
  normalPassword,
  sameBytes,
  verifierInfo,
  type KdfParams,
} from './kdf.js';

type Subtle = typeof globalThis.crypto.subtle;

/** WebCrypto's subtle interface, or an error that says why the page has none. */
export const subtle = (): Subtle => {
  const s = globalThis.crypto?.subtle;
  if (s === undefined)
    throw new Error(
      'WebCrypto is not available here (a page must come from http://127.0.0.1 or https)',
    );
  return s;
};

const utf8 = new TextEncoder();

/** A view of `bytes` WebCrypto's typings take (no copy when it is a whole ArrayBuffer's). */
export function view(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : new Uint8Array(bytes);
}

/**
 * Derives the room secret from a password (the slow step: 0.3 to 0.5 s at the default cost).
 * `onProgress` hears 0 to 1 as it goes, for a progress bar; run it in a Worker, as it holds the
 * thread it runs on. The parameters must have been through `checkKdfParams`.
 */
export function deriveRoomSecretWeb(
  password: string,
  params: KdfParams,
  onProgress?: (done: number) => void,
): Uint8Array {
  const salt = Buffer.from(params.salt, 'base64');
  return scrypt(utf8.encode(normalPassword(password)), salt, {
    N: params.N,
    r: params.r,
    p: params.p,
    dkLen: SECRET_BYTES,
    maxmem: 256 * params.N * params.r + 1024 * 1024,
    ...(onProgress ? { onProgress } : {}),
  });
}

async function expand(secret: Uint8Array, info: string): Promise<Uint8Array> {
  const s = subtle();
  const ikm = await s.importKey('raw', view(secret), 'HKDF', false, ['deriveBits']);
  const bits = await s.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8.encode(info) },
    ikm,
    SECRET_BYTES * 8,
  );
  return new Uint8Array(bits);
}

/** The AES-256-GCM key that seals room `room`'s messages, as raw bytes (keys.ts's `messageKey`). */
export function messageKeyWeb(secret: Uint8Array, room: string): Promise<Uint8Array> {
  return expand(secret, messageKeyInfo(room));
}

/** The verifier the database stores for this secret, room and mode (keys.ts's `verifier`). */
export function verifierWeb(secret: Uint8Array, room: string, mode: RoomMode): Promise<Uint8Array> {
  return expand(secret, verifierInfo(room, mode));
}

/** Whether a room secret matches a stored verifier (in constant time). */
export async function secretMatchesWeb(
  secret: Uint8Array,
  storedVerifier: Uint8Array,
  room: string,
  mode: RoomMode,
): Promise<boolean> {
  return sameBytes(await verifierWeb(secret, room, mode), storedVerifier);
}

/** Whether a stored verifier is an unbound one (a room from an older version) for this secret. */
export async function isUnboundVerifierWeb(
  secret: Uint8Array,
  storedVerifier: Uint8Array,
): Promise<boolean> {
  return sameBytes(await expand(secret, UNBOUND_VERIFIER_INFO), storedVerifier);
}
