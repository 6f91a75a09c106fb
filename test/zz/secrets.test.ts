// Runs last (mocha loads files in order): no password, key or database-URL password that the
// tests gave any program ever appeared in anything a program printed.
import { expect } from 'chai';
import { secretsGiven, transcript } from '../helpers/cli.js';

describe('secrets in the output of every program run by the tests', function () {
  it('never appear', function () {
    if (transcript.length === 0) this.skip(); // this file ran alone
    expect(secretsGiven.size).to.be.above(0);
    const all = transcript.join('\n');
    const leaked = [...secretsGiven].filter((secret) => secret.length >= 6 && all.includes(secret));
    expect(leaked).to.deep.equal([]);
  });
});
