// The page's cryptography (WebCrypto and noble's scrypt, run here on Node's own WebCrypto) must
// give byte for byte what the terminal programs' node:crypto gives: one room, one set of keys.
import { expect } from 'chai';
import { hkdfSync } from 'node:crypto';
import {
  deriveRoomSecret,
  isUnboundVerifier,
  messageKey,
  newKdfParams,
  verifier,
} from '../../../src/protocol/index.js';
import {
  deriveRoomSecretWeb,
  isUnboundVerifierWeb,
  messageKeyWeb,
  secretMatchesWeb,
  verifierWeb,
} from '../../../src/protocol/web-crypto.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('the page’s key derivation (WebCrypto, noble scrypt) against node:crypto', function () {
  it('derives the same room secret at the default cost, with progress reported up to 1', async function () {
    const kdf = newKdfParams();
    const progress: number[] = [];
    const web = deriveRoomSecretWeb('correct horse ☕ battery', kdf, (p) => progress.push(p));
    expect(hex(web)).to.equal(hex(await deriveRoomSecret('correct horse ☕ battery', kdf)));
    expect(progress.length).to.be.above(2);
    expect(progress.at(-1)).to.equal(1);
  });

  it('normalises the password as Node does (NFC): one word typed two ways is one password', async function () {
    const kdf = newKdfParams({ N: 1024, r: 8, p: 1 });
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    const node = await deriveRoomSecret(composed, kdf);
    expect(hex(deriveRoomSecretWeb(decomposed, kdf))).to.equal(hex(node));
    expect(hex(deriveRoomSecretWeb('cafe', kdf))).not.to.equal(hex(node));
  });

  it('derives the same message key and verifier, bound to room and mode', async function () {
    const secret = await deriveRoomSecret('pw', newKdfParams({ N: 1024, r: 8, p: 1 }));
    expect(hex(await messageKeyWeb(secret, '123456'))).to.equal(hex(messageKey(secret, '123456')));
    expect(hex(await messageKeyWeb(secret, '123457'))).not.to.equal(
      hex(messageKey(secret, '123456')),
    );
    for (const mode of ['encrypted', 'plain'] as const) {
      const stored = verifier(secret, '123456', mode);
      expect(hex(await verifierWeb(secret, '123456', mode))).to.equal(hex(stored));
      expect(await secretMatchesWeb(secret, stored, '123456', mode)).to.equal(true);
      expect(await secretMatchesWeb(secret, stored, '654321', mode)).to.equal(false);
      expect(
        await secretMatchesWeb(secret, stored, '123456', mode === 'plain' ? 'encrypted' : 'plain'),
      ).to.equal(false);
    }
    const other = await deriveRoomSecret('pw2', newKdfParams({ N: 1024, r: 8, p: 1 }));
    expect(await secretMatchesWeb(other, verifier(secret, '1', 'plain'), '1', 'plain')).to.equal(
      false,
    );
  });

  it('knows an older room’s unbound verifier as Node does', async function () {
    const secret = Buffer.alloc(32, 9);
    // An unbound verifier is what keys.ts recognises; the page must recognise the same bytes.
    const unbound = Buffer.from(
      hkdfSync('sha256', secret, Buffer.alloc(0), 'sunoye v1 password verifier', 32),
    );
    const answers = [];
    for (const stored of [unbound, verifier(secret, '1', 'encrypted'), Buffer.alloc(32, 1)]) {
      const web = await isUnboundVerifierWeb(secret, stored);
      expect(web).to.equal(isUnboundVerifier(secret, stored));
      answers.push(web);
    }
    expect(answers).to.deep.equal([true, false, false]);
  });
});
