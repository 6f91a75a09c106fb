// Colour: on a terminal only, as NO_COLOR, FORCE_COLOR and TERM say.
import { expect } from 'chai';
import { colourFor, colours } from '../../../src/terminal/colour.js';

describe('colour', function () {
  it('colours a terminal only, as NO_COLOR, FORCE_COLOR and TERM say', function () {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    expect(colourFor(tty, {}).red('x')).to.equal('\u001b[31mx\u001b[39m');
    expect(colourFor(tty, {}).dim('x')).to.equal('\u001b[2mx\u001b[22m');
    expect(colourFor(pipe, {}).red('x')).to.equal('x');
    expect(colourFor(tty, { NO_COLOR: '1' }).enabled).to.equal(false);
    expect(colourFor(tty, { NO_COLOR: '' }).enabled).to.equal(true);
    expect(colourFor(tty, { TERM: 'dumb' }).enabled).to.equal(false);
    expect(colourFor(pipe, { FORCE_COLOR: '1' }).enabled).to.equal(true);
    expect(colourFor(tty, { FORCE_COLOR: '0' }).enabled).to.equal(false);
    expect(colourFor(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }).enabled).to.equal(false);
    expect(colourFor(pipe, { FORCE_COLOR: '' }).enabled).to.equal(true);
    expect(colourFor(pipe, { FORCE_COLOR: 'false' }).enabled).to.equal(false);
    // Any level writes sunoye's basic styles the same way.
    expect(colourFor(pipe, { FORCE_COLOR: '3' }).gray('x')).to.equal('\u001b[90mx\u001b[39m');
    expect(colours(false).bold('x')).to.equal('x');
  });

  it("decides from the stream and environment it is given, not the process's", function () {
    const saved = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
    try {
      process.env.NO_COLOR = '1';
      process.env.FORCE_COLOR = '0';
      expect(colourFor({ isTTY: true }, {}).red('x')).to.equal('\u001b[31mx\u001b[39m');
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
