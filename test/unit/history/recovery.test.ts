// Recovering missed lines from the room's history: a listener's inbox with a recovery reading a
// real registry (an SQLite file; MariaDB through a proxy cut for the registry that is down), the
// rows stored as senders store them (sealed and signed by the real codec).
import { pinsPath, roomFile, seenPath } from '../../../src/home/room-files.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Inbox, type ShownWith } from '../../../src/conversation/inbox.js';
import { ReplayGuard } from '../../../src/conversation/replay.js';
import { KnownSenders } from '../../../src/conversation/senders.js';
import { Sender } from '../../../src/conversation/sender.js';
import { openStore, type RoomStore } from '../../../src/db/index.js';
import { ownLinesInHistory, Recovery, RECOVERY_LIMITS } from '../../../src/history/recovery.js';
import { rowsOpener } from '../../../src/history/rows.js';
import { Echoes } from '../../../src/conversation/echoes.js';
import {
  encryptedCodec,
  newKdfParams,
  newSigner,
  type ChatPayload,
  type Signer,
} from '../../../src/protocol/index.js';
import { MYSQL_TEST_URL, requireMysql, scratchDatabase } from '../../helpers/mysql.js';
import { startProxy } from '../../helpers/proxy.js';
import { elapse, waitFor } from '../../helpers/wait.js';

const WAIT_MS = 100;
const DAY = { seconds: 86_400, bytes: 64 * 1024 * 1024 };

