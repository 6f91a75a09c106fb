/**
 * Encoding and decoding of chat payloads. Decoding never throws: it returns the payload or a
 * short reason, and the caller decides what to do with bad input.
 */
import { MAX_NAME_CHARS, MAX_TEXT_BYTES, type NoticeEvent } from './schema.js';
import { schemaProblem } from './validate.js';

interface PayloadBase {
  from: string;
  id?: string;
  seq?: number;
  ts?: string;
}
export interface ChatMessage extends PayloadBase {
  type: 'message';
  message: string;
}
export interface ChatNotice extends PayloadBase {
  type: 'notice';
  notice: string;
  event?: NoticeEvent;
  /** On an `end` notice: when the sender's first payload was stamped. */
  since?: string;
  /**
   * On a join notice and the last will made with it: the random id of that connection, so a will
   * is live news only for the connection a listener heard join (older versions send none).
   */
  conn?: string;
}
/** One chat payload as sunoye understands it. */
export type ChatPayload = ChatMessage | ChatNotice;

/** What decoding returns: the payload, or why there is none. */
export type DecodeResult = { ok: true; payload: ChatPayload } | { ok: false; reason: string };
/**
 * What decoding one MQTT message returns: its payloads (several for a sealed batch) and the raw
 * public key that signed them (none in plain rooms), or why there are none.
 */
export type BatchResult =
  { ok: true; payloads: ChatPayload[]; signer?: Buffer } | { ok: false; reason: string };

/** Largest raw plain payload accepted before parsing: the text limit plus room for the rest. */
export const MAX_PLAIN_PAYLOAD_BYTES = MAX_TEXT_BYTES * 6 + 4096;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** MQTT-Chat's last will: the plain text `User NAME timed out.` and a newline. */
const MQTT_CHAT_WILL = new RegExp(`^User (.{1,${MAX_NAME_CHARS}}?) timed out\\.\\r?\\n?$`, 'su');

/** Turns raw bytes or text into UTF-8 text, or a reason. */
export function decodeText(
  raw: Uint8Array | string,
): { ok: true; text: string } | { ok: false; reason: string } {
  if (typeof raw === 'string') return { ok: true, text: raw };
  try {
    return { ok: true, text: utf8.decode(raw) };
  } catch {
    return { ok: false, reason: 'not UTF-8' };
  }
}

/** Checks a parsed value against the schema and the byte limits, keeping only known fields. */
export function checkPayload(value: unknown): DecodeResult {
  const problem = schemaProblem(value);
  if (problem) return { ok: false, reason: problem };
  const v = value as Record<string, unknown> & ChatPayload;
  const text = v.type === 'message' ? v.message : v.notice;
  // A UTF-16 unit is at most 3 bytes of UTF-8: a short text needs no counting.
  if (text.length * 3 > MAX_TEXT_BYTES && Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) {
    return { ok: false, reason: `/${v.type}: must be at most ${MAX_TEXT_BYTES} bytes of UTF-8` };
  }
  // The usual message (every field sunoye stamps) made in one go, fields in the usual order.
  if (v.type === 'message' && v.id !== undefined && v.seq !== undefined && v.ts !== undefined)
    return {
      ok: true,
      payload: {
        type: 'message',
        from: v.from,
        id: v.id,
        seq: v.seq,
        ts: v.ts,
        message: v.message,
      },
    };
  const base: PayloadBase = { from: v.from };
  if (v.id !== undefined) base.id = v.id;
  if (v.seq !== undefined) base.seq = v.seq;
  if (v.ts !== undefined) base.ts = v.ts;
  if (v.type === 'message')
    return { ok: true, payload: { type: 'message', ...base, message: v.message } };
  const notice: ChatNotice = { type: 'notice', ...base, notice: v.notice };
  if (v.event !== undefined) notice.event = v.event;
  if (v.since !== undefined) notice.since = v.since;
  if (v.conn !== undefined) notice.conn = v.conn;
  return { ok: true, payload: notice };
}

/** Size in bytes of a raw payload. */
export function byteSize(raw: Uint8Array | string): number {
  return typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.byteLength;
}

/** Parses JSON text and checks it as a payload. */
export function decodeJson(text: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  return checkPayload(value);
}

/** Decodes a plain (unencrypted) payload: MQTT-Chat JSON, or MQTT-Chat's plain-text last will. */
export function decodePlain(raw: Uint8Array | string): DecodeResult {
  if (byteSize(raw) > MAX_PLAIN_PAYLOAD_BYTES) return { ok: false, reason: 'too large' };
  const decoded = decodeText(raw);
  if (!decoded.ok) return decoded;
  const will = MQTT_CHAT_WILL.exec(decoded.text);
  if (will) return checkPayload(lostNotice(will[1] ?? ''));
  const result = decodeJson(decoded.text);
  if (result.ok && result.payload.type === 'notice' && result.payload.event === undefined) {
    const event = mqttChatEvent(result.payload);
    if (event !== undefined) result.payload.event = event;
  }
  return result;
}

/**
 * The presence event of MQTT-Chat's own notices, which its listener sends without one: `User
 * NAME is now subscribed to TOPIC .` is a join, `User NAME disconnecting from TOPIC .` a leave,
 * when NAME is the notice's sender. Plain rooms only: unauthenticated words, like all there.
 */
function mqttChatEvent(notice: ChatNotice): NoticeEvent | undefined {
  const { from, notice: text } = notice;
  const says = (start: string): boolean =>
    text.length > start.length + 2 && text.startsWith(start) && text.endsWith(' .');
  if (says(`User ${from} is now subscribed to `)) return 'join';
  if (says(`User ${from} disconnecting from `)) return 'leave';
  return undefined;
}

function lostNotice(name: string): ChatNotice {
  return { type: 'notice', from: name, notice: `User ${name} timed out.`, event: 'lost' };
}

/** Serialises a payload as MQTT-Chat-compatible JSON. */
export function encodePlain(payload: ChatPayload): string {
  return JSON.stringify(payload);
}
