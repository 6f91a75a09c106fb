// The one sanitiser: text from the database or the network never drives the terminal.
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { visible, visibleLine } from '../../../src/chat/sanitise.js';
import { visible as fromRender } from '../../../src/chat/render.js';
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
