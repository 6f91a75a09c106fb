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
import { RefusedError } from '../errors.js';
import type { RoomMode } from './codec.js';

/** scrypt parameters as stored with a room. */
export interface KdfParams {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** Random per-room salt, base64. */
  salt: string;
}

/**
 * The cost new rooms get: 128 x 2^16 x 8 bytes = 64 MiB and 0.34 s of one core on a 2-core EPYC
 * (as much per offline guess), a quarter of the work `checkKdfParams` allows.
 */
export const DEFAULT_KDF = { N: 2 ** 16, r: 8, p: 1 } as const;

const SECRET_BYTES = 32;
const MESSAGE_KEY_INFO = 'sunoye v2 message key';
const VERIFIER_INFO = 'sunoye v2 password verifier';

/** New KDF parameters with a fresh random salt. */
export function newKdfParams(cost: { N: number; r: number; p: number } = DEFAULT_KDF): KdfParams {
  return { alg: 'scrypt', ...cost, salt: randomBytes(16).toString('base64') };
}

/**
 * The most a room record may ask of a client: 128·N·r bytes of memory, and N·r·p, the work
 * (scrypt's time is proportional to it): 2^21 took 1.4 s of one core on a 2-core EPYC, 2^22 2.1 s.
 */
const MAX_KDF_MEMORY = 256 * 1024 * 1024;
const MAX_KDF_WORK = 2 ** 21;

/**
 * Checks KDF parameters read from a database before using them, so that a tampered record
 * cannot make a client spend gigabytes or minutes.
 */
export function checkKdfParams(value: unknown): KdfParams {
  const v = value as Partial<KdfParams> | null;
  const wellFormed =
    v !== null &&
    typeof v === 'object' &&
    v.alg === 'scrypt' &&
    Number.isSafeInteger(v.N) &&
    Number.isSafeInteger(v.r) &&
    Number.isSafeInteger(v.p) &&
    typeof v.salt === 'string' &&
    (v.N as number) >= 2 ** 10 &&
    (v.r as number) >= 1 &&
    (v.p as number) >= 1 &&
    Buffer.from(v.salt, 'base64').length >= 16;
  if (!wellFormed) throw new RefusedError('the room record has invalid key-derivation parameters');
  const { N, r, p, salt } = v as KdfParams;
  if (!Number.isInteger(Math.log2(N))) {
    throw new RefusedError(
      'the room record has invalid key-derivation parameters (N is not a power of two)',
    );
  }
  // Refused before any work, so a tampered record costs nothing.
  if (128 * N * r > MAX_KDF_MEMORY || N * r * p > MAX_KDF_WORK) {
    throw new RefusedError(
      `the room record has invalid key-derivation parameters: too costly (scrypt N=${N}, r=${r}, ` +
        `p=${p} needs ${Math.ceil((128 * N * r) / 2 ** 20)} MiB and N·r·p = ${N * r * p}; ` +
        `this client allows at most ${MAX_KDF_MEMORY / 2 ** 20} MiB and ${MAX_KDF_WORK}); ` +
        'the record may have been tampered with',
    );
  }
  return { alg: 'scrypt', N, r, p, salt };
}

/** Derives the room secret from a password (the slow step). */
export async function deriveRoomSecret(password: string, params: KdfParams): Promise<Buffer> {
  const { N, r, p } = params;
  const salt = Buffer.from(params.salt, 'base64');
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFC'),
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
  return expand(secret, `${MESSAGE_KEY_INFO}; room ${room}`);
}

/**
 * The value the database stores to check a password, bound to the room's number and mode; it
 * reveals nothing that decrypts.
 */
export function verifier(secret: Uint8Array, room: string, mode: RoomMode): Buffer {
  return expand(secret, `${VERIFIER_INFO}; room ${room}; mode ${mode}`);
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
  const old = expand(secret, 'sunoye v1 password verifier');
  return old.length === storedVerifier.length && timingSafeEqual(old, storedVerifier);
}
