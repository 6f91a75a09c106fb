// Dedupe and gaps: the sequence numbers and ids a listener has seen, within bounds.
import { expect } from 'chai';
import { RecentIds, senderOf, SeqRanges } from '../../../src/conversation/tracker.js';

describe('dedupe and gaps', function () {
  it('knows every sequence number seen, however many and in whatever order', function () {
    const seen = new Map<string, SeqRanges>();
    const add = (sender: string, n: number): boolean => {
      if (!seen.has(sender)) seen.set(sender, new SeqRanges());
      return seen.get(sender)!.add(n, 1000);
    };
    // A last will (1) arriving after the join notice (2) is new; numbers seen first far from 1 are
    // fine too, as one run however long.
    expect([2, 1, 2].map((n) => add('will', n))).to.deep.equal([true, true, false]);
    for (let n = 50_000; n < 52_000; n++) expect(add('late', n)).to.equal(true);
    expect(seen.get('late')!.size).to.equal(1);
    expect([50_000, 51_999].map((n) => add('late', n))).to.deep.equal([false, false]);
    expect(add('late', 49_000)).to.equal(true);
    // 200,000 numbers, then every one of them again (a redelivered window far larger than any id cache).
    for (let n = 1; n <= 200_000; n++) expect(add('a', n)).to.equal(true);
    for (let n = 1; n <= 200_000; n += 997) expect(add('a', n)).to.equal(false);
    // Out of order: 5 and 6 missing, arriving after 7..9; then all of them again.
    const b = [1, 2, 3, 4, 7, 8, 9, 5, 6, 10].map((n) => add('b', n));
    expect(b).to.deep.equal(Array(10).fill(true));
    expect([1, 5, 6, 9, 10].map((n) => add('b', n))).to.deep.equal(Array(5).fill(false));
    expect(add('b', 11)).to.equal(true);
    expect(seen.get('b')!.size).to.equal(0);
  });

  it('keeps numbers in any order as merged runs, and gives up the lowest gap past its limit', function () {
    const runs = new SeqRanges();
    // Descending from 10,000: one run, however many numbers.
    for (let n = 10_000; n > 5000; n--) expect(runs.add(n, 8)).to.equal(true);
    expect(runs.size).to.equal(1);
    expect([5001, 7777, 10_000].map((n) => runs.has(n))).to.deep.equal([true, true, true]);
    expect([5000, 10_001, 1].map((n) => runs.has(n))).to.deep.equal([false, false, false]);
    // Scattered (every other number): at most 8 runs; the lowest gaps are given up.
    for (let n = 20_000; n < 20_100; n += 2) runs.add(n, 8);
    expect(runs.size).to.equal(8);
    expect(runs.add(20_098, 8)).to.equal(false);
    expect(runs.add(20_001, 8)).to.equal(false); // below the watermark now: given up
    expect(runs.add(20_097, 8)).to.equal(true); // a gap still kept
    // Filling gaps merges runs.
    const gaps = new SeqRanges();
    for (const n of [1, 3, 5, 7]) gaps.add(n, 8);
    expect(gaps.size).to.equal(3);
    for (const n of [6, 4]) gaps.add(n, 8);
    expect(gaps.size).to.equal(1);
    gaps.add(2, 8);
    expect(gaps.size).to.equal(0);
    expect([1, 7].map((n) => gaps.add(n, 8))).to.deep.equal([false, false]);
  });

  it('gives up the oldest gap once too many runs wait above it', function () {
    const seen = new SeqRanges();
    expect([1, 3, 5, 7].map((n) => seen.add(n, 3))).to.deep.equal([true, true, true, true]);
    expect(seen.add(9, 3)).to.equal(true); // four runs above the gap at 2: it is given up
    expect([2, 3, 9].map((n) => seen.add(n, 3))).to.deep.equal([false, false, false]);
    expect(seen.add(4, 3)).to.equal(true);
  });

  it('remembers ids up to its capacity', function () {
    const ids = new RecentIds(3);
    expect(['a', 'b', 'a', 'c', 'd', 'a'].map((id) => ids.add(id))).to.deep.equal([
      true,
      true,
      false,
      true,
      true,
      true,
    ]);
  });

  it('takes the sender part of an id', function () {
    expect(senderOf('Ab_-x-12')).to.equal('Ab_-x');
  });
});
