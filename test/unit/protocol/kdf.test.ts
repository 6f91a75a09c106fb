// What every platform's key derivation shares: the record's bounds and the constant-time compare.
import { expect } from 'chai';
import { checkKdfParams, sameBytes } from '../../../src/protocol/kdf.js';

describe('room key parameters (shared by Node and the page)', function () {
  const salt = Buffer.alloc(16, 7).toString('base64');

  it('takes the default cost and the most the bounds allow, and refuses one step past them', function () {
    expect(checkKdfParams({ alg: 'scrypt', N: 65536, r: 8, p: 1, salt })).to.deep.equal({
      alg: 'scrypt',
      N: 65536,
      r: 8,
      p: 1,
      salt,
    });
    // 256 MiB of memory and 2^21 of work are the limits: at them, taken; past them, refused.
    expect(() => checkKdfParams({ alg: 'scrypt', N: 2 ** 18, r: 8, p: 1, salt })).not.to.throw();
    expect(() => checkKdfParams({ alg: 'scrypt', N: 2 ** 19, r: 8, p: 1, salt })).to.throw(
      /too costly.*512 MiB/,
    );
    expect(() => checkKdfParams({ alg: 'scrypt', N: 2 ** 18, r: 8, p: 2, salt })).to.throw(
      /too costly/,
    );
    expect(() => checkKdfParams({ alg: 'scrypt', N: 3000, r: 8, p: 1, salt })).to.throw(
      /not a power of two/,
    );
    for (const bad of [
      null,
      'scrypt',
      { alg: 'argon2', N: 65536, r: 8, p: 1, salt },
      { alg: 'scrypt', N: 512, r: 8, p: 1, salt },
      { alg: 'scrypt', N: 65536, r: 8, p: 1, salt: Buffer.alloc(15).toString('base64') },
      { alg: 'scrypt', N: 65536, r: 0, p: 1, salt },
      { alg: 'scrypt', N: '65536', r: 8, p: 1, salt },
    ])
      expect(() => checkKdfParams(bad), JSON.stringify(bad)).to.throw(/invalid key-derivation/);
  });

  it('compares bytes: equal only when every byte and the length are', function () {
    expect(sameBytes(Buffer.from('abc'), Buffer.from('abc'))).to.equal(true);
    expect(sameBytes(Buffer.from('abc'), Buffer.from('abd'))).to.equal(false);
    expect(sameBytes(Buffer.from('abc'), Buffer.from('ab'))).to.equal(false);
    expect(sameBytes(new Uint8Array(0), new Uint8Array(0))).to.equal(true);
    expect(sameBytes(Buffer.from([0x80]), Buffer.from([0x00]))).to.equal(false);
  });
});
