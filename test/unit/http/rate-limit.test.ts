import { expect } from 'chai';
import { FailureLimiter } from '../../../src/http/rate-limit.js';

describe('FailureLimiter', function () {
  const limits = { failures: 3, windowMs: 60_000, addresses: 2 };
  let now: number;
  let limiter: FailureLimiter;
  beforeEach(function () {
    now = 1_000_000;
    limiter = new FailureLimiter(limits, () => now);
  });

  it('lets an address fail so many times in a window, then says how long to wait', function () {
    for (let i = 0; i < 3; i++) {
      expect(limiter.waitMs('a'), `failure ${i}`).to.equal(0);
      limiter.fail('a');
      now += 1000;
    }
    expect(limiter.waitMs('a')).to.equal(57_000);
    expect(limiter.waitMs('b'), 'another address').to.equal(0);
  });

  it('forgets an address once its window has ended', function () {
    for (let i = 0; i < 3; i++) limiter.fail('a');
    now += 60_000;
    expect(limiter.waitMs('a')).to.equal(0);
    limiter.fail('a');
    expect(limiter.waitMs('a')).to.equal(0);
  });

  it('keeps at most `addresses` addresses, dropping the oldest', function () {
    for (const address of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) limiter.fail(address);
    expect(limiter.size).to.equal(2);
    expect(limiter.waitMs('a'), 'the oldest, dropped').to.equal(0);
    expect(limiter.waitMs('b')).to.be.above(0);
    expect(limiter.waitMs('c')).to.be.above(0);
  });
});
