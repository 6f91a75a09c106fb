// The encryption envelope: sealed payloads open only in their own room, with their own key, unaltered.
import { createCipheriv, randomBytes } from 'node:crypto';
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
import { Sender } from '../../../src/conversation/sender.js';

const CONTROL = '\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069';
const TS = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$';

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

  describe('compact batches (envelope version 3)', function () {
    const room = '482913';
    const codec = encryptedCodec(room, key, TEST_SIGNER);
    const signer = TEST_SIGNER.publicKey;
    const lines = (n: number): { text: string }[] =>
      Array.from({ length: n }, (_, i) => ({ text: `line ${i} zoë "q" \\ \u0007` }));

    /** Seals `json` as a member would, under envelope `version`, signed by `by`. */
    function sealRaw(json: string, version: number, by: Signer = TEST_SIGNER): string {
      const aad = Buffer.from(`sunoye/v${version}/room/${room}`);
      const body = Buffer.from(json);
      const signature = by.sign(Buffer.concat([aad, body]));
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
      cipher.setAAD(aad);
      const c = Buffer.concat([
        cipher.update(by.publicKey),
        cipher.update(signature),
        cipher.update(body),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      return JSON.stringify({
        sunoye: version,
        n: nonce.toString('base64'),
        c: c.toString('base64'),
      });
    }

    it('carries the lines one sender stamped together, opening to the very same payloads', function () {
      const batch = new Sender('alice').messages(lines(300));
      const sealed = codec.encodeBatch(batch);
      expect((JSON.parse(sealed) as { sunoye: number }).sunoye).to.equal(3);
      expect(codec.decodeAll(sealed)).to.deep.equal({ ok: true, payloads: batch, signer });
      // An object and an id per line are gone from what is sealed, signed and stored.
      const asArray = sealRaw(JSON.stringify(batch), 2);
      expect(codec.decodeAll(asArray)).to.deep.equal({ ok: true, payloads: batch, signer });
      expect(sealed.length).to.be.lessThan(asArray.length * 0.6);
    });

    it('goes as an array when the payloads are not one stamping of messages', function () {
      const sender = new Sender('alice');
      const mixed = [...sender.messages(lines(3)), sender.end()];
      const apart = [
        sender.message('one'),
        { ...sender.message('two'), ts: '2020-01-01T00:00:00Z' },
      ];
      const renamed = [sender.message('one'), { ...sender.message('two'), from: 'bob' }];
      for (const batch of [mixed, apart, renamed]) {
        const sealed = codec.encodeBatch(batch);
        expect((JSON.parse(sealed) as { sunoye: number }).sunoye).to.equal(2);
        expect(codec.decodeAll(sealed)).to.deep.include({ ok: true, payloads: batch });
      }
    });

    it('does not open altered, moved to another version, or signed by another key', function () {
      const sealed = codec.encodeBatch(new Sender('alice').messages(lines(20)));
      const env = JSON.parse(sealed) as { sunoye: number; n: string; c: string };
      for (const field of ['n', 'c'] as const) {
        const bytes = Buffer.from(env[field], 'base64');
        for (let bit = 0; bit < bytes.length * 8; bit += 5) {
          const flipped = Buffer.from(bytes);
          flipped[bit >> 3]! ^= 1 << (bit & 7);
          const tampered = JSON.stringify({ ...env, [field]: flipped.toString('base64') });
          expect(codec.decodeAll(tampered).ok, `${field} bit ${bit}`).to.equal(false);
        }
      }
      // The version is bound in the associated data: neither form opens as the other.
      expect(codec.decodeAll(JSON.stringify({ ...env, sunoye: 2 }))).to.deep.equal({
        ok: false,
        reason: 'cannot decrypt',
      });
      const v2 = JSON.parse(codec.encode(new Sender('alice').message('hi'))) as object;
      expect(codec.decodeAll(JSON.stringify({ ...v2, sunoye: 3 }))).to.deep.equal({
        ok: false,
        reason: 'cannot decrypt',
      });
      expect(encryptedCodec('482914', key, TEST_SIGNER).decodeAll(sealed)).to.deep.equal({
        ok: false,
        reason: 'cannot decrypt',
      });
      // Another member cannot sign under this one's key.
      const mallory = newSigner();
      const forger: Signer = { publicKey: signer, sign: (d) => mallory.sign(d) };
      const compact = { from: 'alice', sender: 'abc', seq: 1, ts: '2026-12-05T10:00:00.000Z' };
      expect(
        codec.decodeAll(sealRaw(JSON.stringify({ ...compact, lines: ['a', 'b'] }), 3, forger)),
      ).to.deep.equal({ ok: false, reason: 'bad signature' });
    });

    it('checks every line as the same payloads are checked in an array, and says why not', function () {
      const base = {
        from: 'alice',
        sender: 'abc',
        seq: 5,
        ts: '2026-12-05T10:00:00.000Z',
        lines: ['a', 'b', 'c'],
      };
      const long = 'x'.repeat(64 * 1024 + 1);
      const cases: [Record<string, unknown>, string][] = [
        [{ ...base, lines: [] }, 'a batch must hold 1 to 1000 payloads'],
        [{ ...base, lines: Array(1001).fill('x') }, 'a batch must hold 1 to 1000 payloads'],
        [{ ...base, lines: 'abc' }, 'a batch must hold 1 to 1000 payloads'],
        [{ ...base, extra: 1 }, 'malformed batch'],
        [{ ...base, seq: undefined }, 'malformed batch'],
        [{ ...base, seq: 1.5 }, 'malformed batch'],
        [{ ...base, seq: -1 }, 'batch item 0: /seq: must be >= 0'],
        [
          { ...base, seq: Number.MAX_SAFE_INTEGER - 1 },
          `batch item 2: /seq: must be <= ${Number.MAX_SAFE_INTEGER}`,
        ],
        [{ ...base, sender: 'a b' }, 'batch item 0: /id: must match pattern "^[A-Za-z0-9_-]+$"'],
        [
          { ...base, sender: 'a'.repeat(62), seq: 8 },
          'batch item 2: /id: must NOT have more than 64 characters',
        ],
        [{ ...base, from: '' }, 'batch item 0: /from: must NOT have fewer than 1 characters'],
        [
          { ...base, from: 'a\u001bb' },
          `batch item 0: /from: must match pattern "^[^${CONTROL}]+$"`,
        ],
        [{ ...base, ts: 'yesterday' }, `batch item 0: /ts: must match pattern "${TS}"`],
        [{ ...base, lines: ['a', 7, 'c'] }, 'batch item 1: /message: must be string'],
        [
          { ...base, lines: ['a', long, 'c'] },
          'batch item 1: /message: must be at most 65536 bytes of UTF-8',
        ],
        [{ ...base, lines: ['a', 'b', null] }, 'batch item 2: /message: must be string'],
      ];
      for (const [content, why] of cases) {
        expect(codec.decodeAll(sealRaw(JSON.stringify(content), 3)), why).to.deep.equal({
          ok: false,
          reason: why,
        });
        // The same payloads in an array are refused as well.
        const c = content as typeof base;
        if (!Array.isArray(c.lines) || c.lines.length === 0 || 'extra' in c) continue;
        const payloads = c.lines.map((message, i) => ({
          type: 'message',
          from: c.from,
          id: `${c.sender}-${c.seq + i}`,
          seq: c.seq + i,
          ts: c.ts,
          message,
        }));
        expect(codec.decodeAll(sealRaw(JSON.stringify(payloads), 2)).ok, why).to.equal(false);
      }
      expect(codec.decodeAll(sealRaw(JSON.stringify(base), 3))).to.deep.include({ ok: true });
      expect(codec.decodeAll(sealRaw('[1,2]', 3))).to.deep.equal({
        ok: false,
        reason: 'malformed batch',
      });
    });
  });
});
