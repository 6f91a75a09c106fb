// The envelope's format, apart from any cryptography: what a batch travels as, and the framing
// checks made before anything is decrypted.
import { expect } from 'chai';
import type { ChatPayload } from '../../../src/protocol/index.js';
import {
  COMPACT_VERSION,
  ENVELOPE_VERSION,
  MAX_ENVELOPE_BYTES,
  envelopeText,
  parseEnvelope,
  roomAad,
  sealedContent,
  splitPlain,
} from '../../../src/protocol/wire.js';

const message = (seq: number, from = 'alice', ts = '2026-12-06T07:00:00.000Z'): ChatPayload => ({
  type: 'message',
  from,
  message: `line ${seq}`,
  id: `abc-${seq}`,
  seq,
  ts,
});

describe('the envelope format', function () {
  it('sends consecutive lines of one sender and time as a compact batch, anything else as it is', function () {
    const compact = sealedContent([message(1), message(2), message(3)]);
    expect(compact.version).to.equal(COMPACT_VERSION);
    expect(compact.content).to.deep.equal({
      from: 'alice',
      sender: 'abc',
      seq: 1,
      ts: '2026-12-06T07:00:00.000Z',
      lines: ['line 1', 'line 2', 'line 3'],
    });
    expect(sealedContent([message(1)])).to.deep.equal({
      content: message(1),
      version: ENVELOPE_VERSION,
    });
    for (const batch of [
      [message(1), message(3)],
      [message(1), message(2, 'bob')],
      [message(1), message(2, 'alice', '2026-12-06T07:00:00.001Z')],
    ])
      expect(sealedContent(batch)).to.deep.equal({ content: batch, version: ENVELOPE_VERSION });
  });

  it('reads back the framing it writes, bound to the room and version', function () {
    const aads = roomAad('123456');
    expect(aads.v2.toString()).to.equal('sunoye/v2/room/123456');
    expect(aads.v3.toString()).to.equal('sunoye/v3/room/123456');
    const nonce = Buffer.alloc(12, 5);
    const body = Buffer.alloc(40, 9);
    const text = envelopeText(COMPACT_VERSION, nonce, body);
    const parsed = parseEnvelope(aads, text);
    expect(parsed).to.deep.equal({ ok: true, version: 3, aad: aads.v3, nonce, body });
  });

  it('refuses framing that is wrong before any decryption', function () {
    const aads = roomAad('1');
    const reason = (raw: string): string => {
      const r = parseEnvelope(aads, raw);
      return r.ok ? 'ok' : r.reason;
    };
    const n = Buffer.alloc(12).toString('base64');
    const c = Buffer.alloc(16).toString('base64');
    expect(reason(`{"sunoye":2,"n":"${n}","c":"${c}"}`)).to.equal('ok');
    expect(reason(`{"sunoye":2,"n":"${n}","c":"${c.slice(0, -4)}"}`)).to.equal(
      'malformed envelope',
    );
    expect(reason(`{"sunoye":2,"n":"${n}","c":"${c.slice(0, -1)}*"}`)).to.equal(
      'malformed envelope',
    );
    expect(reason(`{"sunoye":2,"n":"AAAA","c":"${c}"}`)).to.equal('malformed envelope');
    expect(reason(`{"sunoye":1,"n":"${n}","c":"${c}"}`)).to.match(
      /^unsupported envelope version 1/,
    );
    expect(reason('{"type":"message"}')).to.match(/^not encrypted/);
    expect(reason('x'.repeat(MAX_ENVELOPE_BYTES + 1))).to.equal('too large');
    const parsed = parseEnvelope(aads, `{"sunoye":2,"n":"${n}","c":"${c}"}`);
    if (!parsed.ok) throw new Error('not parsed');
    expect(splitPlain(parsed, Buffer.alloc(96))).to.deep.equal({
      ok: false,
      reason: 'malformed envelope',
    });
    const split = splitPlain(
      parsed,
      Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(64, 2), Buffer.from('{}')]),
    );
    expect(split.ok && split.json.toString()).to.equal('{}');
  });
});
