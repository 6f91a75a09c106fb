// The framing of sunoye's own publisher: packets split anywhere across reads come out whole.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  PacketReader,
  connackProperties,
  connectPacket,
  markDuplicate,
  publishPacket,
} from '../../src/mqtt/wire.js';

describe('MQTT framing', function () {
  it('reads back packets of any size however the bytes are cut into chunks', function () {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 20_000 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1 }),
        fc.constantFrom(4 as const, 5 as const),
        (payloads, cuts, version) => {
          const topic = Buffer.from('sunoye/room/482913');
          const packets = payloads.map((p, i) => publishPacket(version, topic, i + 1, p));
          const all = Buffer.concat(packets);
          const reader = new PacketReader();
          const read: [number, Buffer][] = [];
          let at = 0;
          for (let i = 0; at < all.length; i++) {
            const n = cuts[i % cuts.length]!;
            read.push(...reader.push(all.subarray(at, at + n)));
            at += n;
          }
          expect(read.length).to.equal(payloads.length);
          read.forEach(([type, body], i) => {
            expect(type).to.equal(3);
            expect(body.readUInt16BE(0)).to.equal(topic.length);
            expect(body.readUInt16BE(2 + topic.length)).to.equal(i + 1);
            const start = 4 + topic.length + (version === 5 ? 1 : 0);
            expect(body.subarray(start).toString('utf8')).to.equal(payloads[i]);
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
