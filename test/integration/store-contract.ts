/**
 * The room-store contract: one suite that every backend must pass, so SQLite and MySQL behave
 * the same. Each backend's test file calls `roomStoreContract` with a factory. Time is the
 * registry's injected clock, moved forward by the tests: nothing waits for a lease to run out.
 */
import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import { ExitCode, SunoyeError } from '../../src/errors.js';
import type { NewRoom, RoomStore } from '../../src/db/index.js';
import { openStore, isRoomNumber } from '../../src/db/index.js';
import { MIGRATIONS, SCHEMA_TABLE } from '../../src/db/schema.js';
import {
  deriveRoomSecret,
  membershipSigned,
  signMembership,
  messageKey,
  newKdfParams,
  newSigner,
  verifier,
} from '../../src/protocol/index.js';
import { TestClock } from '../helpers/clock.js';
import { Racers, values, type RacerOutcome } from '../helpers/racers.js';
import { historyContract } from './store-history-contract.js';

/** A backend under test: a fresh, empty registry URL, raw SQL access to it, and cleanup. */
export interface StoreFixture {
  url: string;
  /** Runs one statement on the registry's database, behind sunoye's back. */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Another registry of the same backend whose database exists with no tables in it. */
  another(): Promise<StoreFixture>;
  cleanup(): Promise<void>;
}

/** How many processes race in the contract's races. */
const RACERS = 6;

// A cheap KDF keeps the suite fast; the CLI tests use the real cost.
const CHEAP = { N: 1024, r: 8, p: 1 };

async function newRoom(idleSeconds = 600, password = 'correct horse battery'): Promise<NewRoom> {
  const kdf = newKdfParams(CHEAP);
  const secret = await deriveRoomSecret(password, kdf);
  return {
    creator: 'alice',
    mode: 'encrypted',
    idleSeconds,
    kdf,
    verifier: (room) => verifier(secret, room, 'encrypted'),
  };
}

async function refusal(promise: Promise<unknown>): Promise<SunoyeError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(SunoyeError);
    return err as SunoyeError;
  }
  throw new Error('expected a refusal');
}

