// Which registry failures are tried again, and how long to wait before the next try.
import { expect } from 'chai';
import { backoffMs, isTransient, MAX_ATTEMPTS } from '../../../src/db/retry.js';

describe('registry retries', function () {
  it('tries again after a deadlock, a certification failure, a lock wait timeout or a lost connection', function () {
    for (const errno of [1213, 1205, 1047, 1927, 1053, 1317])
      expect(isTransient({ errno }), String(errno)).to.equal(true);
    for (const code of ['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE'])
      expect(isTransient({ code }), code).to.equal(true);
  });

  it('does not try again what would fail the same way: a duplicate key, a refusal, a server that is down or silent', function () {
    for (const errno of [1062, 1045, 1049, 1146, 1060])
      expect(isTransient({ errno }), String(errno)).to.equal(false);
    for (const code of ['ECONNREFUSED', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_ACCESS_DENIED_ERROR'])
      expect(isTransient({ code }), code).to.equal(false);
    expect(isTransient(new Error('boom'))).to.equal(false);
    expect(isTransient(null)).to.equal(false);
  });

  it('waits a random while, under a bound that doubles with each try up to half a second', function () {
    expect(MAX_ATTEMPTS).to.be.within(2, 10);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const cap = Math.min(500, 10 * 2 ** attempt);
      for (let i = 0; i < 50; i++) expect(backoffMs(attempt)).to.be.at.least(0).and.below(cap);
    }
  });
});
