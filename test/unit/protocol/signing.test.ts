// Signatures: a key of small order (the identity, the zero key) is nobody's, and anyone can sign
// for it, so nothing it signs verifies: not a message, not a membership.
import { expect } from 'chai';
import { membershipSigned, newSigner, verifySignature } from '../../../src/protocol/index.js';

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
});
