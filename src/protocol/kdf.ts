/**
 * Room secrets, the part every platform shares: the scrypt parameters a room record holds, the
 * bounds a client enforces on them, and what HKDF derives from the secret. The derivations
 * themselves are `keys.ts` (node:crypto) and `web-crypto.ts` (WebCrypto and noble's scrypt);
 * both follow these definitions, so a browser and a terminal derive the same keys.
 */
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

/** Bytes of a room secret (scrypt's output) and of each key HKDF derives from it. */
export const SECRET_BYTES = 32;

/**
 * The most a room record may ask of a client: 128·N·r bytes of memory, and N·r·p, the work
 * (scrypt's time is proportional to it): 2^21 took 1.4 s of one core on a 2-core EPYC, 2^22 2.1 s.
 */
export const MAX_KDF_MEMORY = 256 * 1024 * 1024;
export const MAX_KDF_WORK = 2 ** 21;

/**
 * Checks KDF parameters read from a database (or a server) before using them, so that a tampered
 * record cannot make a client spend gigabytes or minutes.
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

/** The password as scrypt takes it: Unicode NFC, so one word typed two ways is one password. */
export function normalPassword(password: string): string {
  return password.normalize('NFC');
}

/** HKDF's `info` for the AES-256-GCM key that seals room `room`'s messages. */
export function messageKeyInfo(room: string): string {
  return `sunoye v2 message key; room ${room}`;
}

/** HKDF's `info` for the verifier the database stores, bound to the room's number and mode. */
export function verifierInfo(room: string, mode: RoomMode): string {
  return `sunoye v2 password verifier; room ${room}; mode ${mode}`;
}

/** HKDF's `info` for the verifier of rooms from before they were bound to number and mode. */
export const UNBOUND_VERIFIER_INFO = 'sunoye v1 password verifier';

/** Whether two byte strings are equal, in time that depends only on their length. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
