/**
 * The one sanitiser for text that did not come from this program: names and messages from the
 * network, names and labels from the database, error messages that quote them. Before such text
 * reaches a human, the protocol's control characters (C0, DEL, C1, bidirectional overrides and
 * isolates) are shown as visible escapes, so it cannot drive the terminal or disguise itself.
 * JSON output goes through it too (`jsonText`): JSON.stringify escapes only C0, and `jq -r`
 * decodes whatever it escapes.
 */
import { CONTROL_CHARACTERS } from './schema.js';

// Every control character; in text, all but tab and newline, which lay it out (`v`: set difference).
const IN_NAME = new RegExp(`[${CONTROL_CHARACTERS}]`, 'gv');
const IN_TEXT = new RegExp(`[[${CONTROL_CHARACTERS}]--[\\t\\n]]`, 'gv');

function escape(c: string): string {
  const code = c.codePointAt(0)!;
  return code <= 0xff
    ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`
    : `\\u${code.toString(16).toUpperCase()}`;
}

/** Makes control characters but tab and newline visible (`\x1b` → `\x1B`): for message text. */
export function visible(text: string): string {
  return text.replace(IN_TEXT, escape);
}

/** Makes every control character visible, tab and newline too: for a name, a label or a line. */
export function visibleLine(text: string): string {
  return text.replace(IN_NAME, escape);
}

// Invisible format characters (zero-width spaces and joiners, direction marks): in a name they
// would make "alice\u200B" look like alice.
const FORMAT_CHARACTERS = /\p{Cf}/gu;
// What makes a name look like more than a name: marks that sunoye puts beside names ("(you)",
// "[key …]"), a colon that ends one, a comma that lists two, quotes, and blanks at either end.
const LOOKS_LIKE_MORE = /[()[\]:",]|^\s|\s$/u;

/**
 * Makes every control character and every invisible format character visible: for a name, a
 * label or a path, which must not look like another (`mal\u200Bory` is not `malory`).
 */
export function visibleLabel(text: string): string {
  return visibleLine(text).replace(FORMAT_CHARACTERS, escape);
}

/**
 * A sender's name as shown in the conversation: made visible like a line, with invisible format
 * characters escaped too, and in quotes when it holds what could pass for sunoye's own marks
 * (`"me (you)"`), so no name can look like another or like a line of its own.
 */
export function visibleName(name: string): string {
  const shown = visibleLabel(name);
  return LOOKS_LIKE_MORE.test(shown) ? JSON.stringify(shown).replace(/\\\\/g, '\\') : shown;
}

// What JSON.stringify leaves raw in its text (it escapes only C0) and no reader of the JSON should
// get raw: the control characters, invisible format characters (\p{Cf}: zero-width, direction
// marks, bidirectional overrides and isolates) and the line and paragraph separators.
const RAW_IN_JSON = new RegExp(`[${CONTROL_CHARACTERS}\\p{Cf}\\u2028\\u2029]`, 'gu');
// Whether a JSON text may hold any of those, in a value or in a name: raw, or as the escapes
// JSON.stringify writes for C0 (\u001b, \b, \f, \n, \r, \t). An escaped backslash before one
// of those letters matches too; it only takes the slower way, which finds nothing to change.
const MAY_NEED_CARE = /[\u007F-\u009F\u2028\u2029\p{Cf}]|\\[bfnrtu]/u;

/** `\uXXXX` for each UTF-16 unit of `c`, as JSON writes escapes. */
function jsonEscape(c: string): string {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/**
 * The key whose string values are kept as they came (a listener's line keeps there the text of a
 * message that `message` shows with escapes): still `\uXXXX`-escaped in the JSON text.
 */
export const AS_SENT = 'raw';

/** The keys whose values are text, laid out in lines (a message, a notice); all else is one line. */
const TEXT_KEYS = new Set(['message', 'notice']);

/** JSON.stringify's replacer: every string value, and every name, shown as in human output. */
function shownInJson(key: string, value: unknown): unknown {
  if (typeof value === 'string') {
    if (key === AS_SENT) return value;
    return TEXT_KEYS.has(key) ? visible(value) : visibleLabel(value);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const entries = Object.entries(value);
  if (entries.every(([name]) => visibleLabel(name) === name)) return value;
  return Object.fromEntries(entries.map(([name, v]) => [visibleLabel(name), v]));
}

/**
 * The JSON text of a value, for stdout: the one way every `--json` document and line is written.
 * Its strings decode to what human output shows (`jq -r` prints no control character and no
 * bidirectional override: they are visible escapes such as `\x1B`, `\u202E`; only a message or
 * notice keeps its tabs and newlines, and its zero-width and other format characters (emoji are
 * joined by them); every other string is one line, with those visible too, as a name is shown);
 * what is left that a reader would not see (format characters and line separators in a message),
 * and anything under `raw`, is written as `\uXXXX` escapes, so the bytes hold none of them raw. When there is
 * nothing to escape (nearly always), it costs one regular-expression test over JSON.stringify's.
 */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined || !MAY_NEED_CARE.test(text)) return text;
  return JSON.stringify(value, shownInJson).replace(RAW_IN_JSON, jsonEscape);
}

// What in a string makes its JSON text more than the string in quotes, or may need care.
// eslint-disable-next-line no-control-regex
const MORE_THAN_QUOTED = /[\u0000-\u001F"\\\u007F-\u009F\u2028\u2029\p{Cf}\p{Cs}]/u;

/**
 * The JSON text of a string when `jsonText` writes it as JSON.stringify does, whatever holds it
 * (nothing in it to make visible or to escape, nearly always); else undefined. For writers that
 * build a JSON line from its pieces, and leave to `jsonText` any line with another string.
 */
export function plainJsonString(text: string): string | undefined {
  // Nothing JSON escapes (quote, backslash, C0, a lone surrogate) and nothing `MAY_NEED_CARE`
  // looks for: the JSON text is the text in quotes, found with one scan.
  if (!MORE_THAN_QUOTED.test(text)) return `"${text}"`;
  const json = JSON.stringify(text);
  return MAY_NEED_CARE.test(json) ? undefined : json;
}
