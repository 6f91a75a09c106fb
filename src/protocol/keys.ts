/**
 * Room secrets. A memory-hard KDF (scrypt) over the room password and a random per-room salt
 * yields the room secret; from it, HKDF derives two independent values: the message key, which
 * never leaves the members' machines, and the verifier, which the database stores to check
 * passwords. Neither the verifier nor the KDF parameters can decrypt anything.
 *
 * The verifier is bound to the room's number and mode: a registry record whose mode was changed
 * (an encrypted room made "plain" by a database write) no longer verifies, so nobody can turn a
 * room's encryption off without its password.
 */
import { hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { RoomMode } from './codec.js';
import {
  DEFAULT_KDF,
  SECRET_BYTES,
  UNBOUND_VERIFIER_INFO,
  messageKeyInfo,
  normalPassword,
  verifierInfo,
  type KdfParams,
} from './kdf.js';

export { DEFAULT_KDF, checkKdfParams, type KdfParams } from './kdf.js';

/** New KDF parameters with a fresh random salt. */
export function newKdfParams(cost: { N: number; r: number; p: number } = DEFAULT_KDF): KdfParams {
  return { alg: 'scrypt', ...cost, salt: randomBytes(16).toString('base64') };
}

/** Derives the room secret from a password (the slow step). */
export async function deriveRoomSecret(password: string, params: KdfParams): Promise<Buffer> {
  const { N, r, p } = params;
  const salt = Buffer.from(params.salt, 'base64');
  return new Promise((resolve, reject) => {
    scrypt(
      normalPassword(password),
      salt,
      SECRET_BYTES,
      { N, r, p, maxmem: 256 * N * r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

function expand(secret: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
}

/** The AES-256-GCM key that seals room `room`'s messages. */
export function messageKey(secret: Uint8Array, room: string): Buffer {
  return expand(secret, messageKeyInfo(room));
}

/**
 * The value the database stores to check a password, bound to the room's number and mode; it
 * reveals nothing that decrypts.
 */
export function verifier(secret: Uint8Array, room: string, mode: RoomMode): Buffer {
  return expand(secret, verifierInfo(room, mode));
}

/** Constant-time check of a room secret against a stored verifier, for that room and mode. */
export function secretMatches(
  secret: Uint8Array,
  storedVerifier: Uint8Array,
  room: string,
  mode: RoomMode,
): boolean {
  const candidate = verifier(secret, room, mode);
  return candidate.length === storedVerifier.length && timingSafeEqual(candidate, storedVerifier);
}

/**
 * Whether a stored verifier is the one sunoye made for this secret before rooms were bound to
 * their number and mode (a room from an older version, which this version cannot vouch for).
 */
export function isUnboundVerifier(secret: Uint8Array, storedVerifier: Uint8Array): boolean {
  const old = expand(secret, UNBOUND_VERIFIER_INFO);
  return old.length === storedVerifier.length && timingSafeEqual(old, storedVerifier);
}
