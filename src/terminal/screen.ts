/**
 * The room window's screen: the conversation scrolls above and the line being typed stays at the
 * bottom. Node's readline keeps the typed line (in raw mode, so a pasted line is not cut at the
 * terminal's 4,095-byte canonical limit); every printed line goes above it, and the prompt and the
 * half-typed line are drawn again below, with the cursor where it was.
 *
 * A paste of more than `PASTE_ASK_LINES` lines is held and asked about first (as WeeChat asks):
 * `paste 12 lines? y sends them, n drops them`. A last line without a line end counts among them
 * and, as in any paste, y leaves it typed: `paste 7 lines? y sends 6 and leaves the last one
 * typed, n drops all 7`. The window turns on the terminal's bracketed paste mode, so a paste is
 * told from keys however it arrives; a terminal without it is asked about a chunk of keys that
 * holds more line ends than that.
 *
 * On a stream that is not a terminal (or TERM=dumb) there is no line to keep: lines are read as
 * they come and printed as they are.
 */
import {
  clearScreenDown,
  createInterface,
  cursorTo,
  moveCursor,
  type Interface,
} from 'node:readline';
import stringWidth from 'string-width';
import { Keyboard, type TerminalInput } from './keys.js';
import { wrapToWidth } from './wrap.js';

/** The terminal the window draws on. */
export interface ScreenOutput {
  write(text: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  on(event: 'resize' | 'error', listener: () => void): unknown;
  prependListener(event: 'resize', listener: () => void): unknown;
  off(event: 'resize', listener: () => void): unknown;
  cork?(): void;
  uncork?(): void;
  isTTY?: boolean;
  columns?: number;
}

/** What the screen reports. */
export interface ScreenHandlers {
  /** A line was entered (Enter, or one line of a paste). */
  line(text: string): void;
  /** Ctrl-D on an empty line, or the end of the input. */
  end(): void;
  /** Ctrl-C. */
  interrupt(): void;
}

/**
 * How many terminal rows `text` (one line, no newline) takes at `columns`, counted the way
 * readline counts them: a wide character that would straddle the edge starts the next row, and a
 * line that fills its last row exactly leaves the cursor on a row of its own.
 */
export function displayRows(text: string, columns: number): number {
  if (!Number.isFinite(columns) || columns < 1) return 1;
  let offset = 0;
  for (const char of text) {
    const width = stringWidth(char);
    if (width === 2 && (offset + 1) % columns === 0) offset += 1;
    offset += width;
  }
  return Math.floor(offset / columns) + 1;
}

/** A paste of more lines than this (line ends in it: Enter presses) is asked about first. */
export const PASTE_ASK_LINES = 5;
/** A held paste has all come once no more of it came for this long: then the question is asked. */
const PASTE_SETTLE_MS = 50;
/** What turns the terminal's bracketed paste mode on and off. */
const BRACKETED_PASTE_ON = '\x1b[?2004h';
const BRACKETED_PASTE_OFF = '\x1b[?2004l';

/** How many lines a paste would send: its line ends (a last line without one stays typed). */
function lineEnds(text: string): number {
  return text.match(/\r\n|\r|\n/g)?.length ?? 0;
}

/** A paste's lines, a last one without a line end among them (it is dropped with the rest). */
function pasteLines(text: string): { lines: number; unended: boolean } {
  const unended = !/[\r\n]$/.test(text) && text !== '';
  return { lines: lineEnds(text) + (unended ? 1 : 0), unended };
}

/** The question about a held paste: what y sends (a last line without a line end stays typed). */
function pasteQuestion(text: string): string {
  const { lines, unended } = pasteLines(text);
  return unended
    ? `paste ${lines} lines? y sends ${lines - 1} and leaves the last one typed, n drops all ${lines}`
    : `paste ${lines} lines? y sends them, n drops them`;
}

/** How many typed lines Up and Down recall. */
const HISTORY_LINES = 100;

export class ChatScreen {
  private readonly rl: Interface;
  /** Whether the typed line is kept at the bottom (a real terminal). */
  readonly interactive: boolean;
  private prompt: string;
  private closed = false;
  /** The line being typed when the screen was taken down (returned once by close()). */
  private unsent = '';
  /** The terminal is gone (closed, or its connection lost): nothing more is drawn. */
  private gone = false;
  private readonly keyboard: Keyboard | undefined;
  /** A paste held until the question about it is answered. */
  private held: string | undefined;
  /** Asks the question once the held paste has all come. */
  private asking: NodeJS.Timeout | undefined;
  private readonly rewrapped = (): void => {
    (this.rl as Interface & { prevRows: number }).prevRows = this.rl.getCursorPos().rows;
  };

