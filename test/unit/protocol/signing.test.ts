// Signatures: a key of small order (the identity, the zero key) is nobody's, and anyone can sign
// for it, so nothing it signs verifies: not a message, not a membership.
import { expect } from 'chai';
import {
  goodSignaturesHeld,
  membershipSigned,
  newSigner,
  verifySignature,
} from '../../../src/protocol/index.js';

/** A raw key: `first` then zeros (the identity is 1, 0, …; the zero key is of order 4). */
const key = (first: number): Buffer => Buffer.concat([Buffer.from([first]), Buffer.alloc(31)]);

describe('signatures', function () {
  it('verifies a real key, and nothing signed by a key of small order (forged without a private key)', function () {
    const signer = newSigner();
    const data = Buffer.from('hello');
    expect(verifySignature(signer.publicKey, data, signer.sign(data))).to.equal(true);
    // The identity key with the signature (identity, 0) satisfies the equation for every message;
    // the zero key with the zero signature for about one message in eight.
    const identity = key(1);
    const forged = [
      { publicKey: identity, signature: Buffer.concat([identity, Buffer.alloc(32)]) },
      { publicKey: key(0), signature: Buffer.alloc(64) },
    ];
    for (const { publicKey, signature } of forged)
      for (let i = 0; i < 32; i++)
        expect(verifySignature(publicKey, Buffer.from(`message ${i}`), signature), `${i}`).to.equal(
          false,
        );
    const claim = { room: '482913', name: 'zed', key: identity, joinedAt: new Date(0) };
    expect(membershipSigned(claim, forged[0]!.signature)).to.equal(false);
  });

  it('remembers good signatures over small data by key, signature and data: nothing else passes', function () {
    const alice = newSigner();
    const mallory = newSigner();
    const data = Buffer.from('{"type":"message","message":"pay bob 10"}');
    const signature = alice.sign(data);
    expect(verifySignature(alice.publicKey, data, signature)).to.equal(true);
    // Remembered now: again it holds, and for nothing but exactly this.
    expect(verifySignature(alice.publicKey, data, signature)).to.equal(true);
    const other = Buffer.from('{"type":"message","message":"pay eve 10"}');
    expect(verifySignature(alice.publicKey, other, signature)).to.equal(false);
    expect(verifySignature(mallory.publicKey, data, signature)).to.equal(false);
    const flipped = Buffer.from(signature);
    flipped[10] = flipped[10]! ^ 1;
    expect(verifySignature(alice.publicKey, data, flipped)).to.equal(false);
    // A bad signature is never remembered as good: still refused after a good one of the data.
    expect(verifySignature(alice.publicKey, data, flipped)).to.equal(false);
  });

  it('remembers a bounded number of signatures, and checks large data every time', function () {
    const alice = newSigner();
    for (let i = 0; i < 5000; i++) {
      const data = Buffer.from(`line ${i}`);
      expect(verifySignature(alice.publicKey, data, alice.sign(data))).to.equal(true);
    }
    expect(goodSignaturesHeld()).to.equal(4096);
    const large = Buffer.alloc(64 * 1024, 7);
    const before = goodSignaturesHeld();
    const oldest = Buffer.from('line 0');
    expect(verifySignature(alice.publicKey, large, alice.sign(large))).to.equal(true);
    expect(goodSignaturesHeld()).to.equal(before);
    // The oldest was let go, and is checked (and good) again.
    expect(verifySignature(alice.publicKey, oldest, alice.sign(oldest))).to.equal(true);
  });
});
