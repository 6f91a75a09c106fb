/**
 * The room window's screen: the conversation scrolls above and the line being typed stays at the
 * bottom. Node's readline keeps the typed line (in raw mode, so a pasted line is not cut at the
 * terminal's 4,095-byte canonical limit); every printed line goes above it, and the prompt and the
 * half-typed line are drawn again below, with the cursor where it was.
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

/** How many typed lines Up and Down recall. */
const HISTORY_LINES = 100;

export class ChatScreen {
  private readonly rl: Interface;
  /** Whether the typed line is kept at the bottom (a real terminal). */
  readonly interactive: boolean;
  private prompt: string;
  private closed = false;
  /** The terminal is gone (closed, or its connection lost): nothing more is drawn. */
  private gone = false;
  private readonly keyboard: Keyboard | undefined;
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
          (text) => this.rl.write(text),
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
    this.rl.on('close', () => {
      if (!this.closed) handlers.end();
    });
    this.rl.on('SIGINT', () => handlers.interrupt());
    // Back from Ctrl-Z (fg): readline pauses the input and leaves it to us to read on.
    this.rl.on('SIGCONT', () => this.rl.resume());
    // Reading or writing fails once the terminal is closed (EIO): the window leaves the room.
    const lost = (): void => {
      this.gone = true;
      handlers.end();
    };
    this.rl.on('error', lost);
    if (this.interactive) {
      output.on('error', lost);
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
    if (!this.interactive || this.closed || this.gone) return;
    // readline's redraw clears the old prompt and typed line where they are, and draws the new.
    this.rl.setPrompt(prompt);
    this.rl.prompt(true);
  }

  /**
   * Stops reading and leaves the terminal as it was, the cursor on a fresh line. Returns the line
   * that was being typed (never sent), if any.
   */
  close(): string {
    if (this.closed) return '';
    let unsent = '';
    if (this.interactive && !this.gone) {
      unsent = this.rl.line;
      const rows = this.rl.getCursorPos().rows;
      moveCursor(this.output as NodeJS.WritableStream, 0, -rows);
      cursorTo(this.output as NodeJS.WritableStream, 0);
      clearScreenDown(this.output as NodeJS.WritableStream);
    }
    this.closed = true;
    this.rl.close();
    this.keyboard?.detach();
    this.output.off('resize', this.rewrapped);
    return unsent;
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
