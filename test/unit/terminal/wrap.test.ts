// Lines at a terminal of known width: sunoye breaks them and indents the rows that follow, so no
// row of a message starts like a line of its own; without a width, lines are left as they are.
import { expect } from 'chai';
import stringWidth from 'string-width';
import { wrapToWidth } from '../../../src/terminal/wrap.js';

/** The rows of wrapped text, without the newline at its end. */
const rowsOf = (text: string): string[] => text.replace(/\n$/, '').split('\n');

describe('wrapping lines at a terminal', function () {
  it('leaves lines that fit, and all lines without a width (a pipe), as they are', function () {
    const line = `12:00:00 alice: ${'x'.repeat(200)}\n`;
    expect(wrapToWidth('12:00:00 alice: hi\n', 80)).to.equal('12:00:00 alice: hi\n');
    expect(wrapToWidth(line, undefined)).to.equal(line);
  });

  it('breaks a message padded to look like another line, its next row indented', function () {
    const padded = `12:00:00 alice: hi${' '.repeat(62)}12:00:01 bob: I resign\n`;
    const rows = rowsOf(wrapToWidth(padded, 80));
    expect(rows).to.have.length(2);
    expect(rows[0]).to.equal(padded.slice(0, 80));
    expect(rows[1]).to.equal(`${' '.repeat(9)}12:00:01 bob: I resign`);
  });

  it('breaks at a blank near the end of the row, and within a word too long for one', function () {
    const words = `12:00:00 alice: ${'word '.repeat(30)}\n`;
    const rows = rowsOf(wrapToWidth(words, 40));
    for (const row of rows) expect(row.length).to.be.at.most(40);
    for (const row of rows.slice(1)) expect(row).to.match(/^ {9}word/);
    expect(rows.join('').replace(/ +/g, ' ')).to.equal(words.trim().replace(/ +/g, ' ') + ' ');
    const long = rowsOf(wrapToWidth(`12:00:00 alice: ${'y'.repeat(100)}\n`, 40));
    expect(long.map((r) => r.length)).to.deep.equal([40, 40, 40, 23]);
  });

  it('counts wide characters and emoji as two columns, colour codes and tabs as they show', function () {
    const wide = `12:00:00 \x1b[36malice\x1b[39m: ${'名前😀'.repeat(20)}\tend\n`;
    const rows = rowsOf(wrapToWidth(wide, 30));
    for (const row of rows) expect(stringWidth(row)).to.be.at.most(30);
    for (const row of rows.slice(1)) expect(row).to.match(/^ {9}/);
    expect(rows.join('').replace(/ {2,}/g, '')).to.include('名前😀名前');
    // A tab becomes the blanks to its tab stop, so the width of every row is known.
    const tabs = rowsOf(wrapToWidth(`12:00:00 alice: hi${'\t'.repeat(12)}12:00:01 bob: x\n`, 80));
    expect(tabs[1]).to.match(/^ {9} *12:00:01 bob: x$/);
  });

  it("breaks a message's own later lines too, and a narrow terminal's", function () {
    const text = `12:00:00 alice: first\n${' '.repeat(9)}${'z'.repeat(30)}\n`;
    expect(rowsOf(wrapToWidth(text, 25))).to.deep.equal([
      '12:00:00 alice: first',
      `${' '.repeat(9)}${'z'.repeat(16)}`,
      `${' '.repeat(9)}${'z'.repeat(14)}`,
    ]);
    expect(rowsOf(wrapToWidth('abcdefghij\n', 6))).to.deep.equal(['abcdef', '  ghij']);
  });

  it('breaks a 64 KiB message of any characters in a fraction of a second (walked whole: 10 to 20 s)', function () {
    // Walked whole by Intl.Segmenter, each took 10 to 20 s (here: about 0.5 s at most): a member
    // could stall the terminal of everyone in the room.
    const hostile = {
      accented: 'a\u0301'.repeat(21_845),
      escaped: '\\x01'.repeat(65_536),
      emoji: '\u{1F468}\u200D\u{1F469}\u200D\u{1F467} '.repeat(3_000),
      flags: '\u{1F1EB}\u{1F1F7}'.repeat(8_000),
    };
    for (const [what, text] of Object.entries(hostile)) {
      const line = `12:00:00 bob: ${text}\n`;
      const started = performance.now();
      const rows = rowsOf(wrapToWidth(line, 80));
      expect(performance.now() - started, what).to.be.below(3_000);
      for (const row of rows) expect(stringWidth(row), what).to.be.at.most(80);
      // Nothing lost and no grapheme split: the rows, their indents taken out, are the line.
      const joined = rows.map((r, i) => (i === 0 ? r : r.slice(9))).join('');
      expect(joined, what).to.equal(line.slice(0, -1));
    }
  });
});
