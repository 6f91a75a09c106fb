// Attacks on a listener's defences by a room member and by another user of the broker: forged
// lines in notices, loss reports hidden behind junk, a flood of names or streams, and a
// SUNOYE_HOME that cannot be written.
import { pinsPath, roomFile, seenPath } from '../../../src/home/room-files.js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Inbox, type ShownWith } from '../../../src/conversation/inbox.js';
import { humanLine, WarningLimiter } from '../../../src/terminal/render.js';
import { ReplayGuard } from '../../../src/conversation/replay.js';
import { Sender } from '../../../src/conversation/sender.js';
import { KnownSenders } from '../../../src/conversation/senders.js';
import { claimListenerId } from '../../../src/home/listener-ids.js';
import { encryptedCodec, newSigner, type ChatPayload } from '../../../src/protocol/index.js';
import { colourFor } from '../../../src/terminal/colour.js';

const ROOM = '123456';
const STORE = 'sqlite:/tmp/test.db';

describe('attacks on a listener', function () {
  let home: string;
  const key = randomBytes(32);
  const alice = newSigner();
  const mallory = newSigner();
  const me = newSigner();

  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'sunoye-attacks-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  function listener(senders?: KnownSenders, replay?: ReplayGuard) {
    const shown: { payload: ChatPayload; how: ShownWith }[] = [];
    const warnings: string[] = [];
    const inbox = new Inbox(
      {
        topic: 't',
        codec: encryptedCodec(ROOM, key, me),
        joinId: undefined,
        count: undefined,
        senders:
          senders ??
          new KnownSenders(roomFile(pinsPath(home, STORE, ROOM)), {
            name: 'me',
            publicKey: me.publicKey,
          }),
        replay: replay ?? new ReplayGuard(roomFile(seenPath(home, STORE, ROOM)), Date.now()),
      },
      {
        show: (payload, _at, how) => shown.push({ payload, how }),
        warn: (line) => warnings.push(line),
        closedNotice: () => undefined,
        countReached: () => undefined,
      },
    );
    return { inbox, shown, warnings };
  }
  const sealed = (signer = alice) => {
    const codec = encryptedCodec(ROOM, key, signer);
    return (p: ChatPayload | ChatPayload[]) =>
      Buffer.from(Array.isArray(p) ? codec.encodeBatch(p) : codec.encode(p));
  };

  it('a member cannot lay out a line of its own (someone else, or "(you)") in a notice', function () {
    const plain = colourFor({ isTTY: false }, {});
    const forged: ChatPayload = {
      type: 'notice',
      from: 'mallory',
      notice: 'ok\n10:04:12 me (you): I resign',
    };
    const line = humanLine(forged, plain, new Date(), { sender: { trust: 'known' }, late: false });
    for (const l of line.split('\n').slice(1, -1)) expect(l).to.match(/^ {9}/);
  });

  it('a loss report is never summed up behind junk that anyone can send', function () {
    let t = 0;
    const out: string[] = [];
    const limiter = new WarningLimiter(
      (l) => out.push(l),
      2000,
      () => t,
    );
    limiter.warn('ignored a payload on t: cannot decrypt');
    t = 100;
    limiter.report('2 messages from alice did not arrive (seq 4-5)');
    t = 150;
    limiter.warn('ignored a payload on t: cannot decrypt');
    t = 2100;
    limiter.flush();
    expect(out.join('')).to.contain('2 messages from alice did not arrive (seq 4-5)');
    // And the inbox asks for a report, not a warning, for lines that never arrived.
    const kinds: (string | undefined)[] = [];
    const inbox = new Inbox(
      { topic: 't', codec: encryptedCodec(ROOM, key, me), joinId: undefined, count: undefined },
      {
        show: () => undefined,
        warn: (_line, kind) => kinds.push(kind),
        closedNotice: () => undefined,
        countReached: () => undefined,
      },
    );
    const a = new Sender('alice');
    inbox.receive(sealed()(a.message('1')));
    a.message('2');
    inbox.receive(sealed()(a.message('3')));
    expect(kinds).to.deep.equal(['loss']);
  });

  it('a name that could not be pinned (the pins are full) is never shown as known', function () {
    // 10,000 names pinned already, each to its own key (members flooded the room with names).
    const names: Record<string, { key: string; since: string }> = {};
    for (let i = 0; i < 10_000; i++)
      names[`x${i}`] = { key: randomBytes(32).toString('base64'), since: '' };
    mkdirSync(join(home, 'pins'), { recursive: true });
    writeFileSync(pinsPath(home, STORE, ROOM), JSON.stringify({ format: 1, names }));
    const { inbox, shown } = listener();
    inbox.receive(sealed(alice)(new Sender('carol').message('real carol')));
    inbox.receive(sealed(alice)(new Sender('carol').message('real carol again')));
    inbox.receive(sealed(mallory)(new Sender('carol').message('fake carol')));
    inbox.receive(sealed(mallory)(new Sender('carol').message('fake carol again')));
    expect(shown.map((s) => s.how.sender.trust)).to.deep.equal(['new', 'new', 'new', 'new']);
  });

  it('streams made up by a member do not grow what a listener keeps to be written down', function () {
    const replay = new ReplayGuard(roomFile(seenPath(home, STORE, ROOM)), Date.now());
    const { inbox } = listener(undefined, replay);
    for (let b = 0; b < 12; b++)
      inbox.receive(
        sealed(mallory)(Array.from({ length: 1000 }, () => new Sender('mallory').message('.'))),
      );
    const kept = (replay as unknown as { shownNow: Map<string, unknown> }).shownNow;
    expect(kept.size).to.be.at.most(10_000);
  });

  it('a SUNOYE_HOME that cannot be written is one warning, never a crash', function () {
    // The pins and seen folders are files: every write fails (as on a full or read-only disk).
    writeFileSync(join(home, 'pins'), '');
    writeFileSync(join(home, 'seen'), '');
    writeFileSync(join(home, 'clients'), '');
    const warned: string[] = [];
    const senders = new KnownSenders(
      roomFile(pinsPath(home, STORE, ROOM)),
      { name: 'me', publicKey: me.publicKey },
      (l) => warned.push(l),
    );
    const replay = new ReplayGuard(roomFile(seenPath(home, STORE, ROOM)), Date.now(), (l) =>
      warned.push(l),
    );
    const { inbox, shown } = listener(senders, replay);
    inbox.receive(sealed(alice)(new Sender('alice').message('1')));
    inbox.receive(sealed(alice)(new Sender('bob').message('2')));
    inbox.receive(sealed(mallory)(new Sender('alice').message('3')));
    senders.save();
    replay.save();
    senders.save();
    replay.save();
    expect(shown.map((s) => s.how.sender.trust)).to.deep.equal(['new', 'new', 'changed']);
    expect(warned).to.have.length(2);
    expect(warned[0]).to.match(/^cannot write .*pins.* \((EEXIST|ENOTDIR)\)/);
    expect(warned[1]).to.match(/^cannot write .*seen.* \((EEXIST|ENOTDIR)\)/);
    const claimed = claimListenerId(home, STORE, ROOM, '/dev/pts/9', () => 'fresh1234');
    expect(claimed.id).to.equal('fresh1234');
    claimed.restart(Date.now());
    claimed.release();
  });

  it('a write that fails leaves no temporary file behind', function () {
    const senders = new KnownSenders(roomFile(pinsPath(home, STORE, ROOM)), {
      name: 'me',
      publicKey: me.publicKey,
    });
    const { inbox } = listener(senders);
    inbox.receive(sealed(alice)(new Sender('alice').message('1')));
    senders.save();
    // The pins file is a folder now: its temporary file is written, replacing the file fails.
    rmSync(pinsPath(home, STORE, ROOM));
    mkdirSync(join(pinsPath(home, STORE, ROOM), 'in-the-way'), { recursive: true });
    inbox.receive(sealed(alice)(new Sender('bob').message('2')));
    senders.save();
    expect(readdirSync(join(home, 'pins')).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('a damaged seen file is ignored entry by entry, never thrown on', function () {
    mkdirSync(join(home, 'seen'), { recursive: true });
    const streams: Record<string, unknown> = { bad: null, worse: { seq: 'x' } };
    for (let i = 0; i < 10_001; i++) streams[`s${i}`] = i % 2 ? null : { seq: 1, at: i };
    writeFileSync(seenPath(home, STORE, ROOM), JSON.stringify({ format: 1, streams }));
    const replay = new ReplayGuard(roomFile(seenPath(home, STORE, ROOM)), Date.now());
    replay.shown('k/a', 1);
    expect(() => replay.save()).not.to.throw();
  });
});
