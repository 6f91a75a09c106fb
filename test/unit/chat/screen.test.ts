// The room window's screen over a stand-in terminal: what is typed, in whatever chunks the keys
// come, is the line that is entered.
import type { Interface } from 'node:readline';
import { PassThrough, Writable } from 'node:stream';
import { expect } from 'chai';
import { expandTabs } from '../../../src/chat/keys.js';
import { ChatScreen, displayRows } from '../../../src/chat/screen.js';

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

  /** Sends `chunks` one by one, each as one read of the terminal. */
  async function keys(...chunks: (string | Buffer)[]): Promise<void> {
    for (const chunk of chunks) {
      keyboard.write(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  beforeEach(function () {
    keyboard = new Keys();
    display = new Display(20);
    entered = [];
    screen = new ChatScreen(
      keyboard,
      display,
      '> ',
      { TERM: 'xterm-256color' },
      {
        line: (text) => entered.push(text),
        end: () => undefined,
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
