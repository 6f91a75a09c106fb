/**
 * The encryption envelope of normal rooms, as it travels: a small versioned JSON object holding an
 * AES-256-GCM ciphertext of the chat payload (or a batch of them). The associated data binds the
 * protocol version and the room number, so a payload sealed for another room, with another key,
 * or altered, does not open.
 *
 * Inside the ciphertext, the sender's Ed25519 public key (32 bytes) and its signature (64 bytes)
 * of the associated data and the JSON body come first: the room key proves membership, the
 * signature proves which member. Neither the key nor the signature is visible to the broker.
 *
 * This module is the format and its checks, with no cryptography of its own: `envelope.ts` seals
 * and opens with node:crypto, `web-envelope.ts` with WebCrypto, both through these steps, so the
 * terminal programs and the page speak one format.
 */
import { MAX_TEXT_BYTES } from './schema.js';
import {
  MAX_PLAIN_PAYLOAD_BYTES,
  byteSize,
  checkPayload,
  decodeText,
  type BatchResult,
  type ChatPayload,
} from './payload.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './points.js';

/** Envelope format version. */
export const ENVELOPE_VERSION = 2;
/**
 * The envelope version of a compact batch: the messages one sender stamped together (one time,
 * consecutive numbers), as their sender, first number, time and texts, not an object each. It is
 * bound into the associated data like the version of any envelope, so no body sealed as one
 * version opens as the other.
 */
export const COMPACT_VERSION = 3;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Largest envelope accepted before parsing (base64 of the largest payload, plus framing). */
export const MAX_ENVELOPE_BYTES = Math.ceil((MAX_PLAIN_PAYLOAD_BYTES + TAG_BYTES) / 3) * 4 + 256;

function associatedData(room: string, version = ENVELOPE_VERSION): Buffer {
  return Buffer.from(`sunoye/v${version}/room/${room}`, 'utf8');
}

/** The associated data of each envelope version a room's envelopes may have. */
export interface RoomAad {
  v2: Buffer;
  v3: Buffer;
}

export function roomAad(room: string): RoomAad {
  return { v2: associatedData(room), v3: associatedData(room, COMPACT_VERSION) };
}

/** A compact batch, as sealed (see COMPACT_VERSION). */
export interface CompactBatch {
  from: string;
  /** The sender part of the messages' ids (`<sender>-<seq>`). */
  sender: string;
  /** The first message's number; the others follow it one by one. */
  seq: number;
  ts: string;
  lines: string[];
}

/**
 * The compact form of a batch: two messages or more, of one sender and name, stamped at one time
 * with consecutive numbers and ids `<sender>-<seq>`; else undefined (it goes as an array). It
 * opens (`expand`) to exactly these payloads.
 */
function compactOf(payloads: ChatPayload[]): CompactBatch | undefined {
  const first = payloads[0];
  if (payloads.length < 2 || first?.type !== 'message') return undefined;
  const { from, id, seq, ts } = first;
  if (id === undefined || seq === undefined || ts === undefined) return undefined;
  const sender = id.slice(0, id.length - String(seq).length - 1);
  const lines: string[] = [];
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i]!;
    if (p.type !== 'message' || p.from !== from || p.ts !== ts || p.seq !== seq + i)
      return undefined;
    if (p.id !== `${sender}-${seq + i}`) return undefined;
    lines.push(p.message);
  }
  return { from, sender, seq, ts, lines };
}

const COMPACT_KEYS = ['from', 'sender', 'seq', 'ts', 'lines'];

/**
 * The payloads of a compact batch, with every check the same payloads get in an array (and
 * the same reasons): the schema checks the first and the last as whole payloads (the others
 * differ from them only in a number between theirs, its id, and the text), and every text is
 * checked as a message's text is.
 */
function expand(
  content: unknown,
): { ok: true; payloads: ChatPayload[] } | { ok: false; reason: string } {
  const c = content as Partial<CompactBatch> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    Array.isArray(c) ||
    Object.keys(c).length !== COMPACT_KEYS.length ||
    !COMPACT_KEYS.every((k) => Object.hasOwn(c, k))
  )
    return { ok: false, reason: 'malformed batch' };
  const { from, sender, seq, ts, lines } = c as CompactBatch;
  if (!Array.isArray(lines) || lines.length === 0 || lines.length > MAX_BATCH)
    return { ok: false, reason: `a batch must hold 1 to ${MAX_BATCH} payloads` };
  if (typeof sender !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq))
    return { ok: false, reason: 'malformed batch' };
  const last = lines.length - 1;
  for (const i of last === 0 ? [0] : [0, last]) {
    const one = checkPayload({
      type: 'message',
      from,
      id: `${sender}-${seq + i}`,
      seq: seq + i,
      ts,
      message: lines[i],
    });
    if (!one.ok) return { ok: false, reason: `batch item ${i}: ${one.reason}` };
  }
  const payloads: ChatPayload[] = [];
  for (let i = 0; i < lines.length; i++) {
    const message = lines[i];
    if (typeof message !== 'string')
      return { ok: false, reason: `batch item ${i}: /message: must be string` };
    if (message.length * 3 > MAX_TEXT_BYTES && Buffer.byteLength(message) > MAX_TEXT_BYTES)
      return {
        ok: false,
        reason: `batch item ${i}: /message: must be at most ${MAX_TEXT_BYTES} bytes of UTF-8`,
      };
    const n = seq + i;
    payloads.push({ type: 'message', from, id: `${sender}-${n}`, seq: n, ts, message });
  }
  return { ok: true, payloads };
}

