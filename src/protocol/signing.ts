/**
 * Member identities: Ed25519 key pairs (node:crypto). A sender is its public key: every sealed
 * payload or batch is signed inside the envelope, so nobody can speak with another member's key,
 * and a short fingerprint of the key lets people compare identities out of band.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, montgomeryU } from './points.js';

export { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, fingerprint } from './points.js';

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

// An X25519 key to test points with (made when first needed).
let probe: KeyObject | undefined;

/**
 * Whether a raw Ed25519 public key is of small order (see `montgomeryU`): node:crypto's X25519
 * refuses a zero result.
 */
function smallOrder(raw: Buffer): boolean {
  const u = montgomeryU(raw);
  if (u === undefined) return true;
  const x = Buffer.from(u).toString('base64url');
  probe ??= generateKeyPairSync('x25519').privateKey;
  try {
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    diffieHellman({ privateKey: probe, publicKey });
    return false;
  } catch {
    return true;
  }
}

function publicKeyObject(raw: Buffer): KeyObject {
  const x = raw.toString('base64url');
  let key = keyCache.get(x);
  if (key === undefined) {
    if (smallOrder(raw)) throw new Error('a public key of small order');
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    keyCache.set(x, key);
    if (keyCache.size > KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
  }
  return key;
}

/**
 * Signatures over small data found good lately, each named by the SHA-256 of the key, the
 * signature and the data: listeners of one room in one process (a host of many, the cost bench)
 * and a message that comes twice check the same signature once. Hashing small data costs a few
 * microseconds, a check 60 to 90; over larger data (a pipe's batches) the hash would cost about
 * as much as the check saves, so those are always checked.
 */
const GOOD_SIGNATURES = 4096;
const GOOD_DATA_BYTES = 8 * 1024;
const good = new Set<string>();

function goodName(publicKey: Buffer, data: Uint8Array, signature: Uint8Array): string {
  return createHash('sha256').update(publicKey).update(signature).update(data).digest('base64');
}

/** How many good signatures are remembered (for tests). */
export function goodSignaturesHeld(): number {
  return good.size;
}

/** Whether `signature` is `publicKey`'s signature of `data`; never throws. */
export function verifySignature(
  publicKey: Buffer,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  const name = data.length <= GOOD_DATA_BYTES ? goodName(publicKey, data, signature) : undefined;
  if (name !== undefined && good.has(name)) return true;
  let ok: boolean;
  try {
    ok = verify(null, data, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
  if (ok && name !== undefined) {
    good.add(name);
    if (good.size > GOOD_SIGNATURES) good.delete(good.values().next().value!);
  }
  return ok;
}

/**
 * `verifySignature` off the main thread (Node's thread pool), for checking many signatures at
 * once: a listener reading 10,000 rows of history uses every core. Never rejects.
 */
export function verifySignatureAsync(
  publicKey: Buffer,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES)
    return Promise.resolve(false);
  let key: KeyObject;
  try {
    key = publicKeyObject(publicKey);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    try {
      verify(null, data, key, signature, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}
