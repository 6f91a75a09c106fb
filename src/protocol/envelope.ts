/**
 * The encryption envelope of normal rooms: a small versioned JSON object holding an AES-256-GCM
 * ciphertext of the chat payload. The associated data binds the protocol version and the room
 * number, so a payload sealed for another room, with another key, or altered, does not open.
 *
 * Inside the ciphertext, the sender's Ed25519 public key (32 bytes) and its signature (64 bytes)
 * of the associated data and the JSON body come first: the room key proves membership, the
 * signature proves which member. Neither the key nor the signature is visible to the broker.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import {
  MAX_PLAIN_PAYLOAD_BYTES,
  byteSize,
  checkPayload,
  decodeText,
  type BatchResult,
  type ChatPayload,
  type DecodeResult,
} from './payload.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, verifySignature, type Signer } from './signing.js';

/** Envelope format version. */
export const ENVELOPE_VERSION = 2;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Largest envelope accepted before parsing (base64 of the largest payload, plus framing). */
export const MAX_ENVELOPE_BYTES = Math.ceil((MAX_PLAIN_PAYLOAD_BYTES + TAG_BYTES) / 3) * 4 + 256;

function associatedData(room: string): Buffer {
  return Buffer.from(`sunoye/v${ENVELOPE_VERSION}/room/${room}`, 'utf8');
}

// Nonces are random (many senders share a room key, so a counter could repeat). They are cut
// from a pool filled 1,024 at a time: one call into the random generator per message costs more
// than the encryption. A used pool is dropped, never refilled, so no nonce is handed out twice.
const NONCES_PER_POOL = 1024;
let noncePool = Buffer.alloc(0);
let nonceAt = 0;
function nextNonce(): Buffer {
  if (nonceAt + NONCE_BYTES > noncePool.length) {
    noncePool = randomFillSync(Buffer.allocUnsafe(NONCE_BYTES * NONCES_PER_POOL));
    nonceAt = 0;
  }
  nonceAt += NONCE_BYTES;
  return noncePool.subarray(nonceAt - NONCE_BYTES, nonceAt);
}

/** Seals and signs a payload for one room. */
export function seal(key: Uint8Array, room: string, payload: ChatPayload, signer: Signer): string {
  return sealWith(key, associatedData(room), payload, signer);
}

/**
 * Seals one payload, or a batch of them (a JSON array: what a pipe produced at once travels as one
 * MQTT message, one encryption), with the associated data of a room already made.
 */
function sealWith(
  key: Uint8Array,
  aad: Buffer,
  content: ChatPayload | ChatPayload[],
  signer: Signer,
): string {
  const json = Buffer.from(JSON.stringify(content), 'utf8');
  const signature = signer.sign(Buffer.concat([aad, json]));
  const nonce = nextNonce();
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([
    cipher.update(signer.publicKey),
    cipher.update(signature),
    cipher.update(json),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  // Base64 needs no JSON escaping, so the envelope is written out directly.
  return `{"sunoye":${ENVELOPE_VERSION},"n":"${nonce.toString('base64')}","c":"${body.toString('base64')}"}`;
}

/** Most payloads in one sealed batch. */
export const MAX_BATCH = 1000;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes canonical base64, or returns undefined. Node's decoder skips what is not base64, so a
 * string with anything else in it decodes to fewer bytes than its length promises: comparing the
 * two checks a long ciphertext without running a regular expression over it.
 */
function strictBase64(s: string): Buffer | undefined {
  if (s.length % 4 !== 0) return undefined;
  const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(s, 'base64');
  return bytes.length === (s.length / 4) * 3 - padding ? bytes : undefined;
}

/** Opens an envelope sealed for `room` holding one payload; never throws. */
export function open(key: Uint8Array, room: string, raw: Uint8Array | string): DecodeResult {
  return single(openWith(key, associatedData(room), raw));
}

function single(result: BatchResult): DecodeResult {
  if (!result.ok) return result;
  if (result.payloads.length !== 1)
    return { ok: false, reason: `a batch of ${result.payloads.length} payloads` };
  return { ok: true, payload: result.payloads[0]! };
}

/** Seal and open bound to one room and key, with the associated data made once. */
export function roomSealer(
  key: Uint8Array,
  room: string,
  signer: Signer,
): {
  seal: (payload: ChatPayload) => string;
  sealBatch: (payloads: ChatPayload[]) => string;
  open: (raw: Uint8Array | string) => DecodeResult;
  openAll: (raw: Uint8Array | string) => BatchResult;
} {
  const aad = associatedData(room);
  return {
    seal: (payload) => sealWith(key, aad, payload, signer),
    sealBatch: (payloads) =>
      sealWith(key, aad, payloads.length === 1 ? payloads[0]! : payloads, signer),
    open: (raw) => single(openWith(key, aad, raw)),
    openAll: (raw) => openWith(key, aad, raw),
  };
}

/** Opens an envelope: its one payload or its batch, all valid, or the reason why not. */
function openWith(key: Uint8Array, aad: Buffer, raw: Uint8Array | string): BatchResult {
  if (byteSize(raw) > MAX_ENVELOPE_BYTES) return { ok: false, reason: 'too large' };
  const text = decodeText(raw);
  if (!text.ok) return text;
  let env: unknown;
  try {
    env = JSON.parse(text.text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const e = env as { sunoye?: unknown; n?: unknown; c?: unknown } | null;
  if (e === null || typeof e !== 'object' || !('sunoye' in e)) {
    return { ok: false, reason: 'not encrypted (plain payload in an encrypted room)' };
  }
  if (e.sunoye !== ENVELOPE_VERSION)
    return {
      ok: false,
      reason: `unsupported envelope version ${JSON.stringify(e.sunoye)} (sunoye speaks ${ENVELOPE_VERSION}: the sender may run another version)`,
    };
  if (typeof e.n !== 'string' || typeof e.c !== 'string' || !BASE64.test(e.n)) {
    return { ok: false, reason: 'malformed envelope' };
  }
  const nonce = Buffer.from(e.n, 'base64');
  const body = strictBase64(e.c);
  if (nonce.length !== NONCE_BYTES || body === undefined || body.length < TAG_BYTES)
    return { ok: false, reason: 'malformed envelope' };
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    plain = Buffer.concat([
      decipher.update(body.subarray(0, body.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return { ok: false, reason: 'cannot decrypt' };
  }
  const signed = PUBLIC_KEY_BYTES + SIGNATURE_BYTES;
  if (plain.length <= signed) return { ok: false, reason: 'malformed envelope' };
  const signer = plain.subarray(0, PUBLIC_KEY_BYTES);
  const json = plain.subarray(signed);
  if (
    !verifySignature(signer, Buffer.concat([aad, json]), plain.subarray(PUBLIC_KEY_BYTES, signed))
  )
    return { ok: false, reason: 'bad signature' };
  const inner = decodeText(json);
  if (!inner.ok) return inner;
  let content: unknown;
  try {
    content = JSON.parse(inner.text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!Array.isArray(content)) {
    const one = checkPayload(content);
    return one.ok ? { ok: true, payloads: [one.payload], signer: Buffer.from(signer) } : one;
  }
  if (content.length === 0 || content.length > MAX_BATCH)
    return { ok: false, reason: `a batch must hold 1 to ${MAX_BATCH} payloads` };
  const payloads: ChatPayload[] = [];
  for (const [i, item] of content.entries()) {
    const one = checkPayload(item);
    if (!one.ok) return { ok: false, reason: `batch item ${i}: ${one.reason}` };
    payloads.push(one.payload);
  }
  return { ok: true, payloads, signer: Buffer.from(signer) };
}
