/**
 * Ed25519 public keys, the part every platform shares: their sizes, the test for keys of small
 * order, and the fingerprint people compare. The signing itself is node:crypto's (`signing.ts`)
 * or WebCrypto's (`web-envelope.ts`).
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** Bytes of a raw Ed25519 public key, and of a signature. */
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

// Ed25519's field prime.
const P = 2n ** 255n - 19n;

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  for (let b = base % P, e = exponent; e > 0n; e >>= 1n, b = (b * b) % P)
    if (e & 1n) result = (result * b) % P;
  return result;
}

/**
 * A raw Ed25519 public key's point as an X25519 public key (its Montgomery u = (1 + y) / (1 - y),
 * 32 bytes little-endian), or undefined for the identity, which has none.
 *
 * A key is of small order (the identity, the zero key…) exactly when X25519, whose scalars are
 * multiples of 8, takes its u to zero: nobody holds the private half of such a key and anyone can
 * sign for it (the identity key and the signature "identity, 0" verify for every message), so it
 * would be a name anyone in the room could speak under. Each platform asks its own X25519.
 */
export function montgomeryU(raw: Uint8Array): Uint8Array | undefined {
  let y = 0n;
  for (let i = raw.length - 1; i >= 0; i--) y = (y << 8n) | BigInt(raw[i]!);
  y &= (1n << 255n) - 1n;
  const denominator = (((1n - y) % P) + P) % P;
  if (denominator === 0n) return undefined; // the identity
  let u = ((1n + y) * power(denominator, P - 2n)) % P;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, u >>= 8n) out[i] = Number(u & 0xffn);
  return out;
}

/** A key's short fingerprint from the SHA-256 of the key: 16 hex digits, in fours. */
export function fingerprintOf(sha256: Uint8Array): string {
  let hex = '';
  for (const byte of sha256.subarray(0, 8)) hex += byte.toString(16).padStart(2, '0');
  return hex.match(/.{4}/g)!.join('-');
}

/** A key's short fingerprint, for people to compare: 16 hex digits of its SHA-256, in fours. */
export function fingerprint(publicKey: Uint8Array): string {
  return fingerprintOf(sha256(publicKey));
}
