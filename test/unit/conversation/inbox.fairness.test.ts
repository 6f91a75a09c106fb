// A listener's state is fair and bounded: a member flooding crafted payloads (silent notices,
// numbers in any order, made-up streams, many keys, many names) evicts only its own entries and
// cannot grow memory; and a last will is live news only for the connection that made it.
import { pinsPath, roomFile, seenPath } from '../../../src/home/room-files.js';
import { pinnedFingerprints } from '../../../src/conversation/pins.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { ROOM, roomInbox, sealer, STORE, TOPIC } from '../../helpers/inbox.js';
import { Inbox } from '../../../src/conversation/inbox.js';
import { ReplayGuard } from '../../../src/conversation/replay.js';
import { Sender } from '../../../src/conversation/sender.js';
import { KnownSenders } from '../../../src/conversation/senders.js';
import {
  encryptedCodec,
  newSigner,
  type ChatNotice,
  type ChatPayload,
} from '../../../src/protocol/index.js';

/** A silent notice: the end of a stream, numbered `seq` (nothing of it is shown). */
function silentEnd(stream: string, seq: number): ChatNotice {
  return {
    type: 'notice',
    from: 'mallory',
    notice: 'User mallory finished sending.',
    event: 'end',
    id: `${stream}-${seq}`,
    seq,
    ts: new Date().toISOString(),
    since: new Date().toISOString(),
  };
}

describe('fair and bounded listener state', function () {
  let home: string;
  const key = randomBytes(32);
  const bob = newSigner();
  const mallory = newSigner();
  const me = newSigner();

  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'sunoye-fair-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  function listener(since = Date.now()) {
    const { inbox, shown, warnings, senders, replay } = roomInbox(home, key, me, since);
    const texts = (): string[] =>
      shown.map(({ payload, how }) =>
        payload.type === 'message'
          ? `${payload.from} ${payload.message}`
          : `${payload.from} ${payload.event}${how.late ? ' old' : ''}`,
      );
    return { inbox, shown, warnings, senders, replay, texts };
  }
  const sealed = (signer = bob) => sealer(key, signer);

  it('a member flooding made-up streams over many keys cannot silence another', function () {
    const { inbox, texts } = listener();
    const b = new Sender('bob');
    inbox.receive(sealed(bob)(b.notice('join', TOPIC, ROOM)));
    // Signed before the flood, delivered after it (as lines in flight are).
    const lines = Array.from({ length: 10 }, (_, i) => b.message(`line ${i + 1}`));
    // 250 keys, 60 silent ends each: 15,000 made-up streams.
    for (let k = 0; k < 250; k++) {
      const signer = newSigner();
      const ends = Array.from({ length: 60 }, () =>
        silentEnd(randomBytes(6).toString('base64url'), 5),
      );
      inbox.receive(sealed(signer)(ends));
    }
    for (const line of lines) inbox.receive(sealed(bob)(line));
    expect(texts().filter((t) => t.startsWith('bob line'))).to.have.length(10);
  });

  it('keeps a bounded amount however many silent notices, numbered in any order', function () {
    this.timeout(60_000); // sealing 160,000 notices, on a busy machine
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { inbox, texts } = listener();
    const m = new Sender('mallory');
    // One established key (its join was shown) and many on probation.
    inbox.receive(sealed(mallory)(m.notice('join', TOPIC, ROOM)));
    const keys = [mallory, ...Array.from({ length: 9 }, () => newSigner())];
    const flood = (round: number): void => {
      for (let p = 0; p < 40; p++) {
        const signer = keys[(round * 40 + p) % keys.length]!;
        const stream = randomBytes(6).toString('base64url');
        // Descending from 100,000 in steps of 2 (no two numbers next to each other).
        const top = 100_000 - p * 1000;
        inbox.receive(
          sealed(signer)(Array.from({ length: 1000 }, (_, i) => silentEnd(stream, top - 2 * i))),
        );
      }
    };
    flood(0);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let round = 1; round <= 3; round++) flood(round); // 120,000 more notices
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Each kept number costs about 33 bytes in a set: 120,000 of them would be 4 MB and more.
    expect(grown, `${grown} bytes`).to.be.below(1024 * 1024);
    expect(texts()).to.deep.equal(['mallory join']);
  });

  it('pins only the first names of one key, so a later member is still pinned', function () {
    const { inbox, shown, senders } = listener();
    // 10,000 names in 10 packets from one key.
    for (let b = 0; b < 10; b++)
      inbox.receive(
        sealed(mallory)(
          Array.from({ length: 1000 }, (_, i) => new Sender(`x${b * 1000 + i}`).message('hi')),
        ),
      );
    senders.save();
    expect(pinnedFingerprints(home, STORE, ROOM).size).to.be.at.most(4);
    shown.length = 0;
    inbox.receive(sealed(bob)(new Sender('carol').message('real carol')));
    inbox.receive(sealed(bob)(new Sender('carol').message('real carol again')));
    inbox.receive(sealed(mallory)(new Sender('carol').message('fake carol')));
    inbox.receive(sealed(mallory)(new Sender('x9999').message('still first seen')));
    expect(shown.map((s) => s.how.sender.trust)).to.deep.equal(['new', 'known', 'changed', 'new']);
    // A silent payload pins nothing: dave's name is free for the first to show a line with it.
    inbox.receive(sealed(mallory)({ ...silentEnd('dave', 3), from: 'dave' }));
    inbox.receive(sealed(bob)(new Sender('dave').message('hi')));
    expect(shown.at(-1)!.how.sender.trust).to.equal('new');
    inbox.receive(sealed(bob)(new Sender('dave').message('again')));
    expect(shown.at(-1)!.how.sender.trust).to.equal('known');
  });
});

