/**
 * The chat payload schema: MQTT-Chat's `{type, from, message|notice}` core plus sunoye's optional
 * `id`, `seq`, `ts` and `event` (and `since` on the `end` notice that closes a sender's stream: when
 * its first payload was stamped; `conn` on a join notice and the last will made with it: the id of
 * that connection). Unknown extra fields are allowed (and dropped when decoding) so
 * MQTT-Chat's clients and sunoye understand each other.
 */

/** Longest sender name, in characters (code points). */
export const MAX_NAME_CHARS = 64;
/** Largest `message` or `notice` text, in bytes of UTF-8. */
export const MAX_TEXT_BYTES = 64 * 1024;

/** Presence events a notice may carry. */
export const NOTICE_EVENTS = ['join', 'leave', 'lost', 'closed', 'end'] as const;
export type NoticeEvent = (typeof NOTICE_EVENTS)[number];

/**
 * The control characters (C0, DEL, C1) and the bidirectional overrides and isolates, which could
 * drive a terminal or disguise text on others' screens: no name holds them, and the renderer shows
 * them as visible escapes. The inside of a character class, for JSON Schema patterns and `u`/`v`
 * regular expressions alike.
 */
export const CONTROL_CHARACTERS = '\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069';

const NAME_PATTERN = `^[^${CONTROL_CHARACTERS}]+$`;

const TIMESTAMP = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$',
} as const;

/** JSON Schema (draft 2020-12 subset understood by ajv) of one chat payload. */
export const payloadSchema = {
  $id: 'https://sunoye.invalid/schema/payload-1.json',
  type: 'object',
  required: ['type', 'from'],
  properties: {
    type: { enum: ['message', 'notice'] },
    from: { type: 'string', minLength: 1, maxLength: MAX_NAME_CHARS, pattern: NAME_PATTERN },
    message: { type: 'string' },
    notice: { type: 'string' },
    id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
    seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    ts: TIMESTAMP,
    since: TIMESTAMP,
    conn: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' },
    event: { enum: [...NOTICE_EVENTS] },
  },
  allOf: [
    { if: { properties: { type: { const: 'message' } } }, then: { required: ['message'] } },
    { if: { properties: { type: { const: 'notice' } } }, then: { required: ['notice'] } },
  ],
} as const;
