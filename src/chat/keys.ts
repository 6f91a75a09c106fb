/**
 * The room window's keyboard: the terminal's input as readline reads it, with plain text that
 * comes in one chunk (a paste, or letters typed faster than they are read, as over ssh) handed
 * over whole, so that it goes in at the cursor in one step whatever its length.
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
 * A chunk of plain text of more than one character goes to `insert` (readline's `write`: one insertion at the
 * cursor, each line ending an Enter); any other chunk goes to readline's key decoder. Raw mode,
 * pausing and the end of the input pass through to the terminal.
 */
export class Keyboard extends EventEmitter {
  readonly isTTY = true;
  private readonly decoder = new StringDecoder('utf8');
  private inEscape = false;
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
    const text = expandTabs(decoded, this.column());
    if (!this.inEscape && text.length > 1 && PLAIN.test(text)) {
      this.insert(text);
      return;
    }
    this.inEscape = UNFINISHED_ESCAPE.test(text);
    this.emit('data', text);
  }
}
