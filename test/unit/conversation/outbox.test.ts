// The outbox: batching, the in-flight window, and the broker's packet size, against a publisher
// that acknowledges when the test says so.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Outbox, type Outgoing } from '../../../src/conversation/outbox.js';
import { Sender } from '../../../src/conversation/sender.js';
import { RefusedError, UnavailableError, UsageError } from '../../../src/errors.js';
import type { AckCallback, QosPublisher } from '../../../src/mqtt/connection.js';
import { encryptedCodec, plainCodec, type RoomCodec } from '../../../src/protocol/index.js';
import { TEST_SIGNER } from '../../helpers/signer.js';

const TOPIC = 'sunoye/room/123456';

class FakePublisher implements QosPublisher {
  receiveMaximum = 65_535;
  sent: { payload: string; ack: AckCallback }[] = [];
  onFatal = undefined;
  constructor(readonly maximumPacketSize = Infinity) {}
  maxPayload(): number {
    return this.maximumPacketSize === Infinity ? Infinity : this.maximumPacketSize - 40;
  }
  publish(_topic: string, payload: string, onAck: AckCallback): void {
    this.sent.push({ payload, ack: onAck });
  }
  ackAll(): void {
    for (const { ack } of this.sent.splice(0)) ack();
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): void {}
}

const lines = (n: number, text = 'line'): Outgoing[] =>
  Array.from({ length: n }, (_, i) => ({ number: i + 1, text: `${text} ${i + 1}` }));

function texts(codec: RoomCodec, payload: string): (string | undefined)[] {
  const decoded = codec.decodeAll(payload);
  if (!decoded.ok) throw new Error(decoded.reason);
  return decoded.payloads.map((p) => (p.type === 'message' ? p.message : p.event));
}

describe('chat outbox', function () {
  it('sends lines that arrived together as one sealed batch, and drains on the acknowledgement', async function () {
    const codec = encryptedCodec('123456', randomBytes(32), TEST_SIGNER);
    const publisher = new FakePublisher();
    const outbox = new Outbox(publisher, { topic: TOPIC, codec }, new Sender('me'), 10);
    await outbox.send(lines(5));
    expect(publisher.sent).to.have.length(1);
    expect(texts(codec, publisher.sent[0]!.payload)).to.deep.equal(lines(5).map((l) => l.text));
    expect(outbox.flight.outstanding).to.equal(5);
    publisher.ackAll();
    await outbox.drained();
    expect(outbox.flight.acked).to.equal(5);
  });

  it('keeps at most `window` messages unacknowledged', async function () {
    const publisher = new FakePublisher();
    const outbox = new Outbox(
      publisher,
      { topic: TOPIC, codec: plainCodec() },
      new Sender('me'),
      2,
    );
    const sending = outbox.send(lines(3));
    await new Promise((resolve) => setImmediate(resolve));
    expect(publisher.sent).to.have.length(2);
    publisher.ackAll();
    await sending;
    expect(publisher.sent).to.have.length(1);
    publisher.ackAll();
    await outbox.drained();
    expect(outbox.flight.acked).to.equal(3);
  });

  it('splits a batch too large for the broker, and refuses a single line that cannot fit', async function () {
    const codec = encryptedCodec('123456', randomBytes(32), TEST_SIGNER);
    const publisher = new FakePublisher(2000);
    const sender = new Sender('me');
    const outbox = new Outbox(publisher, { topic: TOPIC, codec }, sender, 100);
    await outbox.send(lines(8, 'x'.repeat(300)));
    expect(publisher.sent.length).to.be.above(1);
    const sent = publisher.sent.flatMap((s) => texts(codec, s.payload));
    expect(sent).to.deep.equal(lines(8, 'x'.repeat(300)).map((l) => l.text));
    for (const { payload } of publisher.sent) expect(payload.length).to.be.at.most(1960);
    publisher.ackAll();
    let refused: unknown;
    await outbox
      .send([{ number: 9, text: 'y'.repeat(3000) }])
      .catch((err: unknown) => (refused = err));
    expect(refused).to.be.instanceOf(UsageError);
    expect((refused as Error).message).to.match(/^line 9 is too large once encoded/);
  });

  it('says why sending stopped: refused by the ACL, or not acknowledged', async function () {
    const refused = new FakePublisher();
    const outbox = new Outbox(refused, { topic: TOPIC, codec: plainCodec() }, new Sender('me'), 5);
    expect(outbox.failure('mqtt://b', 10)).to.equal(undefined);
    await outbox.send(lines(2));
    refused.sent[0]!.ack(Object.assign(new Error('Not authorized'), { code: 0x87 }));
    expect(outbox.failure('mqtt://b', 10)).to.be.instanceOf(RefusedError);

    const silent = new FakePublisher();
    const waiting = new Outbox(silent, { topic: TOPIC, codec: plainCodec() }, new Sender('me'), 5);
    await waiting.send(lines(3));
    silent.sent[0]!.ack();
    waiting.flight.fail(new Error('Connection closed'));
    const failure = waiting.failure('mqtt://b', 10);
    expect(failure).to.be.instanceOf(UnavailableError);
    // What the client said, not a timeout that did not happen.
    expect(failure?.message).to.equal(
      '2 of 3 messages not acknowledged by the broker mqtt://b (Connection closed); 1 was delivered',
    );
  });
});
