// Room secrets: a slow salted KDF, and a verifier that is independent of the message key.
import { expect } from 'chai';
import { scryptSync } from 'node:crypto';
import {
  checkKdfParams,
  DEFAULT_KDF,
  deriveRoomSecret,
  messageKey,
  newKdfParams,
  secretMatches,
  verifier,
} from '../../../src/protocol/index.js';

describe('room keys', function () {
  it('derives the same secret from the same password and salt, another from another salt', async function () {
    const kdf = newKdfParams();
    expect(kdf).to.include(DEFAULT_KDF);
    const a = await deriveRoomSecret('horse battery staple', kdf);
    const b = await deriveRoomSecret('horse battery staple', kdf);
    const c = await deriveRoomSecret('horse battery staple', newKdfParams());
    expect(a.equals(b)).to.equal(true);
    expect(a.equals(c)).to.equal(false);
    expect(a.length).to.equal(32);
  });

  it('derives a new room secret with scrypt at the documented default cost (N=2^16, r=8, p=1)', async function () {
    // docs/security.md: "scrypt (N=2^16, r=8, p=1 by default: 64 MiB ...)". The cost is written
    // here as literals and the key computed by Node's scrypt, not from the product's constants.
    const kdf = newKdfParams();
    expect(kdf).to.include({ alg: 'scrypt', N: 65536, r: 8, p: 1 });
    const expected = scryptSync('horse battery staple', Buffer.from(kdf.salt, 'base64'), 32, {
      N: 65536,
      r: 8,
      p: 1,
      maxmem: 128 * 1024 * 1024,
    });
    expect((await deriveRoomSecret('horse battery staple', kdf)).toString('hex')).to.equal(
      expected.toString('hex'),
    );
    // A known answer: this password and salt at N=65536, r=8, p=1, 32 bytes.
    const known = await deriveRoomSecret('correct horse battery staple', {
      ...kdf,
      salt: Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64'),
    });
    expect(known.toString('hex')).to.equal(
      '0b2957ac1e42a6fa426a95e2bcab42228dadfe6e3515cf22927437d803d99dc9',
    );
  });

  it('checks passwords through the verifier, and the verifier is not the key', async function () {
    const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
    const secret = await deriveRoomSecret('right password', kdf);
    const wrong = await deriveRoomSecret('wrong password', kdf);
    const stored = verifier(secret, '482913', 'encrypted');
    expect(secretMatches(secret, stored, '482913', 'encrypted')).to.equal(true);
    expect(secretMatches(wrong, stored, '482913', 'encrypted')).to.equal(false);
    expect(secretMatches(secret, stored.subarray(0, 16), '482913', 'encrypted')).to.equal(false);
    expect(stored.equals(messageKey(secret, '482913'))).to.equal(false);
    expect(stored.equals(secret)).to.equal(false);
  });

  it('binds the verifier to the room number and mode: a record moved or made plain does not verify', async function () {
    const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
    const secret = await deriveRoomSecret('right password', kdf);
    const stored = verifier(secret, '482913', 'encrypted');
    expect(secretMatches(secret, stored, '482913', 'plain')).to.equal(false);
    expect(secretMatches(secret, stored, '482914', 'encrypted')).to.equal(false);
    expect(messageKey(secret, '482913').equals(messageKey(secret, '482914'))).to.equal(false);
  });

  it('treats the password as Unicode text, whatever its normal form', async function () {
    const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
    const composed = await deriveRoomSecret('caf\u00e9 au lait', kdf);
    const decomposed = await deriveRoomSecret('cafe\u0301 au lait', kdf);
    expect(composed.equals(decomposed)).to.equal(true);
  });

  it('gives new rooms a cost within the bounds a client accepts', function () {
    const kdf = newKdfParams();
    expect(checkKdfParams(kdf)).to.deep.equal(kdf);
  });

  it('refuses KDF parameters that would cost too much or too little', function () {
    const salt = newKdfParams().salt;
    expect(() => checkKdfParams({ alg: 'scrypt', N: 2 ** 30, r: 8, p: 1, salt })).to.throw(
      /invalid key-derivation/,
    );
    expect(() => checkKdfParams({ alg: 'scrypt', N: 3000, r: 8, p: 1, salt })).to.throw(
      /invalid key-derivation/,
    );
    expect(() => checkKdfParams({ alg: 'scrypt', N: 1024, r: 8, p: 1, salt: 'AA==' })).to.throw(
      /invalid key-derivation/,
    );
    expect(() => checkKdfParams({ alg: 'pbkdf2', N: 1024, r: 8, p: 1, salt })).to.throw(
      /invalid key-derivation/,
    );
    expect(() => checkKdfParams(null)).to.throw(/invalid key-derivation/);
    // 4 GiB of memory; 512 MiB; 2^22 of work in 128 MiB; 2^22 of work in 128 KiB; 512 MiB.
    for (const [N, r, p] of [
      [2 ** 20, 32, 4],
      [2 ** 19, 8, 1],
      [2 ** 17, 8, 4],
      [2 ** 10, 1, 2 ** 12],
      [2 ** 10, 2 ** 12, 1],
    ] as const) {
      expect(() => checkKdfParams({ alg: 'scrypt', N, r, p, salt }), `${N} ${r} ${p}`).to.throw(
        /invalid key-derivation parameters: too costly/,
      );
    }
    for (const [N, r, p] of [
      [2 ** 18, 8, 1],
      [2 ** 17, 16, 1],
      [2 ** 17, 8, 2],
      [2 ** 10, 1, 2 ** 11],
    ] as const)
      expect(checkKdfParams({ alg: 'scrypt', N, r, p, salt })).to.include({ N, r, p });
    expect(() => checkKdfParams({ alg: 'scrypt', N: 2 ** 15, r: 8.5, p: 1, salt })).to.throw(
      /invalid key-derivation/,
    );
    expect(checkKdfParams({ alg: 'scrypt', N: 2 ** 15, r: 8, p: 1, salt, extra: 1 })).to.deep.equal(
      { alg: 'scrypt', N: 2 ** 15, r: 8, p: 1, salt },
    );
  });
});
