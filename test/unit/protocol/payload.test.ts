// The chat payload: MQTT-Chat's core, sunoye's optional fields, limits and never-throwing decoding.
import { expect } from 'chai';
import {
  decodePlain,
  encodePlain,
  MAX_TEXT_BYTES,
  plainCodec,
  type DecodeResult,
} from '../../../src/protocol/index.js';

function reason(result: DecodeResult): string {
  expect(result.ok, 'expected a rejection').to.equal(false);
  return (result as { reason: string }).reason;
}

describe('payload decoding', function () {
  it("accepts MQTT-Chat's message and notice exactly as its clients send them", function () {
    expect(decodePlain('{"type": "message", "from": "alice", "message": "hi"}')).to.deep.equal({
      ok: true,
      payload: { type: 'message', from: 'alice', message: 'hi' },
    });
    expect(
      decodePlain(
        '{"type":"notice","from":"bob","notice":"User bob is now subscribed to test/ ."}',
      ),
    ).to.deep.equal({
      ok: true,
      payload: {
        type: 'notice',
        from: 'bob',
        notice: 'User bob is now subscribed to test/ .',
        event: 'join',
      },
    });
  });

  it("takes MQTT-Chat's own join and leave sentences for presence, only of their sender", function () {
    const notice = (from: string, text: string): unknown => {
      const decoded = decodePlain(JSON.stringify({ type: 'notice', from, notice: text }));
      return decoded.ok ? decoded.payload : decoded.reason;
    };
    expect(notice('bob', 'User bob disconnecting from chat .')).to.have.property('event', 'leave');
    expect(notice('bob', 'User bob is now subscribed to chat .')).to.have.property('event', 'join');
    // Not about its sender, not the whole sentence, or an event given: left as it is.
    for (const [from, text] of [
      ['mallory', 'User bob disconnecting from chat .'],
      ['bob', 'User bob disconnecting from chat . (not really)'],
      ['bob', 'User bob is now subscribed to  .'],
      ['bob', 'the server restarts at noon'],
    ])
      expect(notice(from!, text!)).to.not.have.property('event');
    const given = decodePlain(
      JSON.stringify({
        type: 'notice',
        from: 'bob',
        notice: 'User bob disconnecting from chat .',
        event: 'closed',
      }),
    );
    expect(given.ok && given.payload).to.have.property('event', 'closed');
  });

  it("keeps sunoye's optional fields and drops unknown ones", function () {
    const raw = JSON.stringify({
      type: 'notice',
      from: 'a',
      notice: 'a joined',
      event: 'join',
      id: 'abc_-1',
      seq: 7,
      ts: '2026-11-22T10:00:00.123Z',
      colour: 'red',
    });
    expect(decodePlain(raw)).to.deep.equal({
      ok: true,
      payload: {
        type: 'notice',
        from: 'a',
        notice: 'a joined',
        event: 'join',
        id: 'abc_-1',
        seq: 7,
        ts: '2026-11-22T10:00:00.123Z',
      },
    });
  });

  it("keeps a join notice's connection id, and refuses one that is not an id", function () {
    const join = { type: 'notice', from: 'a', notice: 'a joined', event: 'join', conn: 'Ab_-9' };
    expect(decodePlain(JSON.stringify(join))).to.deep.equal({ ok: true, payload: join });
    expect(reason(decodePlain(JSON.stringify({ ...join, conn: 'a b' })))).to.match(/^\/conn/);
    expect(reason(decodePlain(JSON.stringify({ ...join, conn: 'x'.repeat(33) })))).to.match(
      /^\/conn/,
    );
  });

  it('round-trips through the plain codec', function () {
    const payload = {
      type: 'message' as const,
      from: 'zoë 👩‍💻',
      message: 'line with "quotes" and \\ and ünïcode',
      seq: 1,
    };
    expect(plainCodec().decode(encodePlain(payload))).to.deep.equal({ ok: true, payload });
    expect(plainCodec().decode(Buffer.from(encodePlain(payload)))).to.deep.equal({
      ok: true,
      payload,
    });
  });

  it('gives a reason for every kind of bad input, and never throws', function () {
    expect(reason(decodePlain('hello'))).to.equal('not JSON');
    expect(reason(decodePlain('{"type":"message","from":5,"message":"x"}'))).to.equal(
      '/from: must be string',
    );
    expect(reason(decodePlain('{"type":"message","from":"a"}'))).to.match(
      /^\/: must have required property 'message'/,
    );
    expect(reason(decodePlain('{"type":"shout","from":"a","message":"x"}'))).to.match(/^\/type: /);
    expect(reason(decodePlain('{"type":"message","from":"","message":"x"}'))).to.match(/^\/from: /);
    expect(
      reason(decodePlain(JSON.stringify({ type: 'message', from: 'x'.repeat(65), message: 'x' }))),
    ).to.match(/^\/from: /);
    expect(
      reason(decodePlain(JSON.stringify({ type: 'message', from: 'a\u001b[31m', message: 'x' }))),
    ).to.match(/^\/from: /);
    expect(
      reason(
        decodePlain(JSON.stringify({ type: 'notice', from: 'a', notice: 'x', event: 'explode' })),
      ),
    ).to.match(/^\/event: /);
    expect(
      reason(decodePlain(JSON.stringify({ type: 'message', from: 'a', message: 'x', seq: -1 }))),
    ).to.match(/^\/seq: /);
    expect(
      reason(
        decodePlain(JSON.stringify({ type: 'message', from: 'a', message: 'x', ts: 'yesterday' })),
      ),
    ).to.match(/^\/ts: /);
    expect(reason(decodePlain('[1,2]'))).to.match(/^\/: must be object/);
    expect(reason(decodePlain('null'))).to.match(/^\/: must be object/);
    expect(reason(decodePlain(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))).to.equal('not UTF-8');
    expect(reason(decodePlain('['.repeat(100_000) + ']'.repeat(100_000)))).to.equal(
      '/: must be object',
    );
    expect(reason(decodePlain('{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000)))).to.match(
      /^\/: must have required/,
    );
  });

  it('allows 64-character names and 64 KiB messages, and no more', function () {
    const name = 'é'.repeat(64);
    expect(decodePlain(JSON.stringify({ type: 'message', from: name, message: 'x' })).ok).to.equal(
      true,
    );
    const max = 'é'.repeat(MAX_TEXT_BYTES / 2); // two bytes each
    expect(decodePlain(JSON.stringify({ type: 'message', from: 'a', message: max })).ok).to.equal(
      true,
    );
    expect(
      reason(decodePlain(JSON.stringify({ type: 'message', from: 'a', message: `${max}x` }))),
    ).to.equal(`/message: must be at most ${MAX_TEXT_BYTES} bytes of UTF-8`);
    expect(
      reason(
        decodePlain(JSON.stringify({ type: 'message', from: 'a', message: 'x'.repeat(2_000_000) })),
      ),
    ).to.equal('too large');
  });

  it("surfaces MQTT-Chat's plain-text last will as a lost notice", function () {
    expect(decodePlain('User bob timed out.\n')).to.deep.equal({
      ok: true,
      payload: { type: 'notice', from: 'bob', notice: 'User bob timed out.', event: 'lost' },
    });
    expect(decodePlain(Buffer.from('User Ann Lee timed out.'))).to.deep.include({ ok: true });
    expect(reason(decodePlain('User  timed out.\n'))).to.equal('not JSON');
    expect(reason(decodePlain('User \u001b[2J timed out.\n'))).to.match(/^\/from: /);
  });
});
