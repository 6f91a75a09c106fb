/**
 * The room window's keyboard: the terminal's input as readline reads it, with plain text that
 * comes in one chunk (a paste, or letters typed faster than they are read, as over ssh) handed
 * over whole, so that it goes in at the cursor in one step whatever its length. A paste that the
 * terminal brackets (`ESC[200~` … `ESC[201~`, once the window asked for that) is handed over
 * whole too, however many chunks it came in, so the window can ask before sending many lines.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import stringWidth from 'string-width';

/** The terminal's input stream. */
export type TerminalInput = Readable & {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
};

// Text with no key in it but Enter: no escape sequence, no control character but tab, CR, LF.
// eslint-disable-next-line no-control-regex
const PLAIN = /^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$/;
// A chunk that ends inside an escape sequence (ESC, ESC [ with its parameters, ESC O, ESC [ [):
// its end comes with the next chunk, which then is not text.
// eslint-disable-next-line no-control-regex
const UNFINISHED_ESCAPE = /\x1b(?:\[\[?[\x20-\x3f]*|O)?$/;

/** What a terminal in bracketed paste mode sends before and after a paste. */
export const PASTE_START = '\x1b[200~';
export const PASTE_END = '\x1b[201~';
// What a paste may not put in the typed line: control characters but tab, CR and LF.
// eslint-disable-next-line no-control-regex
const NOT_PASTED = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

/** How many characters at the end of `text` begin `marker` (a marker cut between two chunks). */
function markerBegun(text: string, marker: string, least: number): number {
  for (let n = Math.min(marker.length - 1, text.length); n >= least; n -= 1)
    if (text.endsWith(marker.slice(0, n))) return n;
  return 0;
}

/** Tab stops are every this many columns, as on terminals. */
const TAB_STOP = 8;

/**
 * `text` with each tab made the spaces up to the next tab stop, `column` being where it starts
 * on its line. A terminal does not wrap a tab onto the next row, so a typed line with tabs would
 * not show what it holds, nor be redrawn where it is.
 */
export function expandTabs(text: string, column: number): string {
  if (!text.includes('\t')) return text;
  let col = column;
  let out = '';
  for (const char of text) {
    if (char === '\t') {
      const spaces = TAB_STOP - (col % TAB_STOP);
      out += ' '.repeat(spaces);
      col += spaces;
      continue;
    }
    out += char;
    col = char === '\r' || char === '\n' ? 0 : col + stringWidth(char);
  }
  return out;
}

/**
 * Stands between the terminal and readline (which takes it for the terminal). Tabs become spaces.
 * A chunk of plain text of more than one character, and a bracketed paste (its control characters
 * but tab and line ends dropped), go to `insert` (which inserts it at the cursor, each line ending
 * an Enter); any other chunk goes to readline's key decoder, or to `capture` while it is set (a
 * question being answered: then a chunk of text still goes to `insert`). Raw mode, pausing and the end of the input pass through to the
 * terminal.
 */
export class Keyboard extends EventEmitter {
  readonly isTTY = true;
  private readonly decoder = new StringDecoder('utf8');
  private inEscape = false;
  /** The text of a bracketed paste so far, while one is coming in. */
  private pasting: string | undefined;
  /** The start of a paste marker cut off at the end of the last chunk. */
  private cut = '';
  /** Takes the keys instead of readline while set (a question waits for its answer). */
  capture: ((keys: string) => void) | undefined;
  private readonly onData = (chunk: Buffer | string): void => this.take(chunk);
  private readonly onEnd = (): void => void this.emit('end');
  // The terminal's errors go to readline, and nowhere once it has stopped listening.
  private readonly onError = (err: Error): void => {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  };

  constructor(
    private readonly terminal: TerminalInput,
    private readonly insert: (text: string) => void,
    /** Where the cursor is in the typed line, in columns: tabs become spaces from there. */
    private readonly column: () => number,
  ) {
    super();
    terminal.on('data', this.onData);
    terminal.on('end', this.onEnd);
    terminal.on('error', this.onError);
  }

  get isRaw(): boolean {
    return this.terminal.isRaw === true;
  }

  setRawMode(mode: boolean): this {
    this.terminal.setRawMode?.(mode);
    return this;
  }

  pause(): this {
    this.terminal.pause();
    return this;
  }

  resume(): this {
    this.terminal.resume();
    return this;
  }

  /** Stops taking the terminal's input. */
  detach(): void {
    this.terminal.off('data', this.onData);
    this.terminal.off('end', this.onEnd);
    this.terminal.off('error', this.onError);
  }

  private take(chunk: Buffer | string): void {
    const decoded = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (decoded === '') return;
    let rest = this.cut + decoded;
    this.cut = '';
    while (rest !== '') {
      if (this.pasting !== undefined) {
        const end = rest.indexOf(PASTE_END);
        if (end < 0) {
          const cut = markerBegun(rest, PASTE_END, 1);
          this.pasting += rest.slice(0, rest.length - cut);
          this.cut = rest.slice(rest.length - cut);
          return;
        }
        const pasted = (this.pasting + rest.slice(0, end)).replace(NOT_PASTED, '');
        this.pasting = undefined;
        rest = rest.slice(end + PASTE_END.length);
        if (pasted !== '') this.insert(expandTabs(pasted, this.column()));
        continue;
      }
      const start = rest.indexOf(PASTE_START);
      if (start < 0) {
        // ESC [ 2 at the end may be a paste's start cut in two: it waits for the next chunk.
        const cut = markerBegun(rest, PASTE_START, 3);
        this.cut = rest.slice(rest.length - cut);
        if (cut < rest.length) this.keys(rest.slice(0, rest.length - cut));
        return;
      }
      if (start > 0) this.keys(rest.slice(0, start));
      this.pasting = '';
      rest = rest.slice(start + PASTE_START.length);
    }
  }

  private keys(decoded: string): void {
    const text = expandTabs(decoded, this.column());
    // Text (more of a paste) is text even while a question waits: a "y" in it answers nothing.
    if (!this.inEscape && text.length > 1 && PLAIN.test(text)) {
      this.insert(text);
      return;
    }
    if (this.capture) return this.capture(decoded);
    this.inEscape = UNFINISHED_ESCAPE.test(text);
    this.emit('data', text);
  }
}
