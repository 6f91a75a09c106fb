// The last word of a program (src/cli/report.ts): one stderr line and the exit code the README
// documents; nothing a database or broker said can drive the terminal.
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { reportError, userMessage } from '../../../src/cli/report.js';
import {
  ExitCode,
  RefusedError,
  UnavailableError,
  UsageError,
  type SunoyeError,
} from '../../../src/errors.js';
import {
  RegistryNotFoundError,
  RoomClosedError,
  RoomNotFoundError,
} from '../../../src/db/store.js';

/** A real Writable that keeps what is written, a terminal or not. */
function sink(isTTY = false): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return Object.assign(stream, { isTTY, text: () => chunks.join('') });
}

describe('reporting an error', function () {
  it("writes `program: message` and returns the error's exit code", function () {
    const cases: [SunoyeError, number][] = [
      [new UsageError('missing <room>'), ExitCode.usage],
      [new RefusedError('wrong password'), ExitCode.refused],
      [new UnavailableError('no answer within 10 s'), ExitCode.unavailable],
    ];
    for (const [err, code] of cases) {
      const stderr = sink();
      expect(reportError('room', err, stderr, {})).to.equal(code);
      expect(stderr.text()).to.equal(`room: ${err.message}\n`);
    }
  });

  it('makes a message one visible line, whatever a server put in it', function () {
    const stderr = sink();
    reportError('listen', new RefusedError('denied\n\u001b[2Jfake: ok'), stderr, {});
    expect(stderr.text()).to.equal('listen: denied\\x0A\\x1B[2Jfake: ok\n');
    expect(stderr.text().split('\n')).to.have.length(2);
  });

  it('adds the stack only with SUNOYE_DEBUG=1', function () {
    const quiet = sink();
    reportError('room', new UsageError('bad'), quiet, { SUNOYE_DEBUG: '0' });
    expect(quiet.text()).to.equal('room: bad\n');
    const debug = sink();
    reportError('room', new UsageError('bad'), debug, { SUNOYE_DEBUG: '1' });
    expect(debug.text()).to.match(/^room: bad\nUsageError: bad\n\s+at /);
  });

  it('calls anything else a bug to report, with its stack, and exits 1', function () {
    const stderr = sink();
    expect(reportError('publish', new TypeError('x is undefined'), stderr, {})).to.equal(
      ExitCode.other,
    );
    expect(stderr.text()).to.match(
      /^publish: unexpected error; please report this with the text below\.\nTypeError: x is undefined\n\s+at /,
    );
    const thrown = sink();
    expect(reportError('publish', 'a string', thrown, {})).to.equal(1);
    expect(thrown.text()).to.equal(
      'publish: unexpected error; please report this with the text below.\na string\n',
    );
  });

  it('colours the program name red on a terminal only', function () {
    const tty = sink(true);
    reportError('room', new UsageError('bad'), tty, {});
    expect(tty.text()).to.equal('\u001b[31mroom:\u001b[39m bad\n');
    const noColour = sink(true);
    reportError('room', new UsageError('bad'), noColour, { NO_COLOR: '1' });
    expect(noColour.text()).to.equal('room: bad\n');
  });

  it("says what to do next for the registry's refusals", function () {
    expect(userMessage(new RoomNotFoundError('482913', 'rooms.db'))).to.equal(
      'there is no room 482913 in rooms.db; check the number, or create one with `room create`',
    );
    expect(userMessage(new RoomClosedError('482913'))).to.equal(
      'room 482913 is closed; create a new one with `room create`',
    );
    expect(userMessage(new RegistryNotFoundError('rooms.db', 'no such file'))).to.match(
      /; check --db \(or SUNOYE_DB, "db" in config\.json\): `room create` makes one$/,
    );
    expect(userMessage(new RefusedError('wrong password'))).to.equal('wrong password');
  });
});
