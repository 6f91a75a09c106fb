// Reading a room's row (src/db/room-row.ts): whatever was written into the registry, a value no
// sunoye writes is RecordAlteredError naming the room and the column, never a crash further on.
import { expect } from 'chai';
import { ExitCode } from '../../../src/errors.js';
import { time, toRoom } from '../../../src/db/room-row.js';
import type { Row } from '../../../src/db/sql.js';
import {
  HISTORY_BYTES_RANGE,
  HISTORY_SECONDS_RANGE,
  IDLE_SECONDS_RANGE,
  RecordAlteredError,
} from '../../../src/db/store.js';

const SALT = Buffer.alloc(16, 7).toString('base64');

/** A row as sunoye writes it for room 482913. */
function row(changes: Row = {}): Row {
  return {
    number: 482913,
    creator: 'alice',
    state: 'open',
    mode: 'encrypted',
    idle_seconds: 600,
    kdf: JSON.stringify({ alg: 'scrypt', N: 2 ** 14, r: 8, p: 1, salt: SALT }),
    verifier: new Uint8Array(32),
    created_at: 1_700_000_000_000,
    closed_at: null,
    broker: 'mqtts://broker.example:8883',
    active_at: '1700000060000',
    history_seconds: 86_400,
    history_bytes: 64 * 2 ** 20,
    ...changes,
  };
}

/** The reason `toRoom` gives for a row, or undefined when it takes it. */
function refusal(changes: Row): string | undefined {
  try {
    toRoom(row(changes));
    return undefined;
  } catch (err) {
    expect(err).to.be.instanceOf(RecordAlteredError);
    expect((err as RecordAlteredError).exitCode).to.equal(ExitCode.refused);
    expect((err as RecordAlteredError).room).to.equal('482913');
    const match = /was altered: (.*); nothing was sent/.exec((err as Error).message);
    return match?.[1];
  }
}

describe("a room's row", function () {
  it('reads a row as sunoye writes it, times given as numbers or digit strings', function () {
    const room = toRoom(row());
    expect(room.number).to.equal('482913');
    expect(room.idleSeconds).to.equal(600);
    expect(room.kdf).to.deep.equal({ alg: 'scrypt', N: 2 ** 14, r: 8, p: 1, salt: SALT });
    expect(room.createdAt.getTime()).to.equal(1_700_000_000_000);
    expect(room.activeAt).to.equal(1_700_000_060_000);
    expect(room.closedAt).to.equal(null);
    expect(room.history).to.deep.equal({ seconds: 86_400, bytes: 64 * 2 ** 20 });
    expect(Buffer.isBuffer(room.verifier)).to.equal(true);
    expect(toRoom(row({ broker: 42 })).broker).to.equal(null);
    expect(toRoom(row({ state: 'closed', closed_at: 5 })).closedAt?.getTime()).to.equal(5);
  });

  it('takes the idle timeout at its bounds, and refuses it one past them', function () {
    expect(refusal({ idle_seconds: IDLE_SECONDS_RANGE.min })).to.equal(undefined);
    expect(refusal({ idle_seconds: IDLE_SECONDS_RANGE.max })).to.equal(undefined);
    for (const idle of [IDLE_SECONDS_RANGE.min - 1, IDLE_SECONDS_RANGE.max + 1, 1.5, 'x', null])
      expect(refusal({ idle_seconds: idle }), String(idle)).to.equal(
        'its idle timeout is out of range',
      );
  });

  it('keeps no history (0 and 0) or history within the bounds, and nothing in between', function () {
    expect(refusal({ history_seconds: 0, history_bytes: 0 })).to.equal(undefined);
    const { min: s0, max: s1 } = HISTORY_SECONDS_RANGE;
    const { min: b0, max: b1 } = HISTORY_BYTES_RANGE;
    expect(refusal({ history_seconds: s0, history_bytes: b1 })).to.equal(undefined);
    expect(refusal({ history_seconds: s1, history_bytes: b0 })).to.equal(undefined);
    for (const [seconds, bytes] of [
      [0, b0],
      [s0, 0],
      [s0 - 1, b0],
      [s1 + 1, b0],
      [s0, b0 - 1],
      [s0, b1 + 1],
      [null, b0],
    ])
      expect(refusal({ history_seconds: seconds, history_bytes: bytes })).to.equal(
        'its history retention is out of range',
      );
  });

  it('refuses a verifier that is not 32 bytes, and a state or mode it never writes', function () {
    for (const verifier of [new Uint8Array(31), new Uint8Array(33), 'x'.repeat(32), null])
      expect(refusal({ verifier })).to.equal('its password verifier is not one sunoye makes');
    expect(refusal({ state: 'deleted' })).to.equal('its state is neither open nor closed');
    expect(refusal({ mode: 'ENCRYPTED' })).to.equal('its mode is neither encrypted nor plain');
  });

  it('refuses key-derivation parameters that are not JSON, not scrypt, too costly or too salty', function () {
    expect(refusal({ kdf: '{not json' })).to.equal('its key-derivation parameters are not JSON');
    const kdf = (changes: object): string =>
      JSON.stringify({ alg: 'scrypt', N: 2 ** 14, r: 8, p: 1, salt: SALT, ...changes });
    expect(refusal({ kdf: kdf({ alg: 'argon2' }) })).to.equal(
      'it has invalid key-derivation parameters',
    );
    expect(refusal({ kdf: kdf({ N: 3000 }) })).to.match(/N is not a power of two/);
    expect(refusal({ kdf: kdf({ N: 2 ** 30 }) })).to.match(/too costly/);
    expect(refusal({ kdf: kdf({ salt: Buffer.alloc(64).toString('base64') }) })).to.equal(
      undefined,
    );
    expect(refusal({ kdf: kdf({ salt: Buffer.alloc(65).toString('base64') }) })).to.equal(
      'its salt is longer than any sunoye makes',
    );
  });

  it('refuses a time that is no date: negative, fractional, past the last date, not a number', function () {
    expect(time(8.64e15, 'creation time', '482913')).to.equal(8.64e15);
    expect(time('0', 'creation time', '482913')).to.equal(0);
    for (const value of [-1, 1.5, 8.64e15 + 1, '1e3', '-5', '', null, Number.NaN]) {
      expect(() => time(value, 'creation time', '482913'), String(value)).to.throw(
        RecordAlteredError,
        'its creation time is not a time',
      );
    }
    expect(refusal({ active_at: 'yesterday' })).to.equal('its last activity time is not a time');
    expect(refusal({ closed_at: -1 })).to.equal('its closing time is not a time');
  });
});