/** Defines the contract suite for one backend. */
export function roomStoreContract(
  backend: string,
  fixture: (ctx: Mocha.Context) => Promise<StoreFixture>,
): void {
  describe(`RoomStore contract: ${backend}`, function () {
    // The race cases start several Node processes at once (about a second each, more on a busy
    // two-core machine) before their race begins.
    this.timeout(60_000);
    let fx: StoreFixture;
    let store: RoomStore;
    const clock = new TestClock();
    /**
     * Separate processes, each with its own connection, for the races: within one process
     * better-sqlite3 is synchronous and a file's transactions are queued, so nothing would overlap.
     */
    let racers: Racers;

    before(async function () {
      fx = await fixture(this);
      store = await openStore(fx.url, { clock });
      racers = Racers.start(RACERS);
    });

    after(async function () {
      await racers?.stop();
      await store?.close();
      await fx?.cleanup();
    });

    /** Every racer opens `url` at the same moment, at the registry time of `clock`; each must succeed. */
    async function racersOpen(url: string): Promise<void> {
      const skewMs = clock.skewMs();
      const opened = await racers.round(racers.map(() => ({ skewMs, ops: [{ op: 'open', url }] })));
      expect(opened.map((o) => values(o)[0])).to.deep.equal(opened.map(() => store.kind));
    }

    /** Every racer lets go of its store (before its registry is dropped). */
    async function racersLetGo(): Promise<void> {
      await racers.all([{ op: 'closeStore' }]);
    }

    it(`records each schema version once when ${RACERS} processes open a new registry at once`, async function () {
      const other = await fx.another();
      try {
        await racersOpen(other.url);
        const rows = await other.raw(`SELECT version FROM ${SCHEMA_TABLE} ORDER BY version`);
        expect(rows.map((r) => Number(r.version))).to.deep.equal(MIGRATIONS.map((m) => m.version));
        // Each racer's registry works: they create rooms at once.
        const made = await racers.round(
          Array.from({ length: RACERS }, (_, i) => ({ ops: [{ op: 'create', creator: `r${i}` }] })),
        );
        expect(new Set(made.flatMap(values)).size).to.equal(RACERS);
      } finally {
        await racersLetGo();
        await other.cleanup();
      }
    });

    /** A registry as sunoye's schema version 1 left it: one room with one live member. */
    async function versionOneRegistry(): Promise<{ other: StoreFixture; room: string }> {
      const other = await fx.another();
      for (const statement of MIGRATIONS[0]![store.kind]) await other.raw(statement);
      await other.raw(
        `CREATE TABLE ${SCHEMA_TABLE} (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)`,
      );
      await other.raw(`INSERT INTO ${SCHEMA_TABLE} (version, applied_at) VALUES (1, ?)`, [
        Date.now(),
      ]);
      const input = await newRoom();
      const room = '314159';
      await other.raw(
        "INSERT INTO rooms VALUES (?, 'dora', 'open', 'encrypted', 600, ?, ?, ?, NULL, ?)",
        [room, JSON.stringify(input.kdf), input.verifier(room), Date.now(), Date.now()],
      );
      await other.raw('INSERT INTO members VALUES (?, ?, ?, ?, ?, ?)', [
        'a'.repeat(32),
        room,
        'erin',
        Date.now(),
        Date.now(),
        3_600_000,
      ]);
      return { other, room };
    }

    /** Checks that a registry upgraded from version 1 kept its room and takes new ones. */
    async function expectUpgraded(other: StoreFixture, room: string): Promise<void> {
      const upgraded = await openStore(other.url);
      try {
        const status = await upgraded.status(room);
        expect(status?.room).to.include({ creator: 'dora', state: 'open', broker: null });
        // A member from before memberships were signed: still a member, with no key.
        expect(status?.members.map((m) => [m.name, m.key, m.signature])).to.deep.equal([
          ['erin', null, null],
        ]);
        const made = await upgraded.createRoom({ ...(await newRoom()), broker: 'mqtt://b:1883' });
        expect((await upgraded.status(made.number))?.room.broker).to.equal('mqtt://b:1883');
      } finally {
        await upgraded.close();
      }
      const versions = await other.raw(`SELECT version FROM ${SCHEMA_TABLE} ORDER BY version`);
      expect(versions.map((r) => Number(r.version))).to.deep.equal(
        MIGRATIONS.map((m) => m.version),
      );
    }

    it('upgrades a registry of schema version 1 in place, keeping its rooms and members', async function () {
      const { other, room } = await versionOneRegistry();
      try {
        await expectUpgraded(other, room);
        // Opening it again changes nothing.
        await (await openStore(other.url)).close();
        await expectUpgraded(other, room);
      } finally {
        await other.cleanup();
      }
    });

    it(`upgrades a registry of schema version 1 from ${RACERS} processes at once`, async function () {
      const { other, room } = await versionOneRegistry();
      try {
        await racersOpen(other.url);
        await racersLetGo();
        await expectUpgraded(other, room);
      } finally {
        await racersLetGo();
        await other.cleanup();
      }
    });

    it('finishes an upgrade that stopped after adding its column, before recording it', async function () {
      const { other, room } = await versionOneRegistry();
      try {
        for (const statement of MIGRATIONS[1]![store.kind]) await other.raw(statement);
        await expectUpgraded(other, room);
      } finally {
        await other.cleanup();
      }
    });

    it('upgrades a registry of schema version 3: its rooms keep no history, new ones do', async function () {
      const other = await fx.another();
      try {
        for (const migration of MIGRATIONS.slice(0, 3))
          for (const statement of migration[store.kind]) await other.raw(statement);
        await other.raw(
          `CREATE TABLE ${SCHEMA_TABLE} (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)`,
        );
        for (const version of [1, 2, 3])
          await other.raw(`INSERT INTO ${SCHEMA_TABLE} (version, applied_at) VALUES (?, ?)`, [
            version,
            Date.now(),
          ]);
        const input = await newRoom();
        const room = '271828';
        await other.raw(
          "INSERT INTO rooms VALUES (?, 'dora', 'open', 'encrypted', 600, ?, ?, ?, NULL, ?, 'mqtt://b:1883')",
          [room, JSON.stringify(input.kdf), input.verifier(room), Date.now(), Date.now()],
        );
        // An upgrade that stopped after its first step, before recording it.
        await other.raw(MIGRATIONS[3]![store.kind][0]!);
        const upgraded = await openStore(other.url);
        try {
          const status = await upgraded.status(room);
          expect(status?.room).to.include({ creator: 'dora', state: 'open' });
          expect(status?.room.history).to.deep.equal({ seconds: 0, bytes: 0 });
          const row = {
            signer: Buffer.alloc(32, 1),
            sender: 'abc',
            firstSeq: 0,
            lastSeq: 0,
            payload: Buffer.from('sealed'),
          };
          await upgraded.appendHistory(room, [row]);
          expect(await upgraded.readHistory(room, { maxRows: 10, maxBytes: 1000 })).to.deep.equal(
            [],
          );
          const made = await upgraded.createRoom({
            ...(await newRoom()),
            history: { seconds: 3600, bytes: 2 ** 20 },
          });
          await upgraded.appendHistory(made.number, [row]);
          const read = await upgraded.readHistory(made.number, { maxRows: 10, maxBytes: 1000 });
          expect(read.map((r) => r.payload.toString())).to.deep.equal(['sealed']);
        } finally {
          await upgraded.close();
        }
        const versions = await other.raw(`SELECT version FROM ${SCHEMA_TABLE} ORDER BY version`);
        expect(versions.map((r) => Number(r.version))).to.deep.equal(
          MIGRATIONS.map((m) => m.version),
        );
      } finally {
        await other.cleanup();
      }
    });

    it('keeps the broker a room was made on as scheme://host:port, and never its credentials', async function () {
      const cases: [string | undefined, string | null][] = [
        [
          'mqtt://bob:Broker-Secret-91@Chat.Example:1884/path?token=Tok-3318#x',
          'mqtt://chat.example:1884',
        ],
        ['mqtt://localhost', 'mqtt://localhost:1883'],
        ['tcp://10.0.0.7', 'mqtt://10.0.0.7:1883'],
        ['mqtts://broker', 'mqtts://broker:8883'],
        ['wss://user:pw@[::1]/mqtt', 'wss://[::1]:443'],
        ['chat.example:1883', 'mqtt://chat.example:1883'],
        ['http://not-a-broker', null],
        [undefined, null],
      ];
      for (const [broker, recorded] of cases) {
        const made = await store.createRoom({ ...(await newRoom()), broker });
        expect(made.broker, String(broker)).to.equal(recorded);
        expect((await store.status(made.number))?.room.broker, String(broker)).to.equal(recorded);
      }
      // (Not the bare user name "bob": three letters turn up by chance in the rooms' random salts.)
      const dump = JSON.stringify(await fx.raw('SELECT * FROM rooms'));
      for (const secret of ['Broker-Secret-91', 'Tok-3318', 'bob:', 'user:pw'])
        expect(dump).to.not.include(secret);
    });

    it('creates an open room with a six-digit number and keeps what it was given', async function () {
      const input = await newRoom(90);
      const created = await store.createRoom(input);
      expect(isRoomNumber(created.number)).to.equal(true);
      const status = await store.status(created.number);
      expect(status?.room).to.include({
        number: created.number,
        creator: 'alice',
        state: 'open',
        mode: 'encrypted',
        idleSeconds: 90,
      });
      expect(status?.room.kdf).to.deep.equal(input.kdf);
      expect(status?.room.verifier.equals(input.verifier(status.room.number))).to.equal(true);
      expect(status?.room.closedAt).to.equal(null);
      expect(Math.abs(status!.room.createdAt.getTime() - Date.now())).to.be.below(60_000);
      expect(status?.members).to.deep.equal([]);
    });

    it(`gives ${RACERS} processes creating rooms at once, each drawing the same number first, distinct rooms`, async function () {
      await racersOpen(fx.url);
      const known = new Set(
        (await fx.raw('SELECT number FROM rooms')).map((r) => String(r.number)),
      );
      const before = known.size;
      let same = 100000 + randomInt(899_999);
      while (known.has(String(same))) same = 100000 + randomInt(899_999);
      // Each racer creates three rooms at once, the first of them drawing the same number.
      const made = await racers.round(
        Array.from({ length: RACERS }, (_, i) => ({
          ops: [
            { op: 'create', creator: `first${i}`, number: String(same) },
            { op: 'create', creator: `second${i}` },
            { op: 'create', creator: `third${i}` },
          ],
        })),
      );
      const numbers = made.flatMap(values).map(String);
      expect(new Set(numbers).size).to.equal(3 * RACERS);
      // Exactly one racer got that number; the others drew again.
      expect(numbers.filter((n) => n === String(same))).to.have.length(1);
      const [row] = await fx.raw('SELECT creator FROM rooms WHERE number = ?', [String(same)]);
      expect(String(row?.creator)).to.match(/^first\d$/);
      expect(made.filter((m) => values(m)[0] === String(same))).to.have.length(1);
      expect((await fx.raw('SELECT number FROM rooms')).length).to.equal(before + 3 * RACERS);
    });

    it('knows nothing of a number it never handed out', async function () {
      const known = new Set(
        (await fx.raw('SELECT number FROM rooms')).map((r) => String(r.number)),
      );
      let unknown = 100000;
      while (known.has(String(unknown))) unknown++;
      expect(await store.status(String(unknown))).to.equal(undefined);
      expect(await store.closeRoom(String(unknown))).to.equal(undefined);
      expect((await refusal(store.addMember(String(unknown), 'bob', 30))).exitCode).to.equal(
        ExitCode.refused,
      );
    });

    it('stores no password, secret or message key', async function () {
      const password = 'unique-Password-7781x';
      const kdf = newKdfParams(CHEAP);
      const secret = await deriveRoomSecret(password, kdf);
      const room = await store.createRoom({
        creator: 'carol',
        mode: 'encrypted',
        idleSeconds: 60,
        kdf,
        verifier: (number) => verifier(secret, number, 'encrypted'),
      });
      await store.addMember(room.number, 'carol', 30);
      const dump = JSON.stringify(
        [...(await fx.raw('SELECT * FROM rooms')), ...(await fx.raw('SELECT * FROM members'))],
        (_k, v: unknown) =>
          v && typeof v === 'object' && 'type' in v && (v as { type: string }).type === 'Buffer'
            ? Buffer.from((v as unknown as { data: number[] }).data).toString('hex')
            : v,
      );
      expect(dump).to.not.include(password);
      for (const value of [secret, messageKey(secret, room.number)]) {
        expect(dump).to.not.include(value.toString('hex'));
        expect(dump).to.not.include(value.toString('base64'));
      }
    });

    it('registers, renews and removes members', async function () {
      const { number } = await store.createRoom(await newRoom());
      const alice = await store.addMember(number, 'alice', 30);
      const bob = await store.addMember(number, 'bob', 30);
      expect(alice.id).to.not.equal(bob.id);
      const status = await store.status(number);
      expect(status?.members.map((m) => m.name).sort()).to.deep.equal(['alice', 'bob']);
      expect(await store.heartbeat(alice.id)).to.equal(true);
      expect(await store.removeMember(alice.id)).to.equal(true);
      expect(await store.removeMember(alice.id)).to.equal(false);
      expect(await store.heartbeat(alice.id)).to.equal(false);
      expect((await store.status(number))?.members.map((m) => m.name)).to.deep.equal(['bob']);
    });

    it("keeps a member's key and its signature of the room, key, name and join time", async function () {
      const { number } = await store.createRoom(await newRoom());
      const signer = newSigner();
      const added = await store.addMember(number, 'bob, carol', 30, signer);
      const plain = await store.addMember(number, 'dave', 30);
      const members = (await store.status(number))!.members;
      const bob = members.find((m) => m.id === added.id)!;
      expect(bob).to.deep.equal(added);
      expect(bob.key?.equals(signer.publicKey)).to.equal(true);
      const claim = {
        room: number,
        name: 'bob, carol',
        key: signer.publicKey,
        joinedAt: bob.joinedAt,
      };
      expect(membershipSigned(claim, bob.signature!)).to.equal(true);
      // The signature covers each field: another room, name, key or join time does not check.
      expect(membershipSigned({ ...claim, room: '100000' }, bob.signature!)).to.equal(false);
      expect(membershipSigned({ ...claim, name: 'bob' }, bob.signature!)).to.equal(false);
      expect(membershipSigned({ ...claim, key: newSigner().publicKey }, bob.signature!)).to.equal(
        false,
      );
      const later = new Date(bob.joinedAt.getTime() + 1);
      expect(membershipSigned({ ...claim, joinedAt: later }, bob.signature!)).to.equal(false);
      const dave = members.find((m) => m.id === plain.id)!;
      expect([dave.key, dave.signature]).to.deep.equal([null, null]);
      // A renewal after the lease lapsed is a new membership, signed at its own join time.
      clock.advance(30_000);
      const again = await store.addMember(number, 'bob, carol', 30, signer);
      expect(again.joinedAt.getTime()).to.be.above(bob.joinedAt.getTime());
      expect(membershipSigned({ ...claim, joinedAt: again.joinedAt }, again.signature!)).to.equal(
        true,
      );
    });

    it('takes a membership its member signed elsewhere (a page) only if it holds and is signed for now', async function () {
      const { number } = await store.createRoom(await newRoom());
      // The registry's now, as it gives a row.
      const now = (await store.addMember(number, 'probe', 30)).joinedAt.getTime();
      const signer = newSigner();
      const signed = (name: string, joinedAt: Date, room = number) => ({
        ...signMembership(signer, { room, name, joinedAt }),
        joinedAt,
      });
      const claim = signed('pagey', new Date(now - 5_000));
      const added = await store.addMember(number, 'pagey', 30, claim);
      expect(added.joinedAt.getTime()).to.equal(now - 5_000);
      const row = (await store.status(number))!.members.find((m) => m.id === added.id)!;
      expect(row).to.deep.equal(added);
      expect(
        membershipSigned(
          { room: number, name: 'pagey', key: signer.publicKey, joinedAt: row.joinedAt },
          row.signature!,
        ),
      ).to.equal(true);
      const refusals = [
        // Signed for another name, another room, or by another key than it says.
        store.addMember(number, 'mallory', 30, claim),
        store.addMember(number, 'pagey', 30, signed('pagey', new Date(now), '100000')),
        store.addMember(number, 'pagey', 30, { ...claim, key: newSigner().publicKey }),
        // Signed for a time that is not now: an old membership replayed, or one for later.
        store.addMember(number, 'pagey', 30, signed('pagey', new Date(now - 120_000))),
        store.addMember(number, 'pagey', 30, signed('pagey', new Date(now + 120_000))),
        store.addMember(number, 'pagey', 30, { ...claim, joinedAt: new Date(NaN) }),
      ];
      for (const refused of refusals)
        expect((await refusal(refused)).exitCode).to.equal(ExitCode.refused);
      expect((await store.status(number))!.members.map((m) => m.name).sort()).to.deep.equal([
        'pagey',
        'probe',
      ]);
    });

    it('counts a row written without a key (a listener of an older sunoye) as a member', async function () {
      const { number } = await store.createRoom(await newRoom(60));
      // The registry's time now, as a member's row gives it.
      const probe = await store.addMember(number, 'probe', 1);
      await store.removeMember(probe.id);
      const now = probe.joinedAt.getTime();
      await fx.raw(
        'INSERT INTO members (id, room, name, joined_at, heartbeat_at, lease_ms) VALUES (?, ?, ?, ?, ?, ?)',
        ['b'.repeat(32), number, 'old', now, now, 600_000],
      );
      clock.advance(120_000);
      const status = await store.status(number);
      expect(status?.room.state).to.equal('open');
      expect(status?.members.map((m) => [m.name, m.key, m.signature])).to.deep.equal([
        ['old', null, null],
      ]);
    });

    it('stops counting a member whose lease ran out, and will not renew it', async function () {
      const { number } = await store.createRoom(await newRoom());
      const ghost = await store.addMember(number, 'ghost', 5);
      const kept = await store.addMember(number, 'kept', 30);
      expect((await store.status(number))?.members.length).to.equal(2);
      clock.advance(5000);
      expect((await store.status(number))?.members.map((m) => m.id)).to.deep.equal([kept.id]);
      expect(await store.heartbeat(ghost.id)).to.equal(false);
      expect(await store.heartbeat(kept.id)).to.equal(true);
      expect((await store.status(number))?.room.state).to.equal('open');
    });

    it('closes a room for good once it has had no member for its idle timeout', async function () {
      const { number } = await store.createRoom(await newRoom(60));
      clock.advance(59_000);
      expect((await store.status(number))?.room.state).to.equal('open');
      clock.advance(1000);
      const closed = await store.status(number);
      expect(closed?.room.state).to.equal('closed');
      expect(closed?.room.closedAt).to.be.instanceOf(Date);
      expect((await refusal(store.addMember(number, 'late', 30))).message).to.match(/closed/);
      expect((await store.touch(number))?.room.state).to.equal('closed');
    });

    it('keeps a room with a live member open past its idle timeout, and starts the timer when the last one leaves', async function () {
      const { number } = await store.createRoom(await newRoom(60));
      const member = await store.addMember(number, 'stayer', 300);
      clock.advance(90_000);
      expect(await store.heartbeat(member.id)).to.equal(true);
      expect((await store.status(number))?.room.state).to.equal('open');
      await store.removeMember(member.id);
      clock.advance(50_000);
      expect((await store.status(number))?.room.state).to.equal('open');
      clock.advance(10_000);
      const closed = await store.status(number);
      expect(closed?.room.state).to.equal('closed');
    });

    it('restarts the idle timer when touched', async function () {
      const { number } = await store.createRoom(await newRoom(60));
      clock.advance(40_000);
      await store.touch(number);
      clock.advance(40_000); // 80 s after creation, 40 s after the touch
      expect((await store.status(number))?.room.state).to.equal('open');
      clock.advance(20_000);
      expect((await store.status(number))?.room.state).to.equal('closed');
    });

    it('closes at once, dropping members; closing again is harmless', async function () {
      const { number } = await store.createRoom(await newRoom());
      const member = await store.addMember(number, 'alice', 30);
      const closed = await store.closeRoom(number);
      expect(closed?.state).to.equal('closed');
      expect(await store.heartbeat(member.id)).to.equal(false);
      expect((await store.status(number))?.members).to.deep.equal([]);
      expect((await fx.raw(`SELECT id FROM members WHERE room = '${number}'`)).length).to.equal(0);
      const again = await store.closeRoom(number);
      expect(again?.closedAt?.getTime()).to.equal(closed?.closedAt?.getTime());
    });

    it(`keeps the exact count under registrations and removals from ${RACERS} processes at once`, async function () {
      await racersOpen(fx.url);
      const { number } = await store.createRoom(await newRoom());
      const per = 8;
      const joins = (prefix: string) =>
        racers.round(
          Array.from({ length: RACERS }, (_, i) => ({
            ops: Array.from({ length: per }, (_, j) => ({
              op: 'join' as const,
              room: number,
              name: `${prefix}${i}-${j}`,
            })),
          })),
        );
      const first = (await joins('m')).map((o) => values(o).map(String));
      expect((await store.status(number))?.members.length).to.equal(RACERS * per);
      // Each racer removes half of its members while adding as many new ones.
      const second = await racers.round(
        first.map((ids, i) => ({
          ops: [
            ...ids.slice(0, per / 2).map((id) => ({ op: 'leave' as const, id })),
            ...Array.from({ length: per / 2 }, (_, j) => ({
              op: 'join' as const,
              room: number,
              name: `n${i}-${j}`,
            })),
          ],
        })),
      );
      for (const outcomes of second)
        expect(values(outcomes).slice(0, per / 2)).to.deep.equal(Array(per / 2).fill(true));
      const members = (await store.status(number))!.members;
      expect(members.length).to.equal(RACERS * per);
      expect(new Set(members.map((m) => m.id)).size).to.equal(RACERS * per);
      // All leave at once, each racer removing members the others added.
      const leaving = await racers.round(
        Array.from({ length: RACERS }, (_, i) => ({
          ops: members
            .filter((_, k) => k % RACERS === i)
            .map((m) => ({ op: 'leave' as const, id: m.id })),
        })),
      );
      expect(leaving.flatMap(values).every((r) => r === true)).to.equal(true);
      expect((await store.status(number))?.members.length).to.equal(0);
      expect(
        (await fx.raw('SELECT COUNT(*) AS n FROM members WHERE room = ?', [number])).map((r) =>
          Number(r.n),
        ),
      ).to.deep.equal([0]);
    });

    /** Checks a join's outcome: refused (exit 3) as closed, or a member since removed. */
    async function refusedOrGone(outcome: RacerOutcome): Promise<void> {
      if (!outcome.ok) {
        expect(outcome.exitCode, outcome.message).to.equal(ExitCode.refused);
        expect(outcome.message).to.match(/closed/);
      } else expect(await store.heartbeat(String(outcome.value))).to.equal(false);
    }

    it(`never leaves a member in a closed room when ${RACERS} processes join as it closes`, async function () {
      await racersOpen(fx.url);
      for (let round = 0; round < 8; round++) {
        const { number } = await store.createRoom(await newRoom());
        // One racer closes the room (and joins it too); the others join, all at the same moment.
        const closer = round % RACERS;
        const outcomes = await racers.round(
          Array.from({ length: RACERS }, (_, i) => ({
            ops: [
              ...(i === closer ? [{ op: 'close' as const, room: number }] : []),
              { op: 'join' as const, room: number, name: `racer${i}` },
            ],
          })),
        );
        expect(values(outcomes[closer]!.slice(0, 1))).to.deep.equal(['closed']);
        const status = await store.status(number);
        expect(status?.room.state).to.equal('closed');
        for (const [i, outcome] of outcomes.entries())
          await refusedOrGone(outcome[i === closer ? 1 : 0]!);
        expect((await fx.raw(`SELECT id FROM members WHERE room = '${number}'`)).length).to.equal(
          0,
        );
      }
    });

    it(`never closes a room that ${RACERS} processes join while its idle timeout runs out`, async function () {
      await racersOpen(fx.url);
      for (let round = 0; round < 4; round++) {
        const { number } = await store.createRoom(await newRoom(10));
        const leaver = await store.addMember(number, 'leaver', 60);
        await store.removeMember(leaver.id);
        // Join around the moment the room becomes idle-closable, each racer at a registry time
        // 200 ms after the one before (starting earlier or later each round), all at once: each
        // join either lands in an open room (which then stays open while the member lives) or is
        // refused as closed.
        clock.advance(9400 + round * 400);
        const now = clock.skewMs();
        const outcomes = (
          await racers.round(
            Array.from({ length: RACERS }, (_, i) => ({
              skewMs: now + i * 200,
              ops: [{ op: 'join' as const, room: number, name: `j${i}` }],
            })),
          )
        ).map((o) => o[0]!);
        for (const outcome of outcomes)
          if (!outcome.ok) expect(outcome.exitCode, outcome.message).to.equal(ExitCode.refused);
        const joined = outcomes.filter((o) => o.ok);
        const status = await store.status(number);
        if (status?.room.state === 'open') {
          expect(status.members.length).to.equal(joined.length);
          expect(joined.length).to.be.above(0);
        } else {
          expect(joined.length).to.equal(0);
          expect((await fx.raw(`SELECT id FROM members WHERE room = '${number}'`)).length).to.equal(
            0,
          );
        }
      }
    });

    historyContract(() => ({ fx, store }), clock);
  });
}