/** What a batch travels as: its compact form when it has one, one payload alone, or an array. */
export function sealedContent(payloads: ChatPayload[]): {
  content: ChatPayload | ChatPayload[] | CompactBatch;
  version: number;
} {
  const compact = compactOf(payloads);
  if (compact) return { content: compact, version: COMPACT_VERSION };
  return { content: payloads.length === 1 ? payloads[0]! : payloads, version: ENVELOPE_VERSION };
}

/** The JSON body a sender seals, and the bytes it signs: the associated data, then the body. */
export function sealInput(
  aad: Uint8Array,
  content: ChatPayload | ChatPayload[] | CompactBatch,
): { json: Buffer; signed: Buffer } {
  const json = Buffer.from(JSON.stringify(content), 'utf8');
  return { json, signed: Buffer.concat([aad, json]) };
}

/** The envelope's text around a nonce and a sealed body (the ciphertext, then the tag). */
export function envelopeText(version: number, nonce: Uint8Array, body: Uint8Array): string {
  // Base64 needs no JSON escaping, so the envelope is written out directly.
  const n = Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString('base64');
  const c = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
  return `{"sunoye":${version},"n":"${n}","c":"${c}"}`;
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
/** A decrypted envelope before its signature is checked: the signer, what it signed, the body. */
export interface Unsealed {
  ok: true;
  signer: Buffer;
  signature: Buffer;
  /** The associated data it was sealed with. */
  aad: Buffer;
  json: Buffer;
  /** The envelope's version: what the JSON body is (ENVELOPE_VERSION or COMPACT_VERSION). */
  version: number;
}

/** What an envelope's signature covers: the associated data, then the JSON body. */
export function signedPart(opened: Unsealed): Buffer {
  return Buffer.concat([opened.aad, opened.json]);
}

/** An envelope read off the wire and checked, before anything is decrypted. */
export interface Parsed {
  ok: true;
  /** What the JSON body is (ENVELOPE_VERSION or COMPACT_VERSION). */
  version: number;
  /** The associated data it must have been sealed with. */
  aad: Buffer;
  nonce: Buffer;
  /** The sealed body: the ciphertext, then the 16-byte tag. */
  body: Buffer;
}

/** Reads an envelope's framing; decrypts nothing and never throws. */
export function parseEnvelope(
  aads: RoomAad,
  raw: Uint8Array | string,
): Parsed | { ok: false; reason: string } {
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
  if (e.sunoye !== ENVELOPE_VERSION && e.sunoye !== COMPACT_VERSION)
    return {
      ok: false,
      reason: `unsupported envelope version ${JSON.stringify(e.sunoye)} (sunoye speaks ${ENVELOPE_VERSION}: the sender may run another version)`,
    };
  if (typeof e.n !== 'string' || typeof e.c !== 'string' || !BASE64.test(e.n)) {
    return { ok: false, reason: 'malformed envelope' };
  }
  const version = e.sunoye;
  const aad = version === COMPACT_VERSION ? aads.v3 : aads.v2;
  const nonce = Buffer.from(e.n, 'base64');
  const body = strictBase64(e.c);
  if (nonce.length !== NONCE_BYTES || body === undefined || body.length < TAG_BYTES)
    return { ok: false, reason: 'malformed envelope' };
  return { ok: true, version, aad, nonce, body };
}

/** Splits a decrypted body into the signer, its signature and the JSON; checks no signature. */
export function splitPlain(
  parsed: Parsed,
  plain: Buffer,
): Unsealed | { ok: false; reason: string } {
  const signed = PUBLIC_KEY_BYTES + SIGNATURE_BYTES;
  if (plain.length <= signed) return { ok: false, reason: 'malformed envelope' };
  return {
    ok: true,
    signer: plain.subarray(0, PUBLIC_KEY_BYTES),
    signature: plain.subarray(PUBLIC_KEY_BYTES, signed),
    aad: parsed.aad,
    json: plain.subarray(signed),
    version: parsed.version,
  };
}

/** The payloads of an envelope whose signature held. */
export function payloadsOf({ json, signer, version }: Unsealed): BatchResult {
  const inner = decodeText(json);
  if (!inner.ok) return inner;
  let content: unknown;
  try {
    content = JSON.parse(inner.text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (version === COMPACT_VERSION) {
    const batch = expand(content);
    return batch.ok ? { ...batch, signer: Buffer.from(signer) } : batch;
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