describe('last wills tied to their connection', function () {
  let home: string;
  const key = randomBytes(32);
  const bob = newSigner();
  const me = newSigner();

  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'sunoye-will-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  function listener() {
    const shown: string[] = [];
    const warnings: string[] = [];
    const replay = new ReplayGuard(roomFile(seenPath(home, STORE, ROOM)), Date.now());
    const inbox = new Inbox(
      {
        topic: TOPIC,
        codec: encryptedCodec(ROOM, key, me),
        joinId: undefined,
        count: undefined,
        senders: new KnownSenders(roomFile(pinsPath(home, STORE, ROOM)), {
          name: 'me',
          publicKey: me.publicKey,
        }),
        replay,
      },
      {
        show: (p, _at, how) =>
          shown.push(`${p.type === 'notice' ? p.event : p.message}${how.late ? ' old' : ''}`),
        warn: (line) => warnings.push(line),
        closedNotice: () => undefined,
        countReached: () => undefined,
      },
    );
    return { inbox, shown, warnings, replay };
  }
  const seal = (p: ChatPayload) => Buffer.from(encryptedCodec(ROOM, key, bob).encode(p));

  it('shows a will as live only for a connection heard join that has not left', function () {
    const { inbox, shown, warnings, replay } = listener();
    // Live: bob joined and was lost.
    const live = new Sender('bob');
    const liveWill = live.notice('lost', TOPIC, ROOM);
    inbox.receive(seal(live.notice('join', TOPIC, ROOM)));
    inbox.receive(seal(liveWill));
    // Left: a captured will sent again after bob left is ignored, with a warning.
    const left = new Sender('bob');
    const leftWill = left.notice('lost', TOPIC, ROOM);
    inbox.receive(seal(left.notice('join', TOPIC, ROOM)));
    inbox.receive(seal(left.notice('leave', TOPIC, ROOM)));
    inbox.receive(seal(leftWill));
    // A will made for another connection than the join heard (a later join of that stream).
    const later = new Sender('bob');
    const earlierWill = later.notice('lost', TOPIC, ROOM);
    const join = later.notice('join', TOPIC, ROOM);
    join.conn = 'another';
    inbox.receive(seal(join));
    inbox.receive(seal(earlierWill));
    // An older version's will (no connection id): shown, but never as live.
    const old = new Sender('bob');
    const oldWill = old.notice('lost', TOPIC, ROOM);
    const oldJoin = old.notice('join', TOPIC, ROOM);
    delete oldWill.conn;
    delete oldJoin.conn;
    inbox.receive(seal(oldJoin));
    inbox.receive(seal(oldWill));
    expect(shown).to.deep.equal([
      'join',
      'lost',
      'join',
      'leave',
      'join',
      'lost old',
      'join',
      'lost old',
    ]);
    expect(warnings).to.deep.equal([
      'ignored a last will of bob: that listener had left (an old will sent again)',
    ]);
    // After a restart, no will of a connection heard before is live.
    replay.save();
    const again = listener();
    const fresh = new Sender('bob');
    const freshWill = fresh.notice('lost', TOPIC, ROOM);
    const freshJoin = fresh.notice('join', TOPIC, ROOM);
    again.inbox.receive(seal(leftWill));
    again.inbox.receive(seal(freshJoin));
    again.inbox.receive(seal(freshWill));
    expect(again.shown).to.deep.equal(['lost old', 'join', 'lost']);
  });
});
