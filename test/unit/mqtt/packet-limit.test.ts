// The embedded broker's packet limit, on a stream cut anywhere: packets within it pass unchanged,
// the first one over it fails the connection as its header arrives, before its body.
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import mqttPacket from 'mqtt-packet';
import { limitPackets } from '../../../src/mqtt/packet-limit.js';

const publish = (bytes: number): Buffer =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 't',
    payload: Buffer.alloc(bytes, 1),
    qos: 0,
    dup: false,
    retain: false,
  });

/** What the limit passes of `data`, fed in pieces of `piece` bytes, and the error if any. */
async function through(data: Buffer, piece: number, max: number) {
  const conn = new PassThrough();
  const limited = limitPackets(conn, max);
  const passed: Buffer[] = [];
  limited.on('data', (chunk: Buffer) => passed.push(chunk));
  const ended = new Promise<Error | undefined>((resolve) => {
    limited.once('error', resolve);
    limited.once('end', () => resolve(undefined));
  });
  for (let i = 0; i < data.length && !conn.destroyed; i += piece)
    conn.write(data.subarray(i, i + piece));
  if (!conn.destroyed) conn.end();
  limited.resume();
  const error = await ended;
  return { passed: Buffer.concat(passed), error, destroyed: conn.destroyed };
}

describe('the embedded broker packet limit', function () {
  const ping = mqttPacket.generate({ cmd: 'pingreq' });
  const within = Buffer.concat([
    publish(0),
    ping,
    publish(127),
    publish(16_000),
    ping,
    publish(200),
  ]);

  it('passes packets within the limit unchanged, however the stream is cut', async function () {
    for (const piece of [1, 2, 3, 7, 128, 5000, within.length]) {
      const { passed, error } = await through(within, piece, 16_100);
      expect(error, String(piece)).to.equal(undefined);
      expect(passed.equals(within), String(piece)).to.equal(true);
    }
  });

  it('fails the connection at the first packet over the limit, passing none of its body', async function () {
    const over = publish(16_100);
    for (const piece of [1, 3, 1000]) {
      const { passed, error, destroyed } = await through(
        Buffer.concat([within, over]),
        piece,
        16_100,
      );
      expect(error?.message, String(piece)).to.match(
        /^a packet of 16\d\d\d bytes \(at most 16100\)$/,
      );
      expect(destroyed).to.equal(true);
      // At most its fixed header (a type byte and 1 to 4 bytes of length) was passed.
      expect(passed.length, String(piece)).to.be.within(within.length, within.length + 4);
      expect(passed.equals(Buffer.concat([within, over]).subarray(0, passed.length))).to.equal(
        true,
      );
    }
  });

  it('fails a remaining length longer than MQTT allows (four bytes)', async function () {
    const { error } = await through(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 1, 2 ** 30);
    expect(error?.message).to.equal('malformed length');
  });
});
