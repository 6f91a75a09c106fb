// Property-based: whatever arrives from the network, decoding returns a payload or a reason and
// never throws; a payload it accepts always satisfies the schema's limits.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { hostilePayloads } from '../../helpers/hostile.js';
import {
  encryptedCodec,
  MAX_NAME_CHARS,
  MAX_TEXT_BYTES,
  plainCodec,
  type ChatPayload,
  type DecodeResult,
} from '../../../src/protocol/index.js';
import { TEST_SIGNER } from '../../helpers/signer.js';

const ROOM = '482913';
const key = randomBytes(32);
const encrypted = encryptedCodec(ROOM, key, TEST_SIGNER);
const plain = plainCodec();

const anything = hostilePayloads(key, ROOM, { includeRoomKey: true });

function wellFormed(result: DecodeResult): void {
  if (!result.ok) {
    expect(result.reason).to.be.a('string').and.not.equal('');
    return;
  }
  const p = result.payload;
  expect(['message', 'notice']).to.include(p.type);
  expect([...p.from].length).to.be.within(1, MAX_NAME_CHARS);
  expect([...p.from].filter((c) => c < ' ' || (c >= '\u007f' && c <= '\u009f'))).to.deep.equal([]);
  const text = p.type === 'message' ? p.message : p.notice;
  expect(Buffer.byteLength(text)).to.be.at.most(MAX_TEXT_BYTES);
}

describe('hostile payloads', function () {
  this.timeout(120_000);

  it('never make the decoders throw: 10,000 generated and mutated payloads, each through both codecs', function () {
    fc.assert(
      fc.property(anything, (raw) => {
        wellFormed(plain.decode(raw));
        wellFormed(encrypted.decode(raw));
      }),
      { numRuns: 10_000 },
    );
  });

  it('still accept every genuine message mixed among them', function () {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (text) => {
        const genuine: ChatPayload = { type: 'message', from: 'alice', message: text };
        expect(encrypted.decode(encrypted.encode(genuine))).to.deep.equal({
          ok: true,
          payload: genuine,
        });
        expect(plain.decode(plain.encode(genuine))).to.deep.equal({ ok: true, payload: genuine });
      }),
      { numRuns: 2_000 },
    );
  });
});
