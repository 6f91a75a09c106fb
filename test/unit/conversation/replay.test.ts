// No replay shown as new: what a listener showed is written down per stream, and a message signed
// before the listener started (less the clock-skew allowance) is old, whatever its number.
import { roomFile, seenPath } from '../../../src/home/room-files.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ReplayGuard } from '../../../src/conversation/replay.js';
import type { ChatPayload } from '../../../src/protocol/index.js';

const STARTED = Date.parse('2026-12-06T10:00:00.000Z');

/** A message of `seq`, signed `agoMs` before the listener started. */
function signed(seq: number | undefined, agoMs = 0): ChatPayload {
  return {
    type: 'message',
    from: 'alice',
    message: 'hi',
    ...(seq === undefined ? {} : { seq }),
    ts: new Date(STARTED - agoMs).toISOString(),
  };
}

/** The streams a seen file holds. */
function streamsIn(path: string): Record<string, { seq: number; at: number }> {
  return (
    JSON.parse(readFileSync(path, 'utf8')) as {
      streams: Record<string, { seq: number; at: number }>;
    }
  ).streams;
}

describe('replay guard', function () {
  let dir: string;
  let path: string;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-replay-'));
    path = seenPath(join(dir, 'home'), 'sqlite:/registry.db', '123456');
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes what was signed up to 2 minutes before it started, and nothing older or unstamped', function () {
    const guard = new ReplayGuard(undefined, STARTED);
    expect(guard.check('k/a', signed(1))).to.equal(undefined);
    // A sender's clock 2 minutes behind ours is allowed for, to the millisecond.
    expect(guard.check('k/a', signed(2, 120_000))).to.equal(undefined);
    expect(guard.check('k/a', signed(3, 120_001))).to.deep.equal({
      replay: 'signed before start',
      ageMs: 120_001,
    });
    // A clock ahead of ours is no replay.
    expect(guard.check('k/a', signed(4, -3_600_000))).to.equal(undefined);
    const unstamped = { type: 'message', from: 'alice', message: 'hi', seq: 5 } as ChatPayload;
    expect(guard.check('k/a', unstamped)).to.have.property('replay', 'signed before start');
    const garbled = { ...signed(6), ts: 'yesterday' };
    expect(guard.check('k/a', garbled)).to.have.property('replay', 'signed before start');
  });

  it('rejects, in a later listener, every number a stream showed before, and takes the next', function () {
    const first = new ReplayGuard(roomFile(path), STARTED);
    for (const seq of [1, 2, 3, 7]) first.shown('key1/pub1', seq);
    first.shown('key1/pub2', 4);
    first.save();

    const later = new ReplayGuard(roomFile(path), STARTED);
    for (const seq of [1, 5, 7])
      expect(later.check('key1/pub1', signed(seq)), `seq ${seq}`).to.deep.equal({
        replay: 'shown before',
      });
    expect(later.check('key1/pub1', signed(8))).to.equal(undefined);
    expect(later.check('key1/pub2', signed(4))).to.deep.equal({ replay: 'shown before' });
    expect(later.check('key1/pub2', signed(5))).to.equal(undefined);
    // Another stream of the same key, another key: nothing shown there yet.
    expect(later.check('key1/pub3', signed(1))).to.equal(undefined);
    expect(later.check('key2/pub1', signed(1))).to.equal(undefined);
  });

  it('merges what two listeners of the room wrote, keeping the higher number of each stream', function () {
    const one = new ReplayGuard(roomFile(path), STARTED);
    const two = new ReplayGuard(roomFile(path), STARTED);
    one.shown('k/a', 9);
    one.shown('k/b', 2);
    two.shown('k/a', 5);
    two.shown('k/c', 3);
    one.save();
    two.save(); // written after one's: its lower number for k/a must not win
    const streams = streamsIn(path);
    expect(Object.fromEntries(Object.entries(streams).map(([s, e]) => [s, e.seq]))).to.deep.equal({
      'k/a': 9,
      'k/b': 2,
      'k/c': 3,
    });
  });

  it("keeps at most 16 streams of one key, forgetting that key's least recently shown", function () {
    const guard = new ReplayGuard(roomFile(path), STARTED);
    for (let i = 1; i <= 20; i++) guard.shown(`k/s${i}`, 1);
    // Shown again, s1 is now among the most recent.
    guard.shown('k/s1', 2);
    guard.shown('other/x', 1);
    guard.save();
    const kept = Object.keys(streamsIn(path));
    expect(kept.filter((s) => s.startsWith('k/'))).to.have.length(16);
    expect(kept).to.include.members(['k/s1', 'k/s20', 'other/x']);
    // s1 back made a 17th: the least recently shown went, s2 to s5 in all.
    expect(kept).to.include('k/s6');
    for (const gone of ['k/s2', 'k/s3', 'k/s4', 'k/s5']) expect(kept).to.not.include(gone);
  });

  it('keeps the streams of at most 1,024 keys in its file', function () {
    const guard = new ReplayGuard(roomFile(path), STARTED);
    for (let i = 0; i < 1100; i++) guard.shown(`key${i}/p`, 1);
    guard.save();
    const kept = Object.keys(streamsIn(path));
    expect(kept).to.have.length(1024);
    // The most recent are kept.
    expect(kept).to.include('key1099/p');
    expect(kept).to.not.include('key0/p');
  });

  it('drops a damaged entry of its file rather than trusting it, and keeps the sound ones', function () {
    const guard = new ReplayGuard(roomFile(path), STARTED);
    guard.shown('k/ok', 1);
    guard.save(); // makes the folder
    writeFileSync(
      path,
      JSON.stringify({
        format: 1,
        streams: {
          'k/text': { seq: '99', at: 1 },
          'k/huge': { seq: 1e300, at: 1 },
          'k/noat': { seq: 5 },
          'k/ok': { seq: 3, at: 1 },
        },
      }),
    );
    const later = new ReplayGuard(roomFile(path), STARTED);
    expect(later.check('k/text', signed(1))).to.equal(undefined);
    expect(later.check('k/huge', signed(1))).to.equal(undefined);
    expect(later.check('k/noat', signed(1))).to.equal(undefined);
    expect(later.check('k/ok', signed(3))).to.deep.equal({ replay: 'shown before' });
    // A file of another format, or no JSON at all, is nothing shown.
    writeFileSync(path, JSON.stringify({ format: 2, streams: { 'k/ok': { seq: 3, at: 1 } } }));
    expect(new ReplayGuard(roomFile(path), STARTED).check('k/ok', signed(3))).to.equal(undefined);
    writeFileSync(path, '{ not json');
    expect(new ReplayGuard(roomFile(path), STARTED).check('k/ok', signed(3))).to.equal(undefined);
  });

  it('warns once when it cannot write down what it showed, and tries again at the next save', function () {
    // A file where the seen folder should be: nothing can be written under it.
    writeFileSync(join(dir, 'home'), 'not a folder');
    const warnings: string[] = [];
    const guard = new ReplayGuard(roomFile(path), STARTED, (line) => warnings.push(line));
    guard.shown('k/a', 1);
    guard.save();
    guard.shown('k/a', 2);
    guard.save();
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include('a listener started later may show again what this one showed');
    // The folder fixed, the next save writes what was shown all along.
    rmSync(join(dir, 'home'));
    guard.save();
    expect(streamsIn(path)['k/a']?.seq).to.equal(2);
  });
});
