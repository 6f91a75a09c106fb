// The encryption envelope: sealed payloads open only in their own room, with their own key, unaltered.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  encryptedCodec,
  newSigner,
  open,
  seal,
  type ChatPayload,
  type Signer,
} from '../../../src/protocol/index.js';
import { TEST_SIGNER } from '../../helpers/signer.js';

const payload: ChatPayload = {
  type: 'message',
  from: 'alice',
  message: 'meet at 6',
  id: 'm1',
  seq: 1,
};

describe('encryption envelope', function () {
  const key = randomBytes(32);

  it('opens what it sealed, and the envelope shows no plaintext', function () {
    const sealed = seal(key, '482913', payload, TEST_SIGNER);
    expect(sealed).to.not.include('meet at 6');
    expect(sealed).to.not.include('alice');
    expect(JSON.parse(sealed)).to.have.keys(['sunoye', 'n', 'c']);
    expect(open(key, '482913', sealed)).to.deep.equal({ ok: true, payload });
    expect(encryptedCodec('482913', key, TEST_SIGNER).decode(Buffer.from(sealed))).to.deep.equal({
      ok: true,
      payload,
    });
  });

  it('uses a fresh nonce every time', function () {
    const nonces = new Set(
      Array.from(
        { length: 1000 },
        () => (JSON.parse(seal(key, '482913', payload, TEST_SIGNER)) as { n: string }).n,
      ),
    );
    expect(nonces.size).to.equal(1000);
  });

  it('rejects a payload sealed for another room or with another key', function () {
    const sealed = seal(key, '482913', payload, TEST_SIGNER);
    expect(open(key, '482914', sealed)).to.deep.equal({ ok: false, reason: 'cannot decrypt' });
    expect(open(randomBytes(32), '482913', sealed)).to.deep.equal({
      ok: false,
      reason: 'cannot decrypt',
    });
  });

  it('rejects the envelope with any single bit flipped in its nonce or ciphertext', function () {
    const env = JSON.parse(seal(key, '482913', payload, TEST_SIGNER)) as {
      sunoye: number;
      n: string;
      c: string;
    };
    for (const field of ['n', 'c'] as const) {
      const bytes = Buffer.from(env[field], 'base64');
      for (let bit = 0; bit < bytes.length * 8; bit++) {
        const flipped = Buffer.from(bytes);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        const tampered = JSON.stringify({ ...env, [field]: flipped.toString('base64') });
        const result = open(key, '482913', tampered);
        expect(result.ok, `${field} bit ${bit}`).to.equal(false);
      }
    }
  });

  it('says why it rejects malformed envelopes, without throwing', function () {
    const cases: [string, string][] = [
      ['not json', 'not JSON'],
      [
        '{"type":"message","from":"a","message":"x"}',
        'not encrypted (plain payload in an encrypted room)',
      ],
      [
        '{"sunoye":1,"n":"","c":""}',
        'unsupported envelope version 1 (sunoye speaks 2: the sender may run another version)',
      ],
      ['{"sunoye":2,"n":"AAAA","c":"AAAA"}', 'malformed envelope'],
      ['{"sunoye":2,"n":5,"c":"AAAA"}', 'malformed envelope'],
      ['{"sunoye":2,"n":"!!!!","c":"????"}', 'malformed envelope'],
      ['User bob timed out.\n', 'not JSON'],
    ];
    for (const [input, why] of cases)
      expect(open(key, '482913', input)).to.deep.equal({ ok: false, reason: why });
    expect(open(key, '482913', 'x'.repeat(2_000_000))).to.deep.equal({
      ok: false,
      reason: 'too large',
    });
    expect(open(key, '482913', Buffer.from([0xc3, 0x28]))).to.deep.equal({
      ok: false,
      reason: 'not UTF-8',
    });
  });

  it('checks the schema of what it decrypts', function () {
    const bad = seal(key, '482913', { type: 'message', from: '', message: 'x' }, TEST_SIGNER);
    const result = open(key, '482913', bad);
    expect(result.ok).to.equal(false);
    expect((result as { reason: string }).reason).to.match(/^\/from: /);
  });

  it('carries a batch of payloads in one envelope, all or nothing', function () {
    const codec = encryptedCodec('482913', key, TEST_SIGNER);
    const batch: ChatPayload[] = Array.from({ length: 50 }, (_, i) => ({
      type: 'message',
      from: 'alice',
      message: `line ${i}`,
      id: `a-${i}`,
      seq: i,
    }));
    const sealed = codec.encodeBatch(batch);
    expect(sealed).to.not.include('line 1');
    const signer = TEST_SIGNER.publicKey;
    expect(codec.decodeAll(sealed)).to.deep.equal({ ok: true, payloads: batch, signer });
    expect(codec.decode(sealed)).to.deep.equal({ ok: false, reason: 'a batch of 50 payloads' });
    expect(codec.decodeAll(codec.encode(payload))).to.deep.equal({
      ok: true,
      payloads: [payload],
      signer,
    });
    const withBad = [...batch, { type: 'message', from: '', message: 'x' } as ChatPayload];
    expect(codec.decodeAll(codec.encodeBatch(withBad))).to.deep.equal({
      ok: false,
      reason: 'batch item 50: /from: must NOT have fewer than 1 characters',
    });
    expect(codec.decodeAll(codec.encodeBatch([]))).to.deep.include({ ok: false });
    const tooMany = Array.from({ length: 1001 }, () => payload);
    expect(codec.decodeAll(codec.encodeBatch(tooMany))).to.deep.equal({
      ok: false,
      reason: 'a batch must hold 1 to 1000 payloads',
    });
  });

  it('carries the signer: a payload signed by another key, or altered inside, does not open', function () {
    const mallory = newSigner();
    const codec = encryptedCodec('482913', key, mallory);
    const decoded = codec.decodeAll(codec.encode(payload));
    expect(decoded).to.deep.include({ ok: true, signer: mallory.publicKey });
    // A member who swaps in another's public key cannot make the signature match it.
    const forger: Signer = { publicKey: TEST_SIGNER.publicKey, sign: (d) => mallory.sign(d) };
    expect(
      encryptedCodec('482913', key, forger).decodeAll(seal(key, '482913', payload, forger)),
    ).to.deep.equal({ ok: false, reason: 'bad signature' });
  });
});
