// The one sanitiser: text from the database or the network never drives the terminal.
import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import {
  jsonText,
  plainJsonString,
  visible,
  visibleLabel,
  visibleLine,
} from '../../../src/protocol/sanitise.js';
import { visible as fromRender } from '../../../src/terminal/render.js';
import { reportError } from '../../../src/cli/report.js';
import { RefusedError } from '../../../src/errors.js';

describe('sanitising text for the terminal', function () {
  const evil = 'a\u001b[2J\u001b]0;pwned\u0007\t\n\u009b31m\u202eb\u2066c\u0000';

  it('escapes control characters in text, keeping its tabs and newlines', function () {
    expect(visible(evil)).to.equal('a\\x1B[2J\\x1B]0;pwned\\x07\t\n\\x9B31m\\u202Eb\\u2066c\\x00');
    expect(fromRender).to.equal(visible);
  });

  it('escapes every control character in a name or a line, tabs and newlines too', function () {
    expect(visibleLine(evil)).to.equal(
      'a\\x1B[2J\\x1B]0;pwned\\x07\\x09\\x0A\\x9B31m\\u202Eb\\u2066c\\x00',
    );
    expect(visibleLine('zoë 😀 名前')).to.equal('zoë 😀 名前');
  });

  it('keeps an error that quotes such a name to one visible line', function () {
    let written = '';
    const stderr = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        done();
      },
    });
    const code = reportError(
      'room',
      new RefusedError(`room 482913 belongs to ${'mallory\u001b[2J\nforged line'}`),
      stderr,
      {},
    );
    expect(code).to.equal(3);
    expect(written).to.equal('room: room 482913 belongs to mallory\\x1B[2J\\x0Aforged line\n');
  });
});

describe('sanitising JSON output', function () {
  // Raw in the bytes of a JSON text: control characters (C0 but newline, DEL, C1), format
  // characters (bidirectional, zero-width...), line and paragraph separators.
  // eslint-disable-next-line no-control-regex
  const UNSAFE = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\p{Cf}\u2028\u2029]/u;
  const evil = 'a\u001b[2J\u009b31m\u202eb\u2066c\u200bd\u2028e\u00ad\u{E0041}\t\n';

  it('writes values as human output shows them, and what is left unseen as \\u escapes', function () {
    const text = jsonText({ message: evil, names: [evil], keys: { [evil]: 'k' }, n: 1 });
    expect(text).to.not.match(UNSAFE);
    const shown = visible(evil);
    // Only a message (or notice) keeps its lines: any other string is one line, and shows its
    // invisible characters as a name does (`mal\u200Bory` is not `malory` under `jq -r`).
    const line = visibleLabel(evil);
    expect(line).to.not.match(/\p{Cf}/u);
    expect(JSON.parse(text)).to.deep.equal({
      message: shown,
      names: [line],
      keys: { [line]: 'k' },
      n: 1,
    });
    // `jq -r` prints no control character or override: they are visible, as at a terminal.
    // eslint-disable-next-line no-control-regex
    expect(shown).to.not.match(/[\u001b\u009b\u202e\u2066]/u);
  });

  it('keeps text as sent under "raw", escaped in the JSON text but decoding to the original', function () {
    const text = jsonText({ message: visible(evil), raw: evil });
    expect(text).to.not.match(UNSAFE);
    expect((JSON.parse(text) as { raw: string }).raw).to.equal(evil);
  });

  it("gives a string's JSON text for a line built from pieces only when jsonText would write it as is", function () {
    const strings = [
      'plain words',
      'zoë 😀 名前',
      'say "hi"',
      'C:\\users',
      'a\\nb',
      'tab\there',
      'line\nbreak',
      '\u0000',
      '\u007F',
      '\u0085',
      '\u2028',
      'x\u200By',
      '\u202Eevil',
      '\uD800',
      'a\uDC00b',
      '',
    ];
    for (const text of strings) {
      const json = plainJsonString(text);
      // Defined: what JSON.stringify writes, and what jsonText leaves as it is in any value.
      if (json !== undefined) {
        expect(json, text).to.equal(JSON.stringify(text));
        expect(jsonText({ message: text, from: text }), text).to.equal(
          JSON.stringify({ message: text, from: text }),
        );
      }
    }
    // What jsonText changes never has one.
    for (const text of ['\u0085', '\u2028', 'x\u200By', '\u202Eevil', '\uD800', '\u0000'])
      expect(plainJsonString(text), text).to.equal(undefined);
    expect(plainJsonString('zoë 😀 "q"')).to.equal('"zoë 😀 \\"q\\""');
    expect(plainJsonString('\u202Eevil')).to.equal(undefined);
  });

  it('leaves plain values as JSON.stringify writes them', function () {
    for (const value of [{ a: 'zoë 😀 名前', b: 'C:\\users\\bob', c: [1, null, true] }, 'x', 3])
      expect(jsonText(value)).to.equal(JSON.stringify(value));
  });

  it('is the one way commands and the chat layers write JSON', function () {
    const root = new URL('../../../../', import.meta.url);
    for (const dir of ['src/commands', 'src/room', 'src/conversation', 'src/terminal'])
      for (const file of readdirSync(new URL(dir, root)).filter((f) => f.endsWith('.ts'))) {
        if (file === 'sanitise.ts') continue;
        const text = readFileSync(new URL(`${dir}/${file}`, root), 'utf8');
        expect(text, `${dir}/${file}`).to.not.include('JSON.stringify');
      }
  });
});
