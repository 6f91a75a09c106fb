// The streams a listener keeps per key: bounded, in two pools.
import { expect } from 'chai';
import { LIMITS, StreamBook } from '../../../src/conversation/streams.js';

describe('the stream book', function () {
  it('bounds keys in two pools: keys on probation never push out established ones', function () {
    const book = new StreamBook((k) => k === 'pinned');
    book.open('bob', 'bob/1');
    book.shown('bob');
    book.open('pinned', 'pinned/1');
    for (let i = 0; i < 10 * LIMITS.probation.keys; i++) {
      const k = `m${i}`;
      for (let s = 0; s < 10; s++) book.open(k, `${k}/${s}`);
    }
    expect(book.get('bob', 'bob/1')).to.not.equal(undefined);
    expect(book.get('pinned', 'pinned/1')).to.not.equal(undefined);
    expect([...book.all()].length).to.equal(2 + LIMITS.probation.keys * LIMITS.probation.streams);
    // A key's own streams: past its limit, its least active is forgotten, and when.
    for (let s = 2; s <= LIMITS.established.streams + 1; s++) book.open('bob', `bob/${s}`);
    expect(book.get('bob', 'bob/1')).to.equal(undefined);
    expect(book.forgotAt('bob')).to.equal(0); // bob/1 had delivered nothing yet
    // Established keys: past the limit, the one that showed a line least recently goes.
    for (let i = 0; i < LIMITS.established.keys; i++) book.shown(`e${i}`);
    expect(book.isEstablished('bob')).to.equal(false);
    expect(book.isEstablished(`e${LIMITS.established.keys - 1}`)).to.equal(true);
  });
});
