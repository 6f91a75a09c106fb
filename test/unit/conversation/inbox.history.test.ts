// The inbox taking the room's history: shown once and as history, judged by the pins as on the
// wire, holes reported, and live lines after it neither late nor missing.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Sender } from '../../../src/conversation/sender.js';
import { newSigner, type ChatPayload, type Signer } from '../../../src/protocol/index.js';
import { roomInbox, sealer, TOPIC } from '../../helpers/inbox.js';

describe('the inbox taking history', function () {
  let home: string;
  const key = randomBytes(32);
  const me = newSigner();
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'sunoye-history-inbox-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  const line = (payload: ChatPayload, signer: Signer) => ({ payload, signer: signer.publicKey });
  const texts = (shown: { payload: ChatPayload }[]) =>
    shown.map(({ payload }) => (payload.type === 'message' ? payload.message : payload.event));

  it('shows history signed before the listener started, as history, once; live goes on after it', function () {
    // The listener started ten minutes after the lines were signed: live, they would be replays.
    const { inbox, shown, warnings } = roomInbox(home, key, me, Date.now() + 600_000);
    const bobKey = newSigner();
    const bob = new Sender('bob');
    const said = [bob.notice('join', TOPIC, '123456'), bob.message('one'), bob.message('two')];
    for (const p of said) inbox.receiveHistory(line(p, bobKey));
    // The same lines arriving live at the seam are dropped; the next live one is plain live.
    const seal = sealer(key, bobKey);
    inbox.receive(seal(said.slice(1)));
    expect(texts(shown)).to.deep.equal(['join', 'one', 'two']);
    expect(shown.every((s) => s.how.history === true && !s.how.late)).to.equal(true);
    expect(warnings).to.deep.equal([]);
  });

  it('leaves the next live line of a stream neither late nor missing, and counts none of it for --count', function () {
    const { inbox, shown, warnings } = roomInbox(home, key, me);
    const bobKey = newSigner();
    const bob = new Sender('bob');
    const history = [bob.message('1'), bob.message('2'), bob.message('3')];
    for (const p of history) inbox.receiveHistory(line(p, bobKey));
    inbox.receive(sealer(key, bobKey)(bob.message('4')));
    expect(texts(shown)).to.deep.equal(['1', '2', '3', '4']);
    expect(shown.map((s) => s.how.history === true)).to.deep.equal([true, true, true, false]);
    expect(shown[3]!.how.late).to.equal(false);
    expect(warnings).to.deep.equal([]);
    expect(inbox.messages).to.equal(1);
  });

  it('counts a hidden line (left out by --last) as read: not shown, no hole, its live copy dropped', function () {
    const { inbox, shown, warnings } = roomInbox(home, key, me);
    const bobKey = newSigner();
    const bob = new Sender('bob');
    const said = [
      bob.message('1'),
      bob.notice('leave', TOPIC, '123456'),
      bob.notice('join', TOPIC, '123456'),
    ];
    expect(inbox.receiveHistory(line(said[0]!, bobKey))).to.equal(true);
    expect(inbox.receiveHistory({ ...line(said[1]!, bobKey), hidden: true })).to.equal(false);
    expect(inbox.receiveHistory(line(said[2]!, bobKey))).to.equal(true);
    const seal = sealer(key, bobKey);
    inbox.receive(seal(said[1]!));
    inbox.receive(seal(bob.message('2')));
    expect(texts(shown)).to.deep.equal(['1', 'join', '2']);
    expect(warnings).to.deep.equal([]);
  });

  it('reports a hole between two rows of a stream as history incomplete, by the name shown', function () {
    const { inbox, shown, warnings } = roomInbox(home, key, me);
    const bobKey = newSigner();
    const bob = new Sender('bob');
    const said = Array.from({ length: 6 }, (_, i) => bob.message(`${i + 1}`));
    // Lines 2-4 deleted from the registry: a hole; nothing before the first line kept is one.
    for (const p of [said[0]!, said[4]!, said[5]!]) inbox.receiveHistory(line(p, bobKey));
    expect(texts(shown)).to.deep.equal(['1', '5', '6']);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/^history incomplete: 3 lines of bob's missing/);
  });

  it('flags a line signed by another key under a pinned name, as on the wire', function () {
    const { inbox, shown, senders } = roomInbox(home, key, me);
    const bobKey = newSigner();
    const mallory = newSigner();
    inbox.receiveHistory(line(new Sender('bob').message('real'), bobKey));
    expect(shown[0]!.how.sender.trust).to.equal('new');
    senders.save();
    inbox.receiveHistory(line(new Sender('bob').message('forged'), mallory));
    expect(shown[1]!.how.sender.trust).to.equal('changed');
    expect(shown[1]!.how.history).to.equal(true);
  });
});
