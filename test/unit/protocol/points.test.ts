// Ed25519 points every platform judges the same way: a key of small order is nobody's key.
import { expect } from 'chai';
import { createHash, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { fingerprint, newSigner } from '../../../src/protocol/index.js';
import { fingerprintOf, montgomeryU } from '../../../src/protocol/points.js';
import { SMALL_ORDER_KEYS } from '../../helpers/small-order.js';

/** Whether Node's X25519 takes the u of `raw` to zero (it refuses to). */
function x25519Zero(u: Uint8Array): boolean {
  const x = Buffer.from(u).toString('base64url');
  const probe = generateKeyPairSync('x25519').privateKey;
  try {
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    diffieHellman({ privateKey: probe, publicKey });
    return false;
  } catch {
    return true;
  }
}

describe('Ed25519 points (shared by Node and the page)', function () {
  it('maps every key of small order to none or to a u that X25519 takes to zero, and real keys not', function () {
    for (const raw of SMALL_ORDER_KEYS) {
      const u = montgomeryU(raw);
      expect(u === undefined || x25519Zero(u), raw.toString('hex')).to.equal(true);
    }
    expect(montgomeryU(SMALL_ORDER_KEYS[0]!)).to.equal(undefined);
    for (let i = 0; i < 20; i++) {
      const u = montgomeryU(newSigner().publicKey);
      expect(u).to.have.length(32);
      expect(x25519Zero(u!)).to.equal(false);
    }
  });

  it('gives the u of the curve’s base point for the base point (y = 4/5 → u = 9)', function () {
    const base = Buffer.from(
      '5866666666666666666666666666666666666666666666666666666666666666',
      'hex',
    );
    const nine = Buffer.alloc(32);
    nine[0] = 9;
    expect(Buffer.from(montgomeryU(base)!).toString('hex')).to.equal(nine.toString('hex'));
  });

  it('writes a fingerprint as the first 8 bytes of SHA-256 in hex, in fours', function () {
    const key = newSigner().publicKey;
    const digest = createHash('sha256').update(key).digest();
    const hex = digest.toString('hex');
    const expected = `${hex.slice(0, 4)}-${hex.slice(4, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}`;
    expect(fingerprintOf(digest)).to.equal(expected);
    expect(fingerprint(key)).to.equal(expected);
  });
});
