// A membership claim is written one way, and a page signs it as the terminal programs do.
import { expect } from 'chai';
import { webcrypto } from 'node:crypto';
import { claimStatement } from '../../../src/protocol/claim.js';
import {
  membershipSigned,
  newKeyPair,
  signMembership,
  signerOf,
} from '../../../src/protocol/index.js';
import {
  membershipSignedWeb,
  signMembershipWeb,
  webSignerOf,
} from '../../../src/protocol/web-envelope.js';

describe('membership claims', function () {
  it('writes a claim as its domain, then room, key, name and time as a JSON array', function () {
    const key = Buffer.alloc(32, 1);
    const text = claimStatement({
      room: '482913',
      name: 'bob "b"',
      key,
      joinedAt: new Date(1_700_000_000_123),
    }).toString();
    expect(text).to.equal(
      `sunoye/v1/membership\n["482913","${key.toString('base64')}","bob \\"b\\"",1700000000123]`,
    );
  });

  it('is signed by a page exactly as by a terminal, and each checks the other’s', async function () {
    const pair = newKeyPair();
    const node = signerOf(pair);
    const web = await webSignerOf({
      privateKey: await webcrypto.subtle.importKey(
        'jwk',
        { kty: 'OKP', crv: 'Ed25519', x: pair.x, d: pair.d },
        'Ed25519',
        false,
        ['sign'],
      ),
      publicKey: await webcrypto.subtle.importKey(
        'jwk',
        { kty: 'OKP', crv: 'Ed25519', x: pair.x },
        'Ed25519',
        true,
        ['verify'],
      ),
    });
    const claim = { room: '482913', name: 'pagey', joinedAt: new Date(1_700_000_000_000) };
    const fromNode = signMembership(node, claim);
    const fromWeb = await signMembershipWeb(web, claim);
    expect(Buffer.from(fromWeb.signature).equals(fromNode.signature)).to.equal(true);
    const full = { ...claim, key: node.publicKey };
    expect(membershipSigned(full, fromWeb.signature)).to.equal(true);
    expect(await membershipSignedWeb(full, fromNode.signature)).to.equal(true);
    expect(await membershipSignedWeb({ ...full, name: 'mallory' }, fromNode.signature)).to.equal(
      false,
    );
  });
});
