// The room window's screen over a stand-in terminal: what is typed, in whatever chunks the keys
// come, is the line that is entered.
import type { Interface } from 'node:readline';
import { PassThrough, Writable } from 'node:stream';
import { expect } from 'chai';
import { expandTabs } from '../../../src/terminal/keys.js';
import { ChatScreen, displayRows } from '../../../src/terminal/screen.js';

/** A keyboard: keys written to it arrive as a terminal's input, in the chunks they are written. */
class Keys extends PassThrough {
  readonly isTTY = true;
  isRaw = false;
  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    return this;
  }
}

/** A terminal's output of `columns`; what was written is kept. */
class Display extends Writable {
  readonly isTTY = true;
  written = '';
  constructor(public columns: number) {
    super({
      decodeStrings: false,
      write: (chunk: string, _encoding, done) => {
        this.written += chunk;
        done();
      },
    });
  }
}

const LEFT = '\x1b[D';

describe('the room window screen', function () {
  let keyboard: Keys;
  let display: Display;
  let screen: ChatScreen;
  let entered: string[];
  let ends: number;

  /** Sends `chunks` one by one, each as one read of the terminal. */
  async function keys(...chunks: (string | Buffer)[]): Promise<void> {
    for (const chunk of chunks) {
      keyboard.write(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Waits until the screen has shown `text`. */
  async function shown(text: string): Promise<void> {
    while (!display.written.includes(text)) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  beforeEach(function () {
    keyboard = new Keys();
    display = new Display(20);
    entered = [];
    ends = 0;
    screen = new ChatScreen(
      keyboard,
      display,
      '> ',
      { TERM: 'xterm-256color' },
      {
        line: (text) => entered.push(text),
        end: () => void (ends += 1),
        interrupt: () => undefined,
      },
    );
  });
  afterEach(function () {
    screen.close();
  });

  it('puts keys that come in one chunk (a paste, fast typing) at the cursor, not at the end', async function () {
    await keys('hello world', LEFT.repeat(5), 'XYZ', '\r');
    expect(entered).to.deep.equal(['hello XYZworld']);
  });

  it('puts keys at the cursor also when text, arrows and Enter come in one chunk', async function () {
    await keys(`hello world${LEFT.repeat(5)}XYZ\r`);
    expect(entered).to.deep.equal(['hello XYZworld']);
  });

  it('takes a character split over two chunks as one', async function () {
    const bytes = Buffer.from('你好 there');
    await keys(bytes.subarray(0, 2), bytes.subarray(2, 4), bytes.subarray(4), '\r');
    expect(entered).to.deep.equal(['你好 there']);
  });

  it('takes an arrow split over two chunks as the arrow, not as text', async function () {
    await keys('ab', '\x1b[', 'DX', '\r');
    expect(entered).to.deep.equal(['aXb']);
  });

  it('enters each line of a block pasted mid-line, in order (Enter takes the whole line)', async function () {
    await keys('ab', LEFT, 'one\rtwo\rthree', '\r');
    expect(entered).to.deep.equal(['aoneb', 'two', 'three']);
  });

  it('takes a bracketed paste whole, its markers cut between chunks, without its control characters', async function () {
    await keys('ab', LEFT, '\x1b[20', '0~one\rt\x07w', 'o\x1b[2', '01~', '\r');
    expect(entered).to.deep.equal(['aoneb', 'two']);
    expect(display.written).to.include('\x1b[?2004h');
  });

  it('asks before a paste of more than 5 lines: n drops it, y enters it, bracketed or not', async function () {
    display.columns = 80;
    const six = 'l1\rl2\rl3\rl4\rl5\rl6\r';
    await keys(`\x1b[200~${six}\x1b[201~`);
    await shown('paste 6 lines? y sends them, n drops them');
    await keys('x', 'n');
    expect(entered).to.deep.equal([]);
    expect(display.written).to.include('dropped the paste of 6 lines');
    // Without bracketed paste, a long paste comes in chunks of keys: all of it is one paste, and
    // a "y" in its text answers nothing.
    await keys(six, 'my\rway\r');
    await shown('paste 8 lines? y sends them, n drops them');
    expect(entered).to.deep.equal([]);
    await keys('y');
    expect(entered).to.deep.equal(['l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'my', 'way']);
    // Five lines go at once, as before.
    await keys(`\x1b[200~${six.slice(3)}\x1b[201~`);
    expect(entered.slice(8)).to.deep.equal(['l2', 'l3', 'l4', 'l5', 'l6']);
  });

  it('counts a last pasted line without a line end in the question: n drops it too, y leaves it typed', async function () {
    display.columns = 120;
    const seven = 'l1\rl2\rl3\rl4\rl5\rl6\rl7';
    const question = 'paste 7 lines? y sends 6 and leaves the last one typed, n drops all 7';
    await keys(`\x1b[200~${seven}\x1b[201~`);
    await shown(' lines? y sends ');
    expect(display.written).to.include(question);
    await keys('n');
    expect(display.written).to.include('dropped the paste of 7 lines');
    await keys('\r');
    expect(entered).to.deep.equal(['']);
    display.written = '';
    await keys(`\x1b[200~${seven}\x1b[201~`);
    await shown(' lines? y sends ');
    expect(display.written).to.include(question);
    await keys('y');
    expect(entered.slice(1)).to.deep.equal(['l1', 'l2', 'l3', 'l4', 'l5', 'l6']);
    await keys(' more', '\r');
    expect(entered.slice(7)).to.deep.equal(['l7 more']);
  });

  it('takes a long chunk of wide characters whole', async function () {
    const text = '你好世界😀'.repeat(50);
    await keys(text, '\r');
    expect(entered).to.deep.equal([text]);
  });

  it('recalls the lines typed before with Up, to send one again changed', async function () {
    await keys('first', '\r', 'second', '\r', '\x1b[A', '\x1b[A', '!', '\r');
    expect(entered).to.deep.equal(['first', 'second', 'first!']);
  });

  it('reads keys again at once when back from Ctrl-Z (fg), not only once a message comes', async function () {
    // What readline does on SIGCONT after its Ctrl-Z: the input paused, then the event.
    const rl = (screen as unknown as { rl: Interface }).rl;
    rl.pause();
    rl.emit('SIGCONT');
    await keys('back', '\r');
    expect(entered).to.deep.equal(['back']);
  });

  it('after Ctrl-D, prints what comes while the window leaves below the prompt taken down, and takes no more keys', async function () {
    await keys('\x04');
    expect(ends).to.equal(1);
    // Lines still arrive while the window leaves (a message, a report): printed as they come,
    // with no prompt drawn again after them (Node 24's readline throws on a prompt once closed).
    display.written = '';
    expect(() => screen.print('bob: still here\n')).not.to.throw();
    expect(display.written).to.equal('bob: still here\n');
    screen.setPrompt('(offline) > ');
    await keys('late keys', '\r');
    expect(display.written).to.equal('bob: still here\n');
    expect(entered).to.deep.equal([]);
    expect(screen.close()).to.equal('');
    expect(ends).to.equal(1);
  });

  it('makes a tab, typed or pasted, the spaces up to the next tab stop', async function () {
    await keys('ab', '\t', 'c', '\r', 'x\ty\r1234567\t2\r');
    expect(entered).to.deep.equal([`ab${' '.repeat(6)}c`, `x${' '.repeat(7)}y`, '1234567 2']);
    expect(expandTabs('\t你\t', 3)).to.equal(`${' '.repeat(5)}你${' '.repeat(6)}`);
  });

  it('counts the rows a line takes as the terminal wraps it', function () {
    expect(displayRows('', 20)).to.equal(1);
    expect(displayRows('x'.repeat(19), 20)).to.equal(1);
    // A line that fills its row exactly leaves the cursor on the next.
    expect(displayRows('x'.repeat(20), 20)).to.equal(2);
    // A wide character that would straddle the edge starts the next row.
    expect(displayRows(`${'x'.repeat(19)}你`, 20)).to.equal(2);
    expect(displayRows('你'.repeat(10), 20)).to.equal(2);
  });
});
