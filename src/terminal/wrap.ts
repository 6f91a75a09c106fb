/**
 * Lines laid out for a terminal of known width. A line longer than the terminal is broken by
 * sunoye, not by the terminal, and its later rows are indented: left to the terminal, a message
 * padded with spaces could start a row with "12:00:00 bob: I resign", which looks like a line of
 * its own. A message's own newlines already start indented rows (render.ts). Widths are display
 * widths: wide CJK characters and emoji take two columns, colour codes none.
 */
import stringWidth from 'string-width';

/** Where a later row starts: under the text after the time ("HH:MM:SS "), as render.ts indents. */
const INDENT = ' '.repeat(9);
/** Below this width the indent would leave too little room: later rows start two columns in. */
const NARROW = 2 * INDENT.length;
const TAB_STOP = 8;
// Colour codes (chalk's SGR sequences) are the only escapes in a rendered line: text from
// elsewhere has had its control characters made visible.
// eslint-disable-next-line no-control-regex
const COLOUR_CODE = /(\x1b\[[0-9;]*m)/;
/** Anything but printable ASCII and newlines: a tab, a colour code, a wide or combining character. */
const NOT_PLAIN = /[^\n\x20-\x7e]/;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/** Code units segmented at a time (see `graphemesOf`). */
const WINDOW = 256;

/**
 * The graphemes of `text`, found a window at a time: Intl.Segmenter (ICU) takes time in the
 * square of the text's length to walk it whole (a 64 KiB message of accented letters took
 * 20 s). A break never depends on what follows the character after it, so each window's breaks
 * hold but its last: its last grapheme is looked at again from where it starts.
 */
function* graphemesOf(text: string): Generator<string> {
  let start = 0;
  let size = WINDOW;
  while (start < text.length) {
    const end = Math.min(text.length, start + size);
    const found = [...graphemes.segment(text.slice(start, end))];
    if (end === text.length) {
      for (const { segment } of found) yield segment;
      return;
    }
    const last = found[found.length - 1]!;
    // One grapheme fills the window: a longer window may find where it ends.
    if (found.length === 1) {
      size *= 2;
      continue;
    }
    for (const { segment } of found.slice(0, -1)) yield segment;
    start += last.index;
    size = WINDOW;
  }
}

/**
 * `text` (whole lines, each ending in a newline) with every row that would pass `columns` broken
 * at a space near its end (or at the width, in a long word) and continued on an indented row.
 * Without a width (not a terminal) the text is returned as it is.
 */
export function wrapToWidth(text: string, columns: number | undefined): string {
  if (columns === undefined || !Number.isFinite(columns) || columns < 4) return text;
  // Most lines are short plain ASCII: their length is their width.
  if (!NOT_PLAIN.test(text) && text.split('\n').every((row) => row.length <= columns)) return text;
  return text
    .split('\n')
    .map((row) => (row.length === 0 ? row : wrapRow(row, columns)))
    .join('\n');
}

/** One row (no newline) broken into rows of at most `columns`, joined by newlines. */
function wrapRow(row: string, columns: number): string {
  const indent = columns > NARROW ? INDENT : '  ';
  const rows: string[] = [];
  let current = '';
  let width = 0;
  // The last place the row may break: just after a blank, with the width up to there.
  let breakAt = -1;
  let widthAtBreak = 0;
  for (const piece of row.split(COLOUR_CODE)) {
    if (piece.startsWith('\x1b')) {
      current += piece;
      continue;
    }
    for (const grapheme of graphemesOf(piece)) {
      // A tab is laid out as the blanks up to the next tab stop, so the row's width is known.
      const each =
        grapheme === '\t' ? Array<string>(TAB_STOP - (width % TAB_STOP)).fill(' ') : [grapheme];
      for (const segment of each) {
        const w = segment === ' ' ? 1 : stringWidth(segment);
        if (width + w > columns && width > indent.length) {
          // Break at the last blank if that leaves at least half the row; else within the word.
          const atBlank = breakAt > 0 && widthAtBreak * 2 >= columns;
          rows.push(atBlank ? current.slice(0, breakAt) : current);
          current = indent + (atBlank ? current.slice(breakAt) : '');
          width = indent.length + (atBlank ? width - widthAtBreak : 0);
          breakAt = -1;
        }
        current += segment;
        width += w;
        if (segment === ' ') {
          breakAt = current.length;
          widthAtBreak = width;
        }
      }
    }
  }
  rows.push(current);
  return rows.join('\n');
}