  constructor(
    input: TerminalInput,
    private readonly output: ScreenOutput,
    prompt: string,
    env: Record<string, string | undefined>,
    handlers: ScreenHandlers,
  ) {
    this.interactive = input.isTTY === true && output.isTTY === true && env.TERM !== 'dumb';
    this.prompt = prompt;
    // A chunk of plain text goes in at the cursor in one step (readline's own way with a chunk
    // is one key at a time: a redraw of the whole line for each character of a paste mid-line).
    this.keyboard = this.interactive
      ? new Keyboard(
          input,
          (text) => this.pasted(text, handlers),
          () => stringWidth(this.rl.line.slice(0, this.rl.cursor)),
        )
      : undefined;
    this.rl = createInterface({
      input: (this.keyboard as unknown as NodeJS.ReadableStream | undefined) ?? input,
      output: this.interactive ? (output as NodeJS.WritableStream) : undefined,
      terminal: this.interactive,
      prompt,
      // Up and Down recall what was typed in this window, as in IRC clients (to fix a typo and
      // send again); kept in memory only, until the window closes.
      historySize: HISTORY_LINES,
      removeHistoryDuplicates: true,
      crlfDelay: Infinity,
    });
    // Keys that come in one chunk with others (typed fast, arrows among them) take a shortcut in
    // Node's readline for all but the last: each is added at the end of the line wherever the
    // cursor is, and written with no redraw when the line wraps onto a new row. The line then
    // differs from what is on screen, and redraws leave copies of its rows behind. With this flag
    // (which readline lowers for such a chunk) held up, every key goes the ordinary way.
    Object.defineProperty(this.rl, 'isCompletionEnabled', {
      get: () => true,
      set: () => undefined,
    });
    // A resize rewraps the typed line (tmux, VTE, kitty and most terminals do): readline's redraw
    // starts from the row it last put the cursor on, which is now the cursor's row at the new width.
    if (this.interactive) output.prependListener('resize', this.rewrapped);
    this.rl.on('line', (text) => {
      if (this.interactive && !this.gone) {
        this.eraseEntered(text);
        this.rl.prompt();
      }
      handlers.line(text);
    });
    // Ctrl-D on an empty line (or the end of the input) closes readline itself, and the window
    // leaves: the prompt goes at once, as on close(), so that what is printed while the window
    // leaves (a line arriving, a report) goes straight to the terminal. A closed readline is never
    // drawn with or handed keys again: Node 24's throws then (ERR_USE_AFTER_CLOSE), which ended
    // the program with exit 1 in the middle of its goodbye.
    this.rl.on('close', () => {
      if (this.closed) return;
      this.takeDown();
      handlers.end();
    });
    this.rl.on('SIGINT', () => handlers.interrupt());
    // Back from Ctrl-Z (fg): readline pauses the input and leaves it to us to read on.
    // The shell turns bracketed paste off while it runs `fg`: on again.
    this.rl.on('SIGCONT', () => {
      if (this.interactive && !this.closed && !this.gone) output.write(BRACKETED_PASTE_ON);
      this.rl.resume();
    });
    // Reading or writing fails once the terminal is closed (EIO): the window leaves the room.
    const lost = (): void => {
      this.gone = true;
      handlers.end();
    };
    this.rl.on('error', lost);
    if (this.interactive) {
      output.on('error', lost);
      output.write(BRACKETED_PASTE_ON);
      this.rl.prompt();
    }
  }

  /**
   * Prints `text` (whole lines, each ending in a newline) above the typed line. Returns false when
   * the terminal cannot take more for now (then it emits 'drain').
   */
  print(text: string): boolean {
    if (this.gone) return true;
    if (!this.interactive || this.closed) return this.output.write(text);
    const { output } = this;
    // Long lines are broken at the window's width as it is now (after a resize, the new one).
    const rows = wrapToWidth(text, output.columns);
    // Up to the prompt's first row, clear the prompt and the typed line, print the text there;
    // then step down as many rows as readline believes the cursor is below the prompt, so that
    // its own redraw (`prompt(true)`) lands on the new rows below the text.
    // All of it goes to the terminal in one write: the typed line never flickers away.
    output.cork?.();
    const below = this.rl.getCursorPos().rows;
    moveCursor(output as NodeJS.WritableStream, 0, -below);
    cursorTo(output as NodeJS.WritableStream, 0);
    clearScreenDown(output as NodeJS.WritableStream);
    const ok = output.write(below > 0 ? rows + '\n'.repeat(below) : rows);
    this.rl.prompt(true);
    output.uncork?.();
    return ok;
  }