describe('recovery from the room history', function () {
  let dir: string;
  let store: RoomStore;
  let room: string;
  const key = randomBytes(32);
  const me = newSigner();
  const alice = newSigner();

  async function openRoom(url: string): Promise<void> {
    store = await openStore(url);
    const made = await store.createRoom({
      creator: 'alice',
      mode: 'encrypted',
      idleSeconds: 600,
      kdf: newKdfParams(),
      verifier: () => randomBytes(32),
      history: DAY,
    });
    room = made.number;
  }

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-recovery-'));
  });
  afterEach(async function () {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A listener of the room with a recovery on `store`. */
  function listener() {
    const shown: { payload: ChatPayload; how: ShownWith }[] = [];
    const warnings: string[] = [];
    const codec = encryptedCodec(room, key, me);
    const recovery = new Recovery({
      rows: (query) => store.readHistory(room, query),
      open: rowsOpener(codec),
      warn: (line) => warnings.push(line),
      waitMs: WAIT_MS,
    });
    const inbox = new Inbox(
      {
        topic: `sunoye/room/${room}`,
        codec,
        joinId: undefined,
        count: undefined,
        senders: new KnownSenders(roomFile(pinsPath(dir, 'sqlite:x', room)), {
          name: 'me',
          publicKey: me.publicKey,
        }),
        replay: new ReplayGuard(roomFile(seenPath(dir, 'sqlite:x', room)), Date.now() - 1000),
        recovery,
      },
      {
        show: (payload, _at, how) => shown.push({ payload, how }),
        warn: (line) => warnings.push(line),
        closedNotice: () => undefined,
        countReached: () => undefined,
      },
    );
    const texts = () =>
      shown.map(({ payload, how }) =>
        [
          payload.type === 'message' ? payload.message : payload.event,
          how.late ? 'late' : 'live',
          how.recovered ? 'recovered' : '',
        ]
          .join(' ')
          .trim(),
      );
    return { inbox, recovery, shown, warnings, texts };
  }

  const seal = (p: ChatPayload, signer: Signer = alice): Buffer =>
    Buffer.from(encryptedCodec(room, key, signer).encode(p));

  /** Stores payloads as their sender does once the broker acknowledged them (one row each). */
  async function stored(sender: Sender, payloads: ChatPayload[], signer: Signer = alice) {
    await store.appendHistory(
      room,
      payloads.map((p) => ({
        signer: signer.publicKey,
        sender: sender.id,
        firstSeq: p.seq!,
        lastSeq: p.seq!,
        payload: seal(p, signer),
      })),
    );
  }

  describe('on an SQLite registry', function () {
    beforeEach(() => openRoom(`sqlite:${join(dir, 'registry.db')}`));

    it('shows once, late, the lines a gap skipped that history has, and reports none lost', async function () {
      const { inbox, recovery, warnings, texts } = listener();
      const a = new Sender('alice');
      const lines = [1, 2, 3, 4, 5].map((n) => a.message(`line ${n}`));
      await stored(a, lines);
      for (const p of [lines[0]!, lines[1]!, lines[4]!]) inbox.receive(seal(p));
      // Nothing is reported at once: the gap waits for its lookup.
      expect(warnings).to.deep.equal([]);
      await waitFor('the recovered lines', () => texts().length === 5);
      expect(texts()).to.deep.equal([
        'line 1 live',
        'line 2 live',
        'line 5 live',
        'line 3 late recovered',
        'line 4 late recovered',
      ]);
      // Arriving again on the wire afterwards: never shown twice.
      inbox.receive(seal(lines[2]!));
      await elapse(3 * WAIT_MS);
      expect(texts()).to.have.length(5);
      expect(warnings).to.deep.equal([]);
      expect(recovery.lookups).to.equal(1);
    });

    it('recovers what an end marker says was sent, and reports only what history lacks', async function () {
      const { inbox, warnings, texts } = listener();
      const a = new Sender('alice');
      const lines = [1, 2, 3, 4].map((n) => a.message(`line ${n}`));
      const end = a.end();
      // Line 4 was never stored (its sender died before writing it).
      await stored(a, [lines[1]!, lines[2]!, end]);
      inbox.receive(seal(lines[0]!));
      inbox.receive(seal(end));
      await waitFor('the loss report', () => warnings.length > 0);
      expect(texts()).to.deep.equal([
        'line 1 live',
        'line 2 late recovered',
        'line 3 late recovered',
      ]);
      expect(warnings).to.deep.equal(['1 message from alice did not arrive (seq 4)']);
    });

    it('does not look up what arrived late while the gap waited', async function () {
      const { inbox, recovery, warnings, texts } = listener();
      const a = new Sender('alice');
      const lines = [1, 2, 3].map((n) => a.message(`line ${n}`));
      inbox.receive(seal(lines[0]!));
      inbox.receive(seal(lines[2]!));
      inbox.receive(seal(lines[1]!));
      await elapse(3 * WAIT_MS);
      expect(texts()).to.deep.equal(['line 1 live', 'line 3 live', 'line 2 late']);
      expect(warnings).to.deep.equal([]);
      expect(recovery.lookups).to.equal(0);
    });

    it('drops a row signed by another key than the stream, and reports its lines lost', async function () {
      const { inbox, warnings, texts } = listener();
      const mallory = newSigner();
      const a = new Sender('alice');
      const lines = [1, 2, 3].map((n) => a.message(`line ${n}`));
      // Mallory stores a line in alice's stream, signed with her own key under alice's.
      await store.appendHistory(room, [
        {
          signer: alice.publicKey,
          sender: a.id,
          firstSeq: 2,
          lastSeq: 2,
          payload: seal({ ...lines[1]!, message: 'forged' }, mallory),
        },
      ]);
      inbox.receive(seal(lines[0]!));
      inbox.receive(seal(lines[2]!));
      await waitFor('the loss report', () => warnings.some((w) => w.includes('did not arrive')));
      expect(texts()).to.deep.equal(['line 1 live', 'line 3 live']);
      expect(warnings).to.include('1 message from alice did not arrive (seq 2)');
      expect(warnings.join('\n')).to.match(/ignored a row of the room's history from alice/);
    });

    it('bounds what a forged gap of 2^40 numbers and many gaps of one key cost', async function () {
      const { inbox, recovery, warnings } = listener();
      const a = new Sender('alice');
      inbox.receive(seal(a.message('first')));
      const far = 2 ** 40;
      const forged = { ...a.message('far away'), seq: far, id: `${a.id}-${far}` };
      inbox.receive(seal(forged));
      await waitFor('the loss report', () => warnings.length > 0);
      // One bounded query for the whole claimed gap, reported lost as without history.
      expect(recovery.lookups).to.equal(1);
      expect(recovery.queries).to.equal(1);
      expect(warnings).to.deep.equal([
        `${far - 2} messages from alice did not arrive (seq 2-${far - 1})`,
      ]);
      // Gaps on 20 streams of one key (every other number skipped): the key's lookups are bounded;
      // the rest is reported at once, every gap once.
      warnings.length = 0;
      const streams = Array.from({ length: 20 }, () => new Sender('alice'));
      for (let round = 0; round < 5; round += 1)
        for (const s of streams) {
          inbox.receive(seal(s.message('x')));
          s.message('skipped');
        }
      await waitFor('every gap reported', () => warnings.length === 20 * 4, 10_000);
      const lookups = recovery.lookups - 1;
      expect(lookups).to.be.at.most(RECOVERY_LIMITS.lookupsPerKeyPerMinute);
      expect(lookups).to.be.at.most(RECOVERY_LIMITS.pendingPerKey);
      console.log(`        (${lookups} lookups for 80 gaps of one key)`);
    });

    it('merges the gaps of one stream that come while it waits into one lookup', async function () {
      const { inbox, recovery, warnings, texts } = listener();
      const a = new Sender('alice');
      const lines = Array.from({ length: 20 }, (_, i) => a.message(`line ${i + 1}`));
      await stored(a, lines);
      // Every other line arrives (1, 3, ... 19, then 20): nine gaps of one number.
      for (let i = 0; i < 20; i += 2) inbox.receive(seal(lines[i]!));
      inbox.receive(seal(lines[19]!));
      await waitFor('every line', () => texts().length === 20);
      expect(recovery.lookups).to.equal(1);
      expect(warnings).to.deep.equal([]);
      expect(new Set(texts()).size).to.equal(20);
    });

    it('reads a long gap in pages, each bounded, at most a few', async function () {
      const { maxRows } = RECOVERY_LIMITS;
      RECOVERY_LIMITS.maxRows = 50;
      try {
        const { inbox, recovery, warnings, texts } = listener();
        const a = new Sender('alice');
        const lines = Array.from({ length: 300 }, (_, i) => a.message(`line ${i + 1}`));
        await stored(a, lines);
        inbox.receive(seal(lines[0]!));
        inbox.receive(seal(lines[299]!));
        await waitFor('the loss report', () => warnings.length > 0);
        // Pages of 50 rows (2-51, 52-101, ...), four at most: what is past them is reported.
        expect(recovery.queries).to.equal(RECOVERY_LIMITS.pages);
        expect(texts()).to.have.length(2 + RECOVERY_LIMITS.pages * 50);
        expect(warnings).to.deep.equal(['98 messages from alice did not arrive (seq 202-299)']);
      } finally {
        RECOVERY_LIMITS.maxRows = maxRows;
      }
    });

    it('looks up what a stream gone quiet sent past its last line', async function () {
      const { inbox, warnings, texts } = listener();
      const a = new Sender('alice');
      const lines = [1, 2, 3, 4].map((n) => a.message(`line ${n}`));
      await stored(a, lines);
      inbox.receive(seal(lines[0]!));
      const stream = `${alice.publicKey.toString('base64url')}/${a.id}`;
      let silent = 0;
      expect(inbox.recoverQuiet(stream, 1000, () => (silent += 1))).to.equal(true);
      await waitFor('the recovered lines', () => texts().length === 4);
      expect(texts().slice(1)).to.deep.equal([
        'line 2 late recovered',
        'line 3 late recovered',
        'line 4 late recovered',
      ]);
      expect(silent).to.equal(0);
      expect(warnings).to.deep.equal([]);
      // Nothing more in history: the caller says the stream went quiet.
      expect(inbox.recoverQuiet(stream, 1000, () => (silent += 1))).to.equal(true);
      await waitFor('the quiet report', () => silent === 1);
    });
  });

  describe("the room window's own lines", function () {
    beforeEach(() => openRoom(`sqlite:${join(dir, 'registry.db')}`));

    it('says a line the broker never sent back is in the history, and one not there is not delivered', async function () {
      const reports: string[] = [];
      const bob = new Sender('bob');
      const echoes = new Echoes(
        (_payload, onAck) => onAck(),
        (line) => reports.push(line),
        { echoTimeoutMs: 100, tickMs: 10 },
        ownLinesInHistory(
          {
            rows: (query) => store.readHistory(room, query),
            open: rowsOpener(encryptedCodec(room, key, me)),
          },
          me.publicKey,
          bob.id,
        ),
      );
      const kept = bob.message('kept in the history');
      const gone = bob.message('never stored');
      // The writer stored the first once the broker acknowledged it; the second it could not.
      await stored(bob, [kept], me);
      for (const p of [kept, gone]) echoes.published(`payload ${p.seq}`, [p])();
      await waitFor('both reports', () => reports.length === 2);
      echoes.stop();
      expect(reports.sort()).to.deep.equal([
        'not delivered: "never stored" (the broker did not send it back)',
        `not sent back: "kept in the history" (the broker did not send it back; it is in the room's history, where the others' listeners find it)`,
      ]);
    });
  });

  describe('on a MariaDB registry that is down at lookup time', function () {
    it('reports the loss as before, plus one warning that history could not be read', async function () {
      await requireMysql(this);
      const db = await scratchDatabase();
      const server = new URL(MYSQL_TEST_URL);
      const proxy = await startProxy(server.hostname, Number(server.port || 3306));
      try {
        const url = new URL(db.url);
        url.port = String(proxy.port);
        await openRoom(url.toString());
        const { inbox, warnings, texts } = listener();
        const a = new Sender('alice');
        const lines = [1, 2, 3, 4].map((n) => a.message(`line ${n}`));
        await stored(a, lines);
        await proxy.cut();
        inbox.receive(seal(lines[0]!));
        inbox.receive(seal(lines[2]!));
        inbox.receive(seal(lines[3]!));
        const d = new Sender('alice');
        inbox.receive(seal(d.message('other stream')));
        d.message('lost too');
        inbox.receive(seal(d.message('after')));
        await waitFor(
          'the loss reports',
          () => warnings.filter((w) => w.includes('did not arrive')).length === 2,
          60_000,
        );
        expect(texts()).to.have.length(5);
        expect(warnings.filter((w) => w.includes('did not arrive')).sort()).to.deep.equal([
          '1 message from alice did not arrive (seq 2)',
          '1 message from alice did not arrive (seq 2)',
        ]);
        const down = warnings.filter((w) => w.startsWith("could not read the room's history"));
        expect(down).to.have.length(1);
      } finally {
        await store?.close();
        store = undefined as unknown as RoomStore;
        await proxy.close();
        await db.drop();
      }
    });
  });
});
