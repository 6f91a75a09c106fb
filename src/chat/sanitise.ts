/**
 * The one sanitiser for text that did not come from this program: names and messages from the
 * network, names and labels from the database, error messages that quote them. Before such text
 * reaches a human, the protocol's control characters (C0, DEL, C1, bidirectional overrides and
 * isolates) are shown as visible escapes, so it cannot drive the terminal or disguise itself.
 * JSON output needs none of this: JSON.stringify escapes them already.
 */
import { CONTROL_CHARACTERS } from '../protocol/index.js';

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
 * A sender's name as shown in the conversation: made visible like a line, with invisible format
 * characters escaped too, and in quotes when it holds what could pass for sunoye's own marks
 * (`"me (you)"`), so no name can look like another or like a line of its own.
 */
export function visibleName(name: string): string {
  const shown = visibleLine(name).replace(FORMAT_CHARACTERS, escape);
  return LOOKS_LIKE_MORE.test(shown) ? JSON.stringify(shown).replace(/\\\\/g, '\\') : shown;
}
