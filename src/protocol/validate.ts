/**
 * The payload schema (schema.ts) written out as code. A compiled validator is faster per message
 * than a general one and keeps a JSON Schema library off every program's start; a unit test holds
 * it to ajv's verdict on the schema for generated payloads, so the two cannot drift apart.
 * Reasons use JSON Schema's wording: `<path>: <what is wrong>`, first problem only.
 */
import { MAX_NAME_CHARS, NOTICE_EVENTS } from './schema.js';

// The patterns of schema.ts, as regular expressions (`u` so the ranges mean code points).
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const NAME = /^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]+$/u;
const ID = /^[A-Za-z0-9_-]+$/u;
const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/u;
const MAX_ID_CHARS = 64;

/** Length in code points, as JSON Schema counts string length. */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function checkString(
  path: string,
  v: unknown,
  min: number,
  max: number,
  pattern: RegExp,
): string | undefined {
  if (typeof v !== 'string') return `${path}: must be string`;
  // Cheap bound first: code points never exceed UTF-16 units.
  const n = v.length > max ? codePoints(v) : v.length;
  if (n < min) return `${path}: must NOT have fewer than ${min} characters`;
  if (n > max && codePoints(v) > max) return `${path}: must NOT have more than ${max} characters`;
  if (!pattern.test(v)) return `${path}: must match pattern "${pattern.source}"`;
  return undefined;
}

const ENUM = 'must be equal to one of the allowed values';

/** The first way `value` breaks the payload schema, or undefined when it is a valid payload. */
export function schemaProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return '/: must be object';
  const v = value as Record<string, unknown>;
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(v, k);
  if (!has('type')) return "/: must have required property 'type'";
  if (!has('from')) return "/: must have required property 'from'";
  if (v.type !== 'message' && v.type !== 'notice') return `/type: ${ENUM}`;
  const from = checkString('/from', v.from, 1, MAX_NAME_CHARS, NAME);
  if (from) return from;
  if (has('message') && typeof v.message !== 'string') return '/message: must be string';
  if (has('notice') && typeof v.notice !== 'string') return '/notice: must be string';
  if (has('id')) {
    const id = checkString('/id', v.id, 1, MAX_ID_CHARS, ID);
    if (id) return id;
  }
  if (has('seq')) {
    const seq = v.seq;
    if (typeof seq !== 'number' || !Number.isInteger(seq)) return '/seq: must be integer';
    if (seq < 0) return '/seq: must be >= 0';
    if (seq > Number.MAX_SAFE_INTEGER) return `/seq: must be <= ${Number.MAX_SAFE_INTEGER}`;
  }
  if (has('ts')) {
    if (typeof v.ts !== 'string') return '/ts: must be string';
    if (!TS.test(v.ts)) return `/ts: must match pattern "${TS.source}"`;
  }
  if (has('event') && !(NOTICE_EVENTS as readonly unknown[]).includes(v.event))
    return `/event: ${ENUM}`;
  if (v.type === 'message' && !has('message')) return "/: must have required property 'message'";
  if (v.type === 'notice' && !has('notice')) return "/: must have required property 'notice'";
  return undefined;
}
