// A membership as its member signs it: the registry row's key, room, name and join time, signed
// under a domain of its own, so that a row written into the database by someone else shows.
import { createPublicKey, verify } from 'node:crypto';
import { expect } from 'chai';
import {
  membershipSigned,
  newSigner,
  signMembership,
  type MembershipClaim,
} from '../../../src/protocol/index.js';

const signer = newSigner();
const joinedAt = new Date('2026-12-06T10:00:00.123Z');

describe('membership signatures', function () {
  const { key, signature } = signMembership(signer, { room: '123456', name: 'alice', joinedAt });
  const claim: MembershipClaim = { room: '123456', name: 'alice', key, joinedAt };

  it("is the member's own key's signature of its room, name and join time", function () {
    expect(key.equals(signer.publicKey)).to.equal(true);
    expect(membershipSigned(claim, signature)).to.equal(true);
  });

  it('fails for any other room, name, key or join time, to the millisecond', function () {
    const other = newSigner().publicKey;
    for (const changed of [
      { ...claim, room: '123457' },
      { ...claim, name: 'Alice' },
      { ...claim, name: 'alice ' },
      { ...claim, key: other },
      { ...claim, joinedAt: new Date(joinedAt.getTime() + 1) },
    ])
      expect(membershipSigned(changed, signature), JSON.stringify(changed)).to.equal(false);
  });

  it('signs one fixed statement: its domain line, then [room, key, name, ms] as JSON', function () {
    // Written out here, not taken from the module: rows signed by one version are read by others.
    const statement = Buffer.from(
      `sunoye/v1/membership\n${JSON.stringify(['123456', key.toString('base64'), 'alice', joinedAt.getTime()])}`,
    );
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: key.toString('base64url') },
      format: 'jwk',
    });
    expect(verify(null, statement, publicKey, signature)).to.equal(true);
    // The same claim signed without its domain (as a message could be) is no membership.
    const bare = signer.sign(
      Buffer.from(JSON.stringify(['123456', key.toString('base64'), 'alice', joinedAt.getTime()])),
    );
    expect(membershipSigned(claim, bare)).to.equal(false);
  });

  it('keeps fields apart: a name cannot take part of the room or the time', function () {
    const split = signMembership(signer, { room: '12', name: '3456', joinedAt });
    expect(
      membershipSigned({ room: '123', name: '456', key: split.key, joinedAt }, split.signature),
    ).to.equal(false);
    const quoted = signMembership(signer, { room: '1', name: 'a","b', joinedAt });
    expect(
      membershipSigned({ room: '1', name: 'a","b', key, joinedAt }, quoted.signature),
    ).to.equal(true);
    expect(membershipSigned({ room: '1', name: 'a', key, joinedAt }, quoted.signature)).to.equal(
      false,
    );
  });

  it('says no, never throws, for a signature or key of the wrong size or of garbage', function () {
    expect(membershipSigned(claim, signature.subarray(1))).to.equal(false);
    expect(membershipSigned(claim, Buffer.alloc(64))).to.equal(false);
    expect(membershipSigned({ ...claim, key: key.subarray(1) }, signature)).to.equal(false);
    expect(membershipSigned({ ...claim, key: Buffer.alloc(32, 0xff) }, signature)).to.equal(false);
  });
});
