/**
 * Sealing and opening envelopes (the format: `wire.ts`) with node:crypto, synchronously: the
 * terminal programs seal a batch and open a message in one call, with no wait.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import type { BatchResult, ChatPayload, DecodeResult } from './payload.js';
import { verifySignature, verifySignatureAsync, type Signer } from './signing.js';
import {
  ENVELOPE_VERSION,
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
  type CompactBatch,
  type RoomAad,
  type Unsealed,
} from './wire.js';

export { COMPACT_VERSION, ENVELOPE_VERSION, MAX_BATCH, MAX_ENVELOPE_BYTES } from './wire.js';

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
  return sealWith(key, roomAad(room).v2, payload, signer);
}

/**
 * Seals one payload, or a batch of them (what a pipe produced at once travels as one MQTT
 * message, one encryption), with the associated data of a room already made.
 */
function sealWith(
  key: Uint8Array,
  aad: Buffer,
  content: ChatPayload | ChatPayload[] | CompactBatch,
  signer: Signer,
  version = ENVELOPE_VERSION,
  nonce: Uint8Array = nextNonce(),
): string {
  const { json, signed } = sealInput(aad, content);
  const signature = signer.sign(signed);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([
    cipher.update(signer.publicKey),
    cipher.update(signature),
    cipher.update(json),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return envelopeText(version, nonce, body);
}

/** Opens an envelope sealed for `room` holding one payload; never throws. */
export function open(key: Uint8Array, room: string, raw: Uint8Array | string): DecodeResult {
  return single(openWith(key, roomAad(room), raw));
}

function single(result: BatchResult): DecodeResult {
  if (!result.ok) return result;
  if (result.payloads.length !== 1)
    return { ok: false, reason: `a batch of ${result.payloads.length} payloads` };
  return { ok: true, payload: result.payloads[0]! };
}

/**
 * Seal and open bound to one room and key, with the associated data made once. `nonces` is for
 * tests that compare envelopes byte for byte; a sealer's own nonces are random.
 */
export function roomSealer(
  key: Uint8Array,
  room: string,
  signer: Signer,
  nonces: () => Uint8Array = nextNonce,
): {
  seal: (payload: ChatPayload) => string;
  sealBatch: (payloads: ChatPayload[]) => string;
  open: (raw: Uint8Array | string) => DecodeResult;
  openAll: (raw: Uint8Array | string) => BatchResult;
  openAllAsync: (raw: Uint8Array | string) => Promise<BatchResult>;
  openAllVouched: (raw: Uint8Array | string, signer: Buffer) => BatchResult;
} {
  const aad = roomAad(room);
  return {
    seal: (payload) => sealWith(key, aad.v2, payload, signer, ENVELOPE_VERSION, nonces()),
    sealBatch: (payloads) => {
      const { content, version } = sealedContent(payloads);
      return sealWith(
        key,
        aad[version === ENVELOPE_VERSION ? 'v2' : 'v3'],
        content,
        signer,
        version,
        nonces(),
      );
    },
    open: (raw) => single(openWith(key, aad, raw)),
    openAll: (raw) => openWith(key, aad, raw),
    openAllAsync: (raw) => openWithAsync(key, aad, raw),
    openAllVouched: (raw, signer) => openVouched(key, aad, raw, signer),
  };
}

/**
 * `openWith` for an envelope whose exact bytes `signer` vouched for by other means (a seal over
 * history rows, checked by the caller): decrypted and checked in full, but its own signature
 * not checked again. One signed by any other key than `signer` does not open.
 */
function openVouched(
  key: Uint8Array,
  aad: RoomAad,
  raw: Uint8Array | string,
  signer: Buffer,
): BatchResult {
  const opened = unseal(key, aad, raw);
  if (!opened.ok) return opened;
  if (!opened.signer.equals(signer)) return { ok: false, reason: 'bad signature' };
  return payloadsOf(opened);
}

/** Opens an envelope: its one payload or its batch, all valid, or the reason why not. */
function openWith(key: Uint8Array, aad: RoomAad, raw: Uint8Array | string): BatchResult {
  const opened = unseal(key, aad, raw);
  if (!opened.ok) return opened;
  if (!verifySignature(opened.signer, signedPart(opened), opened.signature))
    return { ok: false, reason: 'bad signature' };
  return payloadsOf(opened);
}

/** `openWith`, its signature checked on Node's thread pool (many envelopes at once). */
async function openWithAsync(
  key: Uint8Array,
  aad: RoomAad,
  raw: Uint8Array | string,
): Promise<BatchResult> {
  const opened = unseal(key, aad, raw);
  if (!opened.ok) return opened;
  if (!(await verifySignatureAsync(opened.signer, signedPart(opened), opened.signature)))
    return { ok: false, reason: 'bad signature' };
  return payloadsOf(opened);
}

/** Decrypts an envelope and splits its plaintext; checks no signature. */
function unseal(
  key: Uint8Array,
  aads: RoomAad,
  raw: Uint8Array | string,
): Unsealed | { ok: false; reason: string } {
  const parsed = parseEnvelope(aads, raw);
  if (!parsed.ok) return parsed;
  const { aad, nonce, body } = parsed;
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
  return splitPlain(parsed, plain);
}
