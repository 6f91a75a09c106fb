/**
 * Member identities: Ed25519 key pairs (node:crypto). A sender is its public key: every sealed
 * payload or batch is signed inside the envelope, so nobody can speak with another member's key,
 * and a short fingerprint of the key lets people compare identities out of band.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

/** Bytes of a raw Ed25519 public key, and of a signature. */
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** What signs: a raw public key and the function that signs with its private half. */
export interface Signer {
  readonly publicKey: Buffer;
  sign(data: Uint8Array): Buffer;
}

/** An Ed25519 key pair as JSON Web Key fields (base64url): `x` public, `d` private. */
export interface KeyPairJwk {
  x: string;
  d: string;
}

/** A new random key pair. */
export function newKeyPair(): KeyPairJwk {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { x: jwk.x!, d: jwk.d! };
}

/** The signer of a key pair; throws if the fields are not an Ed25519 key pair. */
export function signerOf(pair: KeyPairJwk): Signer {
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: pair.x, d: pair.d },
    format: 'jwk',
  });
  const publicKey = Buffer.from(pair.x, 'base64url');
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new Error('not an Ed25519 public key');
  return { publicKey, sign: (data) => sign(null, data, privateKey) };
}

/** A signer with a fresh key pair (for a process that keeps no identity, and for tests). */
export function newSigner(): Signer {
  return signerOf(newKeyPair());
}

// Public keys seen recently, as key objects: building one costs more than a verification.
const KEY_CACHE_SIZE = 1024;
const keyCache = new Map<string, KeyObject>();

function publicKeyObject(raw: Buffer): KeyObject {
  const x = raw.toString('base64url');
  let key = keyCache.get(x);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    keyCache.set(x, key);
    if (keyCache.size > KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
  }
  return key;
}

/** Whether `signature` is `publicKey`'s signature of `data`; never throws. */
export function verifySignature(
  publicKey: Buffer,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, data, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** A key's short fingerprint, for people to compare: 16 hex digits of its SHA-256, in fours. */
export function fingerprint(publicKey: Uint8Array): string {
  const hex = createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
  return hex.match(/.{4}/g)!.join('-');
}
