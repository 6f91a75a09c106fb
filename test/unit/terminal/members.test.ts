// A room's members as this user can trust them: each registry row by the key that signed it,
// checked against the pins (kept in a real SUNOYE_HOME folder), and never pinning anything.
import { pinsPath, roomFile } from '../../../src/home/room-files.js';
import { pinnedKeys } from '../../../src/conversation/pins.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { colours } from '../../../src/terminal/colour.js';
import { memberJson, memberLine, viewerOf, viewMember } from '../../../src/terminal/members.js';
import { clockTime } from '../../../src/terminal/render.js';
import { KnownSenders } from '../../../src/conversation/senders.js';
import type { Member } from '../../../src/db/index.js';
import {
  fingerprint,
  newSigner,
  signMembership,
  type Signer,
} from '../../../src/protocol/index.js';

const ROOM = '123456';
const STORE = 'sqlite:/tmp/test.db';
const JOINED = new Date('2026-01-02T03:04:05.678Z');

/** A registry row: signed by `signer` when given, as a listener writes it. */
function row(name: string, signer?: Signer, room = ROOM): Member {
  const signed = signer
    ? signMembership(signer, { room, name, joinedAt: JOINED })
    : { key: null, signature: null };
  return {
    id: randomBytes(16).toString('hex'),
    room: ROOM,
    name,
    joinedAt: JOINED,
    heartbeatAt: JOINED,
    leaseSeconds: 30,
    ...signed,
  };
}

describe('members shown by their keys', function () {
  let home: string;
  const me = newSigner();
  const bob = newSigner();
  const mallory = newSigner();

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'sunoye-members-'));
    // bob spoke in the room: this user's listener pinned him.
    const senders = new KnownSenders(roomFile(pinsPath(home, STORE, ROOM)), {
      name: 'me',
      publicKey: me.publicKey,
    });
    senders.pin('bob', bob.publicKey);
    senders.save();
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  const viewer = (signed = true) =>
    viewerOf(home, STORE, ROOM, { name: 'me', publicKey: me.publicKey }, signed);

  it('marks each row as a message line would be: you, known, new, NOT the one you know', function () {
    const seen = [
      row('me', me),
      row('bob', bob),
      row('bob', mallory),
      row('me', mallory),
      row('carol', mallory),
    ].map((m) => viewMember(m, viewer()));
    expect(seen.map((v) => [v.name, v.trust, v.key, v.pinned])).to.deep.equal([
      ['me', 'you', fingerprint(me.publicKey), undefined],
      ['bob', 'known', fingerprint(bob.publicKey), undefined],
      ['bob', 'changed', fingerprint(mallory.publicKey), fingerprint(bob.publicKey)],
      ['me', 'changed', fingerprint(mallory.publicKey), fingerprint(me.publicKey)],
      ['carol', 'new', fingerprint(mallory.publicKey), undefined],
    ]);
    const lines = seen.map((v) => memberLine(v, colours(false)));
    // The join time first (with its date: not today), then the name and its marks.
    expect(lines[0]).to.equal(
      `joined ${clockTime(JOINED)}  me (you) [key ${fingerprint(me.publicKey)}]`,
    );
    expect(lines[2]).to.match(
      new RegExp(
        `^joined .+  \\[key ${fingerprint(mallory.publicKey)}, NOT the "bob" you know\\]$`,
      ),
    );
    expect(lines[2]).to.not.include(fingerprint(bob.publicKey));
    expect(lines[4]).to.match(/ carol \[key [0-9a-f-]{19}, not seen yet\]$/);
  });

  it('shows a row without a key, or whose signature does not check, as unverified and under no key', function () {
    const forged = { ...row('bob', mallory), key: bob.publicKey };
    const elsewhere = row('bob', bob, '654321');
    const renamed = { ...row('bob', bob), name: 'bobby' };
    const moved = { ...row('bob', bob), joinedAt: new Date(JOINED.getTime() + 1000) };
    const shortKey = { ...row('bob', bob), key: Buffer.from('short') };
    for (const m of [row('bob'), forged, elsewhere, renamed, moved, shortKey]) {
      const view = viewMember(m, viewer());
      expect(view.trust, m.name).to.equal('unverified');
      expect(memberJson(view)).to.include({ key: null, trust: 'unverified' });
      expect(memberLine(view, colours(false))).to.not.include('key');
    }
    expect(memberLine(viewMember(row('carol, dave'), viewer()), colours(false))).to.match(
      /^joined .+ {2}"carol, dave" \[unverified\]$/,
    );
  });

  it('shows the members of a plain room as unsigned, without keys', function () {
    const view = viewMember(row('bob', mallory), viewer(false));
    expect(memberJson(view)).to.deep.equal({
      name: 'bob',
      key: null,
      trust: 'unsigned',
      joinedAt: JOINED.toISOString(),
    });
  });

  it('pins nothing: a name first seen in the registry stays new, and a pinned one keeps its key', function () {
    const before = pinnedKeys(home, STORE, ROOM);
    for (let i = 0; i < 2; i++)
      expect(viewMember(row('carol', mallory), viewer()).trust).to.equal('new');
    expect(viewMember(row('bob', mallory), viewer()).trust).to.equal('changed');
    expect(pinnedKeys(home, STORE, ROOM)).to.deep.equal(before);
    expect([...before.keys()]).to.deep.equal(['bob']);
  });
});
