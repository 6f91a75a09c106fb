/**
 * Sealing, signing and opening envelopes (the format: `wire.ts`) with WebCrypto, for the page:
 * one wait per envelope (a whole batch), never one per line. It seals exactly what `envelope.ts`
 * seals with node:crypto, byte for byte, and opens what it opens, for the same reasons.
 */
import { claimStatement, type MembershipClaim } from './claim.js';
import { subtle, view } from './web-crypto.js';
import { decodePlain, encodePlain, type BatchResult, type ChatPayload } from './payload.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, montgomeryU } from './points.js';
import {
  COMPACT_VERSION,
  NONCE_BYTES,
  TAG_BYTES,
  envelopeText,
  parseEnvelope,
  payloadsOf,
  roomAad,
  sealInput,
  sealedContent,
  signedPart,
  splitPlain,
} from './wire.js';

type Key = Awaited<ReturnType<ReturnType<typeof subtle>['importKey']>>;

/** What signs in a page: a raw public key and its private half, which may never leave WebCrypto. */
export interface WebSigner {
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** The signer of a WebCrypto Ed25519 key pair (its private key may be non-extractable). */
export async function webSignerOf(pair: { publicKey: Key; privateKey: Key }): Promise<WebSigner> {
  const s = subtle();
  const publicKey = new Uint8Array(await s.exportKey('raw', pair.publicKey));
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new Error('not an Ed25519 public key');
  return {
    publicKey,
    sign: async (data) => new Uint8Array(await s.sign('Ed25519', pair.privateKey, view(data))),
  };
}

/** A new Ed25519 identity whose private key cannot be read out (kept as is in IndexedDB). */
export async function newWebIdentity(): Promise<{ publicKey: Key; privateKey: Key }> {
  return (await subtle().generateKey('Ed25519', false, ['sign', 'verify'])) as {
    publicKey: Key;
    privateKey: Key;
  };
}

// An X25519 key to test points with, and Ed25519 keys seen recently (a bounded cache).
let probe: Promise<Key> | undefined;
const KEY_CACHE_SIZE = 1024;
const keyCache = new Map<string, Promise<Key | undefined>>();

/** Whether X25519 takes a point to zero: a key of small order (see `montgomeryU`). */
async function smallOrder(raw: Uint8Array): Promise<boolean> {
  const u = montgomeryU(raw);
  if (u === undefined) return true;
  const s = subtle();
  probe ??= s
    .generateKey({ name: 'X25519' }, false, ['deriveBits'])
    .then((pair) => (pair as { privateKey: Key }).privateKey);
  try {
    const point = await s.importKey('raw', view(u), { name: 'X25519' }, false, []);
    const bits = new Uint8Array(
      await s.deriveBits({ name: 'X25519', public: point }, await probe, 256),
    );
    return bits.every((b) => b === 0);
  } catch {
    return true; // WebCrypto refuses a zero result, as it must
  }
}

/** The verifying key of a raw public key, or undefined for one that is not a usable key. */
function verifyingKey(raw: Uint8Array): Promise<Key | undefined> {
  const name = Buffer.from(raw).toString('base64');
  let key = keyCache.get(name);
  if (key === undefined) {
    key = (async () => {
      if (raw.length !== PUBLIC_KEY_BYTES || (await smallOrder(raw))) return undefined;
      return subtle()
        .importKey('raw', view(raw), 'Ed25519', false, ['verify'])
        .catch(() => undefined);
    })();
    keyCache.set(name, key);
    if (keyCache.size > KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
  }
  return key;
}

/** Whether `signature` is `publicKey`'s signature of `data`; never rejects. */
export async function verifySignatureWeb(
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== SIGNATURE_BYTES) return false;
  const key = await verifyingKey(publicKey);
  if (key === undefined) return false;
  try {
    return await subtle().verify('Ed25519', key, view(signature), view(data));
  } catch {
    return false;
  }
}

/** The page's codec of an encrypted room: a batch sealed or a message opened per wait. */
export interface WebRoomCodec {
  sealBatch(payloads: ChatPayload[]): Promise<string>;
  openAll(raw: Uint8Array | string): Promise<BatchResult>;
}

/**
 * The codec of room `room`, sealed with its message key (`messageKeyWeb`) and signed by
 * `signer`. `nonces` is for tests that compare envelopes byte for byte; a codec's own are random.
 */
export function webRoomCodec(
  messageKey: Uint8Array,
  room: string,
  signer: WebSigner,
  nonces: () => Uint8Array = () => globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)),
): WebRoomCodec {
  const aad = roomAad(room);
  const aes = subtle().importKey('raw', new Uint8Array(messageKey), 'AES-GCM', false, [
    'encrypt',
    'decrypt',
  ]);
  return {
    async sealBatch(payloads) {
      const { content, version } = sealedContent(payloads);
      const ad = version === COMPACT_VERSION ? aad.v3 : aad.v2;
      const { json, signed } = sealInput(ad, content);
      const signature = await signer.sign(signed);
      const plain = new Uint8Array(PUBLIC_KEY_BYTES + SIGNATURE_BYTES + json.length);
      plain.set(signer.publicKey, 0);
      plain.set(signature, PUBLIC_KEY_BYTES);
      plain.set(json, PUBLIC_KEY_BYTES + SIGNATURE_BYTES);
      const nonce = nonces();
      const body = await subtle().encrypt(
        { name: 'AES-GCM', iv: view(nonce), additionalData: view(ad), tagLength: TAG_BYTES * 8 },
        await aes,
        plain,
      );
      return envelopeText(version, nonce, new Uint8Array(body));
    },
    async openAll(raw) {
      const parsed = parseEnvelope(aad, raw);
      if (!parsed.ok) return parsed;
      let plain: ArrayBuffer;
      try {
        plain = await subtle().decrypt(
          {
            name: 'AES-GCM',
            iv: view(parsed.nonce),
            additionalData: view(parsed.aad),
            tagLength: TAG_BYTES * 8,
          },
          await aes,
          view(parsed.body),
        );
      } catch {
        return { ok: false, reason: 'cannot decrypt' };
      }
      const opened = splitPlain(parsed, Buffer.from(plain));
      if (!opened.ok) return opened;
      if (!(await verifySignatureWeb(opened.signer, signedPart(opened), opened.signature)))
        return { ok: false, reason: 'bad signature' };
      return payloadsOf(opened);
    },
  };
}

/** The page's signature of its membership of `room` under `name` since `joinedAt`. */
export async function signMembershipWeb(
  signer: WebSigner,
  claim: Omit<MembershipClaim, 'key'>,
): Promise<{ key: Uint8Array; signature: Uint8Array }> {
  const key = signer.publicKey;
  return { key, signature: await signer.sign(claimStatement({ ...claim, key })) };
}

/** Whether `signature` is the claim's key's signature of the claim; never rejects. */
export function membershipSignedWeb(
  claim: MembershipClaim,
  signature: Uint8Array,
): Promise<boolean> {
  return verifySignatureWeb(claim.key, claimStatement(claim), signature);
}

/** The page's codec of a plain room: MQTT-Chat's JSON as it is, one payload a message. */
export function webPlainCodec(): WebRoomCodec {
  return {
    sealBatch: (payloads) => {
      if (payloads.length !== 1)
        return Promise.reject(new Error('MQTT-Chat JSON carries one payload per message'));
      return Promise.resolve(encodePlain(payloads[0]!));
    },
    openAll: (raw) => {
      const one = decodePlain(raw);
      return Promise.resolve(one.ok ? { ok: true, payloads: [one.payload] } : one);
    },
  };
}