  /** Changes the prompt (e.g. to show the connection is down), keeping the typed line. */
  setPrompt(prompt: string): void {
    if (prompt === this.prompt) return;
    this.prompt = prompt;
    if (!this.interactive || this.closed || this.gone || this.held !== undefined) return;
    // readline's redraw clears the old prompt and typed line where they are, and draws the new.
    this.rl.setPrompt(prompt);
    this.rl.prompt(true);
  }

  /**
   * Stops reading and leaves the terminal as it was, the cursor on a fresh line. Returns the line
   * that was being typed (never sent), if any.
   */
  close(): string {
    if (!this.closed) this.takeDown();
    const unsent = this.unsent;
    this.unsent = '';
    return unsent;
  }

  /** Takes the prompt and the typed line (kept in `unsent`) off the screen, and stops reading. */
  private takeDown(): void {
    if (this.interactive && !this.gone) {
      this.unsent = this.rl.line;
      const rows = this.rl.getCursorPos().rows;
      moveCursor(this.output as NodeJS.WritableStream, 0, -rows);
      cursorTo(this.output as NodeJS.WritableStream, 0);
      clearScreenDown(this.output as NodeJS.WritableStream);
      this.output.write(BRACKETED_PASTE_OFF);
    }
    this.closed = true;
    clearTimeout(this.asking);
    this.rl.close();
    this.keyboard?.detach();
    this.output.off('resize', this.rewrapped);
  }

  /**
   * Text pasted (or keys that came in one chunk): in at the cursor, each line end an Enter; more
   * than `PASTE_ASK_LINES` lines are held until y (sent as pasted) or n (dropped). Text that comes
   * meanwhile joins the held paste (a long paste comes in many chunks; without bracketed paste
   * each is a chunk of keys), and the question is asked once it has all come. Meanwhile single keys
   * answer the question only; Ctrl-C drops the paste and leaves, as it does anyway.
   */
  private pasted(text: string, handlers: ScreenHandlers): void {
    const keyboard = this.keyboard;
    if (!keyboard || (this.held === undefined && lineEnds(text) <= PASTE_ASK_LINES)) {
      this.rl.write(text);
      return;
    }
    this.held = (this.held ?? '') + text;
    if (this.asking) return void this.asking.refresh();
    this.asking = setTimeout(() => {
      if (this.held === undefined || this.closed || this.gone) return;
      this.print(`${pasteQuestion(this.held)}\n`);
    }, PASTE_SETTLE_MS);
    this.rl.setPrompt('y/n? ');
    this.rl.prompt(true);
    keyboard.capture = (keys) => {
      for (const key of keys) {
        if (key === 'y' || key === 'Y') return this.answered(true);
        if (key === 'n' || key === 'N' || keys === '\x1b' || key === '\x04')
          return this.answered(false);
        if (key === '\x03') {
          this.answered(false);
          return handlers.interrupt();
        }
      }
    };
  }

  /** The question about a held paste is answered: it goes in as pasted (true), or is dropped. */
  private answered(send: boolean): void {
    const text = this.held;
    if (text === undefined || !this.keyboard) return;
    clearTimeout(this.asking);
    this.asking = undefined;
    this.held = undefined;
    this.keyboard.capture = undefined;
    this.rl.setPrompt(this.prompt);
    if (this.closed || this.gone) return;
    this.rl.prompt(true);
    if (send) this.rl.write(text);
    else this.print(`dropped the paste of ${pasteLines(text).lines} lines\n`);
  }

  /**
   * Takes the entered line (and its prompt) off the screen: it comes back as a message of the
   * conversation once the broker has delivered it, so it shows once, where the others see it.
   */
  private eraseEntered(text: string): void {
    const columns = this.output.columns ?? 80;
    const rows = displayRows(stripPrompt(this.prompt) + text, columns);
    moveCursor(this.output as NodeJS.WritableStream, 0, -rows);
    cursorTo(this.output as NodeJS.WritableStream, 0);
    clearScreenDown(this.output as NodeJS.WritableStream);
  }
}

/** The prompt as it shows: without its colour codes. */
function stripPrompt(prompt: string): string {
  // eslint-disable-next-line no-control-regex
  return prompt.replace(/\x1b\[[0-9;]*m/g, '');
}
