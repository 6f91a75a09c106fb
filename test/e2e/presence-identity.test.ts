// Presence bound to keys: `room info` shows each member by the key that signed its registry row,
// against a real broker and real registries (SQLite, MariaDB) that the test also writes to behind
// sunoye's back, as their operator could.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { joinedListener, stopAll, type RunningProgram } from '../helpers/programs.js';
import { REGISTRIES, type Registry } from '../helpers/registries.js';
import { waitFor } from '../helpers/wait.js';

interface Membership {
  name: string;
  key: string | null;
  trust: string;
  pinned?: string;
  joinedAt: string;
}

interface Info {
  members: number;
  names: string[];
  memberships: Membership[];
}

for (const registry of REGISTRIES) {
  describe(`members shown by their own keys (${registry.name})`, function () {
    this.timeout(90_000);
    let dir: string;
    let broker: TestBroker;
    let db: Registry;
    const running: RunningProgram[] = [];
    /** `name` as a user whose SUNOYE_HOME is `home`'s (their own by default). */
    const user = (name: string, home = name) => ({
      HOME: dir,
      SUNOYE_DB: db.url,
      SUNOYE_BROKER: broker.url,
      SUNOYE_NAME: name,
      SUNOYE_HOME: join(dir, `home-${home}`),
    });
    const info = async (room: string, as = 'alice'): Promise<Info> => {
      const run = await runProgram('room', ['info', room, '--json'], { env: user(as) });
      expect(run.code, run.stderr).to.equal(0);
      return JSON.parse(run.stdout) as Info;
    };
    const keyOf = async (home: string): Promise<string> => {
      const run = await runProgram('room', ['whoami', '--json'], { env: user(home) });
      return (JSON.parse(run.stdout) as { key: string }).key;
    };

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-presence-'));
      db = await registry.open(this, dir);
      broker = await startAedes();
    });
    afterEach(() => stopAll(running));
    after(async function () {
      await broker?.stop();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** alice's room, joined by bob and mallory; alice listens and has pinned bob. */
    async function roomWithBobPinned(): Promise<{ room: string; password: string }> {
      const created = await runProgram('room', ['create', '--json'], { env: user('alice') });
      expect(created.code, created.stderr).to.equal(0);
      const made = JSON.parse(created.stdout) as { room: string; password: string };
      for (const member of ['bob', 'mallory']) {
        const joined = await runProgram('room', ['join', made.room, '--password-file', '-'], {
          env: user(member),
          input: `${made.password}\n`,
        });
        expect(joined.code, joined.stderr).to.equal(0);
      }
      const alice = await joinedListener(made.room, [], user('alice'), running);
      await joinedListener(made.room, [], user('bob'), running);
      await alice.line("bob's join", (l) => l.includes('"from":"bob"'));
      // alice's listener writes what it pinned every 2 s.
      const bobKey = readPublicKey(dir, 'bob').toString('base64');
      await waitFor('bob pinned by alice', () => {
        const folder = join(dir, 'home-alice', 'pins');
        const file = existsSync(folder)
          ? readdirSync(folder).find((f) => f.startsWith(`${made.room}-`))
          : undefined;
        return file && readFileSync(join(folder, file), 'utf8').includes(bobKey) ? true : undefined;
      });
      return made;
    }

    it('shows a listener under bob\'s name with its own key as NOT the "bob" you know, never under bob\'s key', async function () {
      const { room } = await roomWithBobPinned();
      const [aliceKey, bobKey, malloryKey] = (await Promise.all(
        ['alice', 'bob', 'mallory'].map(keyOf),
      )) as [string, string, string];
      // mallory, with her own SUNOYE_HOME, listens as bob.
      await joinedListener(room, [], user('bob', 'mallory'), running);
      const human = await runProgram('room', ['info', room], { env: user('alice') });
      expect(human.code, human.stderr).to.equal(0);
      const lines = human.stdout.trimEnd().split('\n');
      expect(lines[3]).to.equal('members: 3');
      const members = lines.slice(4).map((l) => l.replace(/^ {2}joined [\d:-]+( [\d:]+)? {2}/, ''));
      expect(members.sort()).to.deep.equal([
        `[key ${malloryKey}, NOT the "bob" you know]`,
        `alice (you) [key ${aliceKey}]`,
        `bob [key ${bobKey}]`,
      ]);
      // bob's key is shown once: for bob's own row only.
      expect(human.stdout.split(bobKey)).to.have.length(2);
      const shown = await info(room);
      expect(shown.members).to.equal(3);
      expect(shown.names.sort()).to.deep.equal(['alice', 'bob', 'bob']);
      const byTrust = shown.memberships
        .map((m) => [m.name, m.trust, m.key, m.pinned ?? null])
        .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
      expect(byTrust).to.deep.equal([
        ['bob', 'changed', malloryKey, bobKey],
        ['bob', 'known', bobKey, null],
        ['alice', 'you', aliceKey, null],
      ]);
      for (const m of shown.memberships)
        expect(Math.abs(Date.parse(m.joinedAt) - Date.now())).to.be.below(60_000);
    });

    it('shows rows written into the database as unverified, under no key; "carol, dave" as one member', async function () {
      const { room } = await roomWithBobPinned();
      const bobKey = await keyOf('bob');
      // The database's writer, with the columns an older sunoye knows: rows without a key, one
      // under bob's name and one whose name would read as two members.
      const now = Date.now();
      const write = (name: string, key: Buffer | null = null, signature: Buffer | null = null) =>
        db.write(
          `INSERT INTO members (id, room, name, joined_at, heartbeat_at, lease_ms${key ? ', public_key, signature' : ''}) VALUES (?, ?, ?, ?, ?, ?${key ? ', ?, ?' : ''})`,
          [
            randomBytes(16).toString('hex'),
            room,
            name,
            now,
            now,
            3_600_000,
            ...(key ? [key, signature] : []),
          ],
        );
      for (const name of ['dave', 'bob', 'carol, dave']) await write(name);
      const shownAs = async (count: number): Promise<string[]> => {
        const human = await runProgram('room', ['info', room], { env: user('alice') });
        expect(human.code, human.stderr).to.equal(0);
        const lines = human.stdout.trimEnd().split('\n').slice(3); // after the room, creator and history lines
        expect(lines[0]).to.equal(`members: ${count}`);
        expect(lines).to.have.length(count + 1);
        // bob's key is shown once: for bob's own row only.
        expect(human.stdout.split(bobKey)).to.have.length(2);
        return lines.slice(1).map((l) => l.replace(/^ {2}joined [\d:-]+( [\d:]+)? {2}/, ''));
      };
      expect(await shownAs(5)).to.include.members([
        '"carol, dave" [unverified]',
        'dave [unverified]',
        'bob [unverified]',
        `bob [key ${bobKey}]`,
      ]);
      // A row with bob's key and a signature that is not his.
      await write('bob', readPublicKey(dir, 'bob'), randomBytes(64));
      expect((await shownAs(6)).filter((m) => m === 'bob [unverified]')).to.have.length(2);
      // The identity key, nobody's: its signature (identity, 0) holds for every statement.
      const identity = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
      await write('zed', identity, Buffer.concat([identity, Buffer.alloc(32)]));
      expect(await shownAs(7)).to.include('zed [unverified]');
      const shown = await info(room);
      expect(shown.members).to.equal(7);
      const written = shown.memberships
        .filter((m) => m.trust === 'unverified')
        .map((m) => [m.name, m.key])
        .sort();
      expect(written).to.deep.equal([
        ['bob', null],
        ['bob', null],
        ['carol, dave', null],
        ['dave', null],
        ['zed', null],
      ]);
    });

    it("signs the membership it takes again after the database dropped its row; a plain room's members are unsigned", async function () {
      const created = await runProgram('room', ['create', '--json'], { env: user('alice') });
      const { room } = JSON.parse(created.stdout) as { room: string };
      await joinedListener(room, [], { ...user('alice'), SUNOYE_LEASE: '3' }, running);
      const first = (await info(room)).memberships;
      expect(first.map((m) => [m.name, m.trust])).to.deep.equal([['alice', 'you']]);
      await db.write('DELETE FROM members WHERE room = ?', [room]);
      const again = await waitFor('the membership taken again', async () => {
        const [m] = (await info(room)).memberships;
        return m && m.joinedAt !== first[0]!.joinedAt ? m : undefined;
      });
      expect(again).to.include({ name: 'alice', trust: 'you', key: await keyOf('alice') });

      const plain = await runProgram('room', ['create', '--plain', '--json'], {
        env: user('alice'),
      });
      const plainRoom = (JSON.parse(plain.stdout) as { room: string }).room;
      await joinedListener(plainRoom, [], user('alice'), running);
      const shown = await info(plainRoom);
      expect(shown.memberships.map((m) => [m.name, m.trust, m.key])).to.deep.equal([
        ['alice', 'unsigned', null],
      ]);
      const human = await runProgram('room', ['info', plainRoom], { env: user('alice') });
      const lines = human.stdout.trimEnd().split('\n').slice(3); // after the room, creator and history lines
      expect(lines).to.have.length(2);
      expect(lines[0]).to.equal('members: 1');
      expect(lines[1]).to.match(/^ {2}joined [\d:]+ {2}alice$/);
    });
  });
}

/** The raw public key of `home`'s identity. */
function readPublicKey(dir: string, home: string): Buffer {
  const identity = JSON.parse(readFileSync(join(dir, `home-${home}`, 'identity.json'), 'utf8')) as {
    x: string;
  };
  return Buffer.from(identity.x, 'base64url');
}
