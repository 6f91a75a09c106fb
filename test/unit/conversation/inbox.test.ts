// The inbox: decoding, dedupe, gaps, what came before our own join notice, and --count.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Inbox, type ShownWith } from '../../../src/conversation/inbox.js';
import { Sender } from '../../../src/conversation/sender.js';
import { encryptedCodec, type ChatPayload } from '../../../src/protocol/index.js';
import { newWebIdentity, webRoomCodec, webSignerOf } from '../../../src/protocol/web-envelope.js';
import { TEST_SIGNER } from '../../helpers/signer.js';

const TOPIC = 'sunoye/room/123456';

function setup(count?: number) {
  const codec = encryptedCodec('123456', randomBytes(32), TEST_SIGNER);
  const me = new Sender('me');
  const join = me.notice('join', TOPIC, '123456');
  const shown: ChatPayload[] = [];
  const how: ShownWith[] = [];
  const warnings: string[] = [];
  const events: string[] = [];
  const inbox = new Inbox(
    { topic: TOPIC, codec, joinId: join.id, count },
    {
      show: (payload, _at, shownWith) => {
        shown.push(payload);
        how.push(shownWith);
      },
      warn: (message) => warnings.push(message),
      closedNotice: () => events.push('closed'),
      countReached: () => events.push('count'),
    },
  );
  const text = (payloads: ChatPayload[]): (string | undefined)[] =>
    payloads.map((p) => (p.type === 'message' ? p.message : p.event));
  return { codec, join, inbox, shown, how, warnings, events, text };
}

describe('chat inbox', function () {
  it('shows what arrives before our join notice at once, above it, as sent before we joined', function () {
    const { codec, join, inbox, shown, text, how } = setup();
    const bob = new Sender('bob');
    // A backlog the broker kept for a resumed session: bob's line and the will of our own
    // earlier listener, which belong above our new join line, never after it.
    const earlier = new Sender('me');
    inbox.receive(Buffer.from(codec.encode(bob.message('early'))));
    inbox.receive(Buffer.from(codec.encode(earlier.notice('lost', TOPIC, '123456'))));
    expect(text(shown)).to.deep.equal(['early', 'lost']);
    expect(inbox.hasJoined).to.equal(false);
    inbox.receive(Buffer.from(codec.encode(join)));
    inbox.receive(Buffer.from(codec.encode(bob.message('late'))));
    expect(text(shown)).to.deep.equal(['early', 'lost', 'join', 'late']);
    expect(how.map((h) => h.beforeJoin === true)).to.deep.equal([true, true, false, false]);
    expect(inbox.hasJoined).to.equal(true);
  });

  it('stops counting a backlog when waiting for the join notice is given up', function () {
    const { codec, inbox, shown, text, how } = setup();
    inbox.receive(Buffer.from(codec.encode(new Sender('bob').message('hi'))));
    inbox.release();
    inbox.receive(Buffer.from(codec.encode(new Sender('bob').message('after'))));
    expect(text(shown)).to.deep.equal(['hi', 'after']);
    expect(how.map((h) => h.beforeJoin === true)).to.deep.equal([true, false]);
  });

  it('drops duplicates, warns about gaps and about payloads it cannot read', function () {
    const { codec, join, inbox, shown, warnings, text } = setup();
    inbox.receive(Buffer.from(codec.encode(join)));
    const bob = new Sender('bob');
    const first = bob.message('one');
    inbox.receive(Buffer.from(codec.encode(first)));
    inbox.receive(Buffer.from(codec.encode(first)));
    bob.message('lost');
    bob.message('lost too');
    inbox.receive(Buffer.from(codec.encodeBatch([bob.message('four'), bob.message('five')])));
    inbox.receive(Buffer.from('not sealed'));
    expect(text(shown)).to.deep.equal(['join', 'one', 'four', 'five']);
    expect(warnings).to.have.length(2);
    expect(warnings[0]).to.match(/^2 messages from bob did not arrive \(seq \d+-\d+\)$/);
    expect(warnings[1]).to.match(/^ignored a payload on sunoye\/room\/123456: /);
  });

  it('counts chat messages, not notices, and shows nothing past --count', function () {
    const { codec, join, inbox, shown, events, text } = setup(2);
    inbox.receive(Buffer.from(codec.encode(join)));
    const bob = new Sender('bob');
    inbox.receive(
      Buffer.from(codec.encodeBatch([bob.message('a'), bob.message('b'), bob.message('c')])),
    );
    expect(text(shown)).to.deep.equal(['join', 'a', 'b']);
    expect(inbox.messages).to.equal(2);
    expect(events).to.deep.equal(['count']);
  });

  it('passes on a closed notice', function () {
    const { codec, join, inbox, events } = setup();
    inbox.receive(Buffer.from(codec.encode(join)));
    inbox.receive(Buffer.from(codec.encode(new Sender('owner').notice('closed', TOPIC, '123456'))));
    expect(events).to.deep.equal(['closed']);
  });
});

describe('chat inbox fed by a codec that waits (the page’s WebCrypto)', function () {
  it('shows what a page opened, in arrival order, exactly as it shows what it opened itself', async function () {
    const key = randomBytes(32);
    const pageSigner = await webSignerOf(await newWebIdentity());
    const page = webRoomCodec(key, '123456', pageSigner);
    const terminal = encryptedCodec('123456', key, TEST_SIGNER);
    const bob = new Sender('bob');
    const me = new Sender('me');
    const one = Buffer.from(terminal.encode(bob.message('one')));
    const twoThree = await page.sealBatch(bob.messages([{ text: 'two' }, { text: 'three' }]));
    bob.message('four'); // never sent
    const raws = [
      await page.sealBatch([me.notice('join', TOPIC, '123456')]),
      one,
      twoThree,
      twoThree, // again: dropped
      'not an envelope',
      await page.sealBatch([bob.message('five')]),
      await page.sealBatch([bob.end()]),
    ];
    const run = (): { shown: string[]; warnings: string[] } & { inbox: Inbox } => {
      const shown: string[] = [];
      const warnings: string[] = [];
      const inbox = new Inbox(
        { topic: TOPIC, codec: terminal, joinId: undefined, count: undefined },
        {
          show: (p) => shown.push(p.type === 'message' ? p.message : `(${p.event})`),
          warn: (line) => warnings.push(line),
          closedNotice: () => undefined,
          countReached: () => undefined,
        },
      );
      return { shown, warnings, inbox };
    };
    const direct = run();
    for (const raw of raws) direct.inbox.receive(Buffer.from(raw));
    const waited = run();
    // One after another, as the page does: each opened before the next is handed on.
    for (const raw of raws) waited.inbox.receiveDecoded(await page.openAll(raw));
    expect(waited.shown).to.deep.equal(['(join)', 'one', 'two', 'three', 'five']);
    expect(waited.shown).to.deep.equal(direct.shown);
    expect(waited.warnings).to.deep.equal(direct.warnings);
    expect(waited.warnings).to.deep.equal([
      'ignored a payload on sunoye/room/123456: not JSON',
      '1 message from bob did not arrive (seq 4)',
    ]);
  });
});
