// The framing of sunoye's own client: packets split anywhere across reads come out whole.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  MalformedPacket,
  PacketPool,
  PacketReader,
  connackProperties,
  connectPacket,
  disconnectPacket,
  markDuplicate,
  pubackPacket,
  publishPacket,
  readPublish,
  readSuback,
  subscribePacket,
} from '../../src/mqtt/wire.js';

/** The one packet in `bytes`: [type, body, flags]. */
function only(bytes: Buffer): [number, Buffer, number] {
  const packets = new PacketReader().push(bytes);
  expect(packets).to.have.length(1);
  return packets[0]!;
}

describe('MQTT framing', function () {
  it('reads back packets of any size however the bytes are cut into chunks', function () {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 20_000 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1 }),
        fc.constantFrom(4 as const, 5 as const),
        (payloads, cuts, version) => {
          const topic = Buffer.from('sunoye/room/482913');
          const pool = new PacketPool();
          const packets = payloads.map((p, i) =>
            publishPacket(version, topic, i + 1, p, i % 2 ? pool : undefined),
          );
          const all = Buffer.concat(packets);
          const reader = new PacketReader();
          const read: [number, Buffer, number][] = [];
          let at = 0;
          for (let i = 0; at < all.length; i++) {
            const n = cuts[i % cuts.length]!;
            read.push(...reader.push(all.subarray(at, at + n)));
            at += n;
          }
          expect(read.length).to.equal(payloads.length);
          read.forEach(([type, body, flags], i) => {
            expect(type).to.equal(3);
            const message = readPublish(flags, body, version);
            expect(message.topic).to.equal('sunoye/room/482913');
            expect(message.qos).to.equal(1);
            expect(message.id).to.equal(i + 1);
            expect(message.payload.toString('utf8')).to.equal(payloads[i]);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('marks a redelivery as a duplicate without touching the original', function () {
    const p = publishPacket(5, Buffer.from('t'), 7, 'x');
    const dup = markDuplicate(p);
    expect(dup[0]).to.equal(0x3a);
    expect(p[0]).to.equal(0x32);
    expect(dup.subarray(1)).to.deep.equal(p.subarray(1));
  });

  it('writes credentials and keepalive into CONNECT', function () {
    const packet = connectPacket(
      { url: 'mqtt://h', username: 'u', password: 'p', keepaliveSeconds: 300 },
      5,
      'id',
    );
    const body = new PacketReader().push(packet)[0]![1];
    expect(body.subarray(0, 6).toString('latin1')).to.equal('\u0000\u0004MQTT');
    expect(body[6]).to.equal(5);
    expect(body[7]).to.equal(0xc2);
    expect(body.readUInt16BE(8)).to.equal(300);
  });

  it('writes a kept session with its expiry and a QoS 1 will into CONNECT', function () {
    const settings = { url: 'mqtt://h', keepaliveSeconds: 30 };
    const session = {
      clean: false,
      sessionExpirySeconds: 3600,
      will: { topic: 't/w', payload: 'gone' },
    };
    const [type, v5] = only(connectPacket(settings, 5, 'me', session));
    expect(type).to.equal(1);
    expect(v5[7]).to.equal(0x0c); // will, will QoS 1; no clean start
    // Properties: Session Expiry Interval 3600; then the client id, no will properties, the will.
    expect([...v5.subarray(10, 16)]).to.deep.equal([5, 0x11, 0, 0, 0x0e, 0x10]);
    expect(v5.subarray(16).toString('latin1')).to.equal(
      '\u0000\u0002me\u0000\u0000\u0003t/w\u0000\u0004gone',
    );
    const [, v4] = only(connectPacket(settings, 4, 'me', session));
    expect(v4[7]).to.equal(0x0c);
    expect(v4.subarray(10).toString('latin1')).to.equal(
      '\u0000\u0002me\u0000\u0003t/w\u0000\u0004gone',
    );
    expect(only(connectPacket(settings, 5, 'me'))[1][7]).to.equal(0x02); // clean, no will
  });

  it('subscribes at QoS 1 and reads the SUBACK, granted or refused', function () {
    const [type, body, flags] = only(subscribePacket(5, 0x0102, 'a/b'));
    expect([type, flags]).to.deep.equal([8, 2]);
    expect([...body]).to.deep.equal([1, 2, 0, 0, 3, 0x61, 0x2f, 0x62, 1]);
    expect([...only(subscribePacket(4, 9, 'a'))[1]]).to.deep.equal([0, 9, 0, 1, 0x61, 1]);
    // MQTT 5 SUBACK with a reason string property; 3.1.1 refusal 0x80.
    expect(readSuback(Buffer.from([0, 7, 5, 0x1f, 0, 2, 0x6e, 0x6f, 0x87]), 5)).to.deep.equal({
      id: 7,
      codes: [0x87],
    });
    expect(readSuback(Buffer.from([0, 7, 1]), 4)).to.deep.equal({ id: 7, codes: [1] });
    expect(() => readSuback(Buffer.from([0, 7, 0]), 5)).to.throw(/malformed/);
  });

  it('reads incoming PUBLISH at QoS 0 and 1 and refuses QoS 2 and cut-short packets', function () {
    // QoS 0 on MQTT 5 with properties (a content type "x"): no packet id.
    const q0 = Buffer.from([0, 1, 0x74, 4, 0x03, 0, 1, 0x78, 0x68, 0x69]);
    expect(readPublish(0, q0, 5)).to.deep.include({ topic: 't', qos: 0, id: undefined });
    expect(readPublish(0, q0, 5).payload.toString()).to.equal('hi');
    expect(readPublish(2, Buffer.from([0, 1, 0x74, 0, 9, 0x68]), 4)).to.deep.include({
      qos: 1,
      id: 9,
    });
    expect(() => readPublish(4, Buffer.from([0, 1, 0x74, 0, 9]), 4)).to.throw(/QoS 2/);
    expect(() => readPublish(2, Buffer.from([0, 5, 0x74]), 4)).to.throw(MalformedPacket);
    expect(() => readPublish(2, Buffer.from([0, 1, 0x74, 0]), 4)).to.throw(MalformedPacket);
    expect(() => readPublish(0, Buffer.from([0]), 4)).to.throw(MalformedPacket);
    expect(() => readSuback(Buffer.from([0, 7]), 4)).to.throw(MalformedPacket);
    expect(() => readPublish(0, Buffer.from([0, 1, 0x74, 9]), 5)).to.throw(/malformed/);
    expect([...pubackPacket(0x0203)]).to.deep.equal([0x40, 2, 2, 3]);
  });

  it('ends a kept MQTT 5 session only when asked', function () {
    expect([...disconnectPacket(5, true)]).to.deep.equal([0xe0, 7, 0, 5, 0x11, 0, 0, 0, 0]);
    expect([...disconnectPacket(5, false)]).to.deep.equal([0xe0, 0]);
    expect([...disconnectPacket(4, true)]).to.deep.equal([0xe0, 0]);
  });

  it('gives packet memory back for reuse, up to its limit', function () {
    const pool = new PacketPool(4096);
    const a = pool.take(1500);
    expect(a.length).to.equal(1500);
    expect(a.buffer.byteLength).to.equal(2048);
    pool.give(a);
    const b = pool.take(2000);
    expect(b.buffer).to.equal(a.buffer); // the same memory again
    const c = pool.take(100);
    expect(c.buffer.byteLength).to.equal(1024);
    pool.give(b);
    pool.give(c);
    pool.give(pool.take(3000)); // 4096 more: over the limit, not kept
    expect(pool.take(1025).buffer).to.equal(a.buffer);
    expect(pool.take(10).buffer).to.equal(c.buffer);
    expect(pool.take(10).buffer).to.not.equal(c.buffer);
  });

  it('finds Receive Maximum, Server Keep Alive and Maximum Packet Size among other CONNACK properties', function () {
    const props = Buffer.from([
      0x22,
      0x00,
      0x0a, // topic alias maximum
      0x1f,
      0x00,
      0x02,
      0x6f,
      0x6b, // reason string "ok"
      0x26,
      0x00,
      0x01,
      0x6b,
      0x00,
      0x01,
      0x76, // user property k=v
      0x21,
      0x03,
      0xe8, // receive maximum 1000
      0x13,
      0x00,
      0x3c, // server keep alive 60
      0x27,
      0x00,
      0x08,
      0x00,
      0x00, // maximum packet size
    ]);
    const body = Buffer.concat([Buffer.from([0, 0, props.length]), props]);
    expect(connackProperties(body)).to.deep.equal({
      receiveMaximum: 1000,
      serverKeepAlive: 60,
      maximumPacketSize: 524_288,
    });
    expect(connackProperties(Buffer.from([0, 0]))).to.deep.equal({});
  });
});
