// The inbox's defences: pins per name, late lines marked, the end of a stream, replays rejected
// across restarts (with the state kept in a real SUNOYE_HOME folder).
import { pinsPath, roomFile, seenPath } from '../../../src/home/room-files.js';
import { pinnedFingerprints } from '../../../src/conversation/pins.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOM, roomInbox, sealer, STORE, TOPIC } from '../../helpers/inbox.js';
import { colourFor } from '../../../src/terminal/colour.js';
import { humanLine } from '../../../src/terminal/render.js';

import { Sender } from '../../../src/conversation/sender.js';
import { KnownSenders, MAX_PINS_PER_KEY } from '../../../src/conversation/senders.js';
import { newSigner } from '../../../src/protocol/index.js';

describe('authentic rooms: the inbox', function () {
  let home: string;
  const key = randomBytes(32);
  const alice = newSigner();
  const mallory = newSigner();
  const me = newSigner();

  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'sunoye-inbox-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  function listener(startedAt = Date.now()) {
    const { inbox, shown, warnings, senders, replay } = roomInbox(home, key, me, startedAt);
    const texts = () =>
      shown.map(({ payload, how }) =>
        [
          payload.type === 'message' ? payload.message : payload.event,
          how.sender.trust,
          how.late,
        ].join(' '),
      );
    return { inbox, replay, senders, shown, warnings, texts };
  }
  const sealed = (signer = alice) => sealer(key, signer);

  it('pins a name to its first key, marks another key under it, and keeps the pin on disk', function () {
    const { inbox, texts, warnings, senders } = listener();
    const a = new Sender('alice');
    inbox.receive(sealed()(a.message('hi')));
    inbox.receive(sealed()(a.message('again')));
    inbox.receive(sealed(mallory)(new Sender('alice').message('it is me, alice')));
    inbox.receive(sealed(mallory)(new Sender('me').message('I am you')));
    inbox.receive(sealed(me)(new Sender('me').message('mine')));
    expect(texts()).to.deep.equal([
      'hi new false',
      'again known false',
      'it is me, alice changed false',
      'I am you changed false',
      'mine you false',
    ]);
    expect(warnings).to.deep.equal([]);
    senders.save();
    expect(statSync(pinsPath(home, STORE, ROOM)).mode & 0o777).to.equal(0o600);
    expect([...pinnedFingerprints(home, STORE, ROOM).keys()]).to.deep.equal(['alice']);
    // Another listener of this user, later: alice is known, mallory still is not alice.
    const later = listener();
    later.inbox.receive(sealed(mallory)(new Sender('alice').message('x')));
    later.inbox.receive(sealed()(new Sender('alice').message('y')));
    expect(later.texts()).to.deep.equal(['x changed false', 'y known false']);
  });

  it('marks a line that comes out of order instead of showing it as in order', function () {
    const { inbox, texts } = listener();
    const a = new Sender('alice');
    const lines = [a.message('1'), a.message('2'), a.message('3')];
    for (const p of [...lines].reverse()) inbox.receive(sealed()(p));
    expect(texts()).to.deep.equal(['3 new false', '2 known true', '1 known true']);
  });

  it('reports the lines a stream never delivered when its end marker arrives', function () {
    const { inbox, warnings, texts } = listener();
    const a = new Sender('alice');
    inbox.receive(sealed()(a.message('1')));
    a.message('never arrives 2');
    a.message('never arrives 3');
    inbox.receive(sealed()(a.end()));
    expect(texts()).to.deep.equal(['1 new false']);
    expect(warnings).to.deep.equal(['2 messages from alice did not arrive (seq 2-3)']);
    // A stream that began after we started, of which only the end arrived: all of it is missing.
    const b = new Sender('bob');
    b.message('lost');
    inbox.receive(sealed(mallory)(b.end()));
    expect(warnings[1]).to.equal('1 message from bob did not arrive (seq 1)');
  });

  it('rejects, after a restart, what an earlier listener showed, and what was signed before it started', function () {
    const first = listener();
    const a = new Sender('alice');
    const old = [a.message('one'), a.message('two')];
    for (const p of old) first.inbox.receive(sealed()(p));
    first.replay.save();
    expect(statSync(seenPath(home, STORE, ROOM)).mode & 0o777).to.equal(0o600);
    const second = listener();
    for (const p of old) second.inbox.receive(sealed()(p));
    expect(second.shown).to.deep.equal([]);
    expect(second.warnings).to.deep.equal([
      'ignored a replayed message from alice: it was shown before',
      'ignored a replayed message from alice: it was shown before',
    ]);
    // A listener with no history: a message signed long before it started is old.
    const fresh = listener(Date.now() + 3_600_000);
    fresh.inbox.receive(sealed()(new Sender('alice').message('from an hour ago')));
    expect(fresh.shown).to.deep.equal([]);
    expect(fresh.warnings[0]).to.match(/signed 3600 s before this listener started/);
    // A retained message is never live.
    fresh.inbox.receive(sealed()(new Sender('alice').message('kept')), true);
    expect(fresh.warnings[1]).to.include('retained');
  });
  it('pins the first names of a flood in one write, and the first pin on disk stands', function () {
    const { inbox, senders } = listener();
    const batch = Array.from({ length: 1000 }, (_, i) => new Sender(`name${i}`).message('hi'));
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10; i++) inbox.receive(sealed(mallory)(batch));
    senders.save();
    expect(Number(process.hrtime.bigint() - started) / 1e6).to.be.below(5000);
    // One key pins only the first few names it shows lines under.
    expect(pinnedFingerprints(home, STORE, ROOM).size).to.equal(MAX_PINS_PER_KEY);
    // Another listener of this user pinned carol first: that pin wins here too, once saved.
    const other = new KnownSenders(roomFile(pinsPath(home, STORE, ROOM)), {
      name: 'me',
      publicKey: me.publicKey,
    });
    other.pin('carol', alice.publicKey);
    const third = newSigner();
    inbox.receive(sealed(third)(new Sender('carol').message('me first?')));
    other.save();
    senders.save();
    expect(senders.classify('carol', third.publicKey).trust).to.equal('changed');
    expect(senders.classify('carol', alice.publicKey).trust).to.equal('known');
  });
  it('shows a last will signed before it started as old news, and a will of a listener it heard as live', function () {
    const { inbox, texts } = listener(Date.now() + 3_600_000);
    const early = new Sender('early');
    inbox.receive(sealed()(early.notice('lost', TOPIC, ROOM)));
    const heard = new Sender('heard');
    const will = heard.notice('lost', TOPIC, ROOM);
    const join = heard.notice('join', TOPIC, ROOM);
    join.ts = new Date(Date.now() + 3_600_000).toISOString();
    inbox.receive(sealed(mallory)(join));
    inbox.receive(sealed(mallory)(will));
    expect(texts()).to.deep.equal(['lost new true', 'join new false', 'lost known false']);
  });
  it("shows look-alike names as what they are, and a notice in its sender's own words as theirs", function () {
    const { inbox, shown } = listener();
    const plain = colourFor({ isTTY: false }, { NO_COLOR: '1' });
    const line = (i: number) => humanLine(shown[i]!.payload, plain, new Date(), shown[i]!.how);
    inbox.receive(sealed()(new Sender('alice').message('real')));
    inbox.receive(sealed(mallory)(new Sender('alice\u200B').message('zero width')));
    inbox.receive(sealed(mallory)(new Sender('me (you)').message('mine?')));
    inbox.receive(sealed(mallory)(new Sender('alice ').message('trailing')));
    const fake = new Sender('mallory').notice('lost', TOPIC, ROOM);
    fake.notice = 'User alice timed out.';
    inbox.receive(sealed(mallory)(fake));
    inbox.receive(sealed(mallory)(new Sender('mallory').notice('join', TOPIC, ROOM)));
    expect(line(0)).to.match(/ alice \[key [0-9a-f-]{19}, first seen\]: real\n$/);
    expect(line(1)).to.match(/ alice\\u200B \[key [0-9a-f-]{19}, first seen\]: zero width\n$/);
    expect(line(2)).to.match(/ "me \(you\)" \[key [0-9a-f-]{19}, first seen\]: mine\?\n$/);
    expect(line(3)).to.match(/ "alice " \[key [0-9a-f-]{19}, first seen\]: trailing\n$/);
    expect(line(4)).to.match(
      // A will of a connection never heard join: old news, whatever it says.
      / -- mallory \[key [0-9a-f-]{19}, first seen\]: User alice timed out\. \(signed when that listener started, before you joined: it may be old news\)\n$/,
    );
    expect(line(5)).to.match(
      / -- User mallory is now subscribed to sunoye\/room\/123456 \. \[key [0-9a-f-]{19}\]\n$/,
    );
  });
  it("does not let a member flood made-up streams to make another's replayed lines new or hide a gap", function () {
    const { inbox, texts, warnings } = listener();
    const a = new Sender('alice');
    const lines = [a.message('1'), a.message('2'), a.message('3')];
    inbox.receive(sealed()(lines[0]!));
    // mallory: 11 batches of 1,000 payloads, each from a stream of its own.
    for (let b = 0; b < 11; b++)
      inbox.receive(
        sealed(mallory)(Array.from({ length: 1000 }, () => new Sender('mallory').message('x'))),
      );
    // alice's line 1 again (a broker user replays it) is not new; line 3 (2 was lost) is a gap.
    inbox.receive(sealed()(lines[0]!));
    inbox.receive(sealed()(lines[2]!));
    const alices = texts().filter((t) => !t.startsWith('x '));
    expect(alices).to.deep.equal(['1 new false', '3 known false']);
    expect(warnings).to.include('1 message from alice did not arrive (seq 2)');
  });
});
