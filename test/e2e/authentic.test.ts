// Authentic rooms, attacked as a database operator, a room member and another broker user would
// attack them: the built programs against a real broker and real registries.
import { hkdfSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { readdirSync, readFileSync } from 'node:fs';
import { startBroker } from '../../src/mqtt/broker.js';
import { messageKey, open, seal, type ChatPayload } from '../../src/protocol/index.js';
import {
  brokerEnv,
  freePort,
  requireMosquitto,
  startAedes,
  startMosquitto,
  type MosquittoBroker,
  type TestBroker,
} from '../helpers/brokers.js';
import { ownAccount, runProgram } from '../helpers/cli.js';
import {
  createRoomWithPassword,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { startProxy } from '../helpers/proxy.js';
import { REGISTRIES, type Registry } from '../helpers/registries.js';
import { startInScript } from '../helpers/script.js';
import { shellAssignments, shellQuote } from '../helpers/shell.js';
import { TEST_SIGNER } from '../helpers/signer.js';
import { waitFor } from '../helpers/wait.js';

for (const registry of REGISTRIES) {
  describe(`a registry record altered by its operator (${registry.name})`, function () {
    this.timeout(60_000);
    let dir: string;
    let broker: TestBroker;
    let db: Registry;
    const running: RunningProgram[] = [];
    const user = (name: string) => ({
      HOME: dir,
      SUNOYE_DB: db.url,
      SUNOYE_BROKER: broker.url,
      SUNOYE_NAME: name,
      SUNOYE_HOME: join(dir, `home-${name}`),
    });

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-authentic-'));
      db = await registry.open(this, dir);
      broker = await startAedes();
    });
    afterEach(() => stopAll(running));
    after(async function () {
      await broker?.stop();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('cannot make `room info` say plain, nor drive the terminal with the names it writes', async function () {
      const created = await runProgram('room', ['create', '--json'], { env: user('alice') });
      expect(created.code, created.stderr).to.equal(0);
      const { room } = JSON.parse(created.stdout) as { room: string };
      const evil = 'al\x1b]0;owned\x07ice\x1b[2J';
      await db.write(`UPDATE rooms SET mode = 'plain', creator = ? WHERE number = ?`, [evil, room]);
      const now = Date.now();
      await db.write(
        'INSERT INTO members (id, room, name, joined_at, heartbeat_at, lease_ms) VALUES (?, ?, ?, ?, ?, ?)',
        ['0123456789abcdef0123456789abcdef', room, `bob\x1b[31m`, now, now, 3_600_000],
      );
      const info = await runProgram('room', ['info', room], { env: user('alice') });
      expect(info.code, info.stderr).to.equal(0);
      expect(info.stdout).to.not.include('\x1b');
      expect(info.stdout).to.include('created by al\\x1B]0;owned\\x07ice\\x1B[2J');
      expect(info.stdout).to.include('bob\\x1B[31m');
      expect(info.stdout).to.match(
        /: open, encrypted \(the registry says plain: its record was altered\)/,
      );
      const json = await runProgram('room', ['info', room, '--json'], { env: user('alice') });
      expect(JSON.parse(json.stdout)).to.include({
        mode: 'encrypted',
        recordAltered: true,
        recordMode: 'plain',
      });
    });

    it('says a room made before rooms were bound to their mode is from an older sunoye (exit 3)', async function () {
      const created = await runProgram('room', ['create', '--json'], { env: user('alice') });
      const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };
      // The verifier an older sunoye stored: not bound to the room's number and mode.
      const folder = join(dir, 'home-alice', 'rooms');
      const file = readdirSync(folder).find((f) => f.startsWith(`${room}-`))!;
      const { secret } = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { secret: string };
      const old = Buffer.from(
        hkdfSync(
          'sha256',
          Buffer.from(secret, 'base64'),
          Buffer.alloc(0),
          'sunoye v1 password verifier',
          32,
        ),
      );
      await db.write('UPDATE rooms SET verifier = ? WHERE number = ?', [old, room]);
      const sent = await runProgram('publish', [room, '-m', 'hi'], { env: user('alice') });
      expect(sent.code, sent.stderr).to.equal(3);
      expect(sent.stderr).to.include('made by an older sunoye');
      const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
        env: user('dave'),
        input: `${password}\n`,
      });
      expect(joined.code, joined.stderr).to.equal(3);
      expect(joined.stderr).to.include('make a new room');
    });

    it('cannot turn an encrypted room plain: no plaintext reaches the broker, and every program refuses with exit 3', async function () {
      const created = await runProgram('room', ['create', '--json'], { env: user('alice') });
      expect(created.code, created.stderr).to.equal(0);
      const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };
      const bobJoined = await runProgram('room', ['join', room, '--password-file', '-'], {
        env: user('bob'),
        input: `${password}\n`,
      });
      expect(bobJoined.code, bobJoined.stderr).to.equal(0);

      await db.write(`UPDATE rooms SET mode = 'plain' WHERE number = ?`, [room]);

      const raw = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      const seen: Buffer[] = [];
      raw.on('message', (_t, p) => seen.push(Buffer.from(p)));
      await raw.subscribeAsync('sunoye/#', { qos: 1 });
      try {
        // A member who remembers the room: publish and listen refuse before connecting.
        const sent = await runProgram('publish', [room, '-m', 'secret-plan-1'], {
          env: user('bob'),
        });
        expect(sent.code, sent.stderr).to.equal(3);
        expect(sent.stderr).to.match(/registry record of room \d{6} was altered/);
        expect(sent.stderr).to.include('created encrypted');
        const piped = await runProgram('publish', [room], {
          env: user('alice'),
          input: 'secret-plan-2\n',
        });
        expect(piped.code, piped.stderr).to.equal(3);
        const listened = await runProgram('listen', [room], { env: user('bob') });
        expect(listened.code, listened.stderr).to.equal(3);
        expect(listened.stderr).to.include('was altered');
        // Nor can a member close it on the altered record's word (a plain "closed" notice).
        const closed = await runProgram('room', ['close', room], { env: user('bob') });
        expect(closed.code, closed.stderr).to.equal(3);
        expect(closed.stderr).to.match(
          /^room: the registry record of room \d{6} was altered: it says the room is plain, but the room was created encrypted/,
        );

        // `room info` shows the mode bob's machine remembers, and that the record was altered.
        const info = await runProgram('room', ['info', room, '--json'], { env: user('bob') });
        expect(JSON.parse(info.stdout)).to.include({
          mode: 'encrypted',
          state: 'open',
          recordAltered: true,
          recordMode: 'plain',
        });
        // A newcomer with the password: the altered record does not verify, and says why.
        const carol = await runProgram('room', ['join', room, '--password-file', '-'], {
          env: user('carol'),
          input: `${password}\n`,
        });
        expect(carol.code, carol.stderr).to.equal(3);
        expect(carol.stderr).to.include('was altered');
        const carolSends = await runProgram(
          'publish',
          [room, '-m', 'secret-plan-3', '--password-file', '-'],
          { env: user('carol'), input: `${password}\n` },
        );
        expect(carolSends.code, carolSends.stderr).to.equal(3);

        // Something that did reach the broker proves the subscriber was listening throughout.
        await raw.publishAsync(`sunoye/room/${room}`, 'end-of-test', { qos: 1 });
        await waitFor('the end marker', () => seen.some((p) => p.toString() === 'end-of-test'));
        // Nothing else reached the broker: no message, no notice, no "closed".
        expect(seen.map((p) => p.toString())).to.deep.equal(['end-of-test']);
        const everything = Buffer.concat(seen).toString('utf8');
        expect(everything).to.not.include('secret-plan');
        expect(everything).to.not.include('alice');
        expect(everything).to.not.include('bob');
      } finally {
        await raw.endAsync();
      }
    });
  });
}

// The attacks of members and broker users, on aedes (MQTT 3.1.1) and on a mosquitto process the
// programs speak MQTT 5 to (with its ACL: the programs log in as an ordinary user, the attacker
// as one allowed everything).
for (const onMosquitto of [false, true])
  describe(`members and broker users attacking a room (${onMosquitto ? 'mosquitto over MQTT 5' : 'aedes'} + SQLite)`, function () {
    this.timeout(90_000);
    let dir: string;
    let broker: TestBroker | MosquittoBroker;
    const running: RunningProgram[] = [];
    const user = (name: string, home = name, url = broker.url) => ({
      HOME: dir,
      SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
      ...(onMosquitto ? { ...brokerEnv(broker), SUNOYE_MQTT_VERSION: '5' } : {}),
      SUNOYE_BROKER: url,
      SUNOYE_NAME: name,
      SUNOYE_HOME: join(dir, `home-${home}`),
    });
    /** alice creates a room; each of `members` joins it with the password. */
    const newRoom = async (...members: string[]) => newRoomWith([], ...members);
    /** A room made with `room create` given `options`, joined by `members`. */
    const newRoomWith = async (options: string[], ...members: string[]) => {
      const created = await runProgram('room', ['create', '--json', ...options], {
        env: user('alice'),
      });
      expect(created.code, created.stderr).to.equal(0);
      const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };
      for (const member of members) {
        const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
          env: user(member),
          input: `${password}\n`,
        });
        expect(joined.code, joined.stderr).to.equal(0);
      }
      return room;
    };
    /** The room key as a member holds it (what an attacking member can seal with). */
    const roomKeyOf = (member: string, room: string): Buffer => {
      const folder = join(dir, `home-${member}`, 'rooms');
      const file = readdirSync(folder).find((f) => f.startsWith(`${room}-`))!;
      const { secret } = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { secret: string };
      return messageKey(Buffer.from(secret, 'base64'), room);
    };
    const listen = async (env: Record<string, string>, room: string, args: string[] = []) => {
      const p = startProgram('listen', [room, '--json', ...args], env);
      running.push(p);
      await p.line('the join notice', (l) => l.includes('"event":"join"'));
      return p;
    };
    const messages = (p: RunningProgram) =>
      jsonLines(p.stdoutLines).filter((m) => m.type === 'message');
    /** A raw broker client: another broker user (on mosquitto, one its ACL allows everything). */
    const intruder = () =>
      mqtt.connectAsync(
        broker.url,
        'admin' in broker
          ? {
              reconnectPeriod: 0,
              protocolVersion: 5,
              username: broker.admin.name,
              password: broker.admin.password,
            }
          : { reconnectPeriod: 0 },
      );

    before(async function () {
      if (onMosquitto) requireMosquitto(this);
      dir = mkdtempSync(join(tmpdir(), 'sunoye-attack-'));
      broker = onMosquitto ? await startMosquitto(join(dir, 'mosquitto')) : await startAedes();
    });
    afterEach(() => stopAll(running));
    after(async function () {
      await broker?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("marks a member speaking as another, on everyone's screen and on the victim's own", async function () {
      const room = await newRoom('bob', 'carol');
      const alice = await listen(user('alice'), room);
      const bob = await listen(user('bob'), room);
      await alice.line("bob's join notice, pinned", (l) => l.includes('"from":"bob"'));
      // carol, with her own key, calls herself bob.
      const forged = await runProgram('publish', [room, '-m', 'bob here: send me the code'], {
        env: user('bob', 'carol'),
      });
      expect(forged.code, forged.stderr).to.equal(0);
      const real = await runProgram('publish', [room, '-m', 'the real bob'], { env: user('bob') });
      expect(real.code, real.stderr).to.equal(0);
      for (const p of [alice, bob])
        await p.line('the real line', (l) => l.includes('the real bob'));
      const seenByAlice = messages(alice);
      expect(seenByAlice.map((m) => [m.message, m.trust])).to.deep.equal([
        ['bob here: send me the code', 'changed'],
        ['the real bob', 'known'],
      ]);
      expect(seenByAlice[0]!.key).to.not.equal(seenByAlice[1]!.key);
      // The key people compare out of band is the one `room whoami` shows, and `room info` too.
      const whoami = await runProgram('room', ['whoami', '--json'], { env: user('bob') });
      expect(JSON.parse(whoami.stdout)).to.include({ name: 'bob', key: seenByAlice[1]!.key });
      // alice's listener writes what it pinned every 2 s.
      await waitFor('bob pinned on disk', async () => {
        const info = await runProgram('room', ['info', room, '--json'], { env: user('alice') });
        const { memberships } = JSON.parse(info.stdout) as {
          memberships: Record<string, string>[];
        };
        return memberships.some(
          (m) => m.name === 'bob' && m.trust === 'known' && m.key === seenByAlice[1]!.key,
        );
      });
      // On bob's own screen the forgery is not "bob (you)".
      expect(messages(bob).map((m) => [m.message, m.trust])).to.deep.equal([
        ['bob here: send me the code', 'changed'],
        ['the real bob', 'you'],
      ]);
      // A human listener names the key, never bob.
      const human = startProgram('listen', [room], user('alice'));
      running.push(human);
      await human.line('the join', (l) => l.includes('is now subscribed'));
      await runProgram('publish', [room, '-m', 'again'], { env: user('bob', 'carol') });
      const line = await human.line('the forgery', (l) => l.includes('again'));
      expect(line).to.match(/\[key [0-9a-f-]{19}, NOT the "bob" you know\]: again$/);
    });

    it("shows a member's real lines when another member reuses their id prefix and numbers", async function () {
      const room = await newRoom('bob', 'mallory');
      const bob = await listen(user('bob'), room);
      const alice = startProgram('publish', [room], user('alice'));
      running.push(alice);
      alice.child.stdin.write('real 1\n');
      await bob.line('real 1', (l) => l.includes('real 1'));
      const prefix = String(messages(bob)[0]!.id).replace(/-\d+$/, '');
      // mallory seals, with the room key and her own signing key, alice's next 10,001 numbers.
      const key = roomKeyOf('mallory', room);
      const client = await intruder();
      try {
        for (let start = 2; start <= 10_002; start += 1000) {
          const batch: ChatPayload[] = [];
          for (let seq = start; seq < Math.min(start + 1000, 10_003); seq++)
            batch.push({
              type: 'message',
              from: 'alice',
              message: `fake ${seq}`,
              id: `${prefix}-${seq}`,
              seq,
              ts: new Date().toISOString(),
            });
          await client.publishAsync(
            `sunoye/room/${room}`,
            seal(key, room, batch as unknown as ChatPayload, TEST_SIGNER),
            { qos: 1 },
          );
        }
      } finally {
        await client.endAsync();
      }
      await bob.line('the last fake', (l) => l.includes('fake 10002'));
      alice.child.stdin.end('real 2\nreal 3\n');
      expect(await alice.exited).to.equal(0);
      await bob.line('real 3', (l) => l.includes('real 3'));
      const shown = messages(bob);
      expect(
        shown.filter((m) => String(m.message).startsWith('real')).map((m) => [m.message, m.trust]),
      ).to.deep.equal([
        ['real 1', 'new'],
        ['real 2', 'known'],
        ['real 3', 'known'],
      ]);
      expect(
        shown
          .filter((m) => String(m.message).startsWith('fake'))
          .every((m) => m.trust === 'changed'),
      ).to.equal(true);
    });

    it('shows no replay as new: not after a restart, not retained, not reversed', async function () {
      const room = await newRoom('bob', 'carol');
      const capture = await intruder();
      const captured: Buffer[] = [];
      capture.on('message', (_t, p) => captured.push(Buffer.from(p)));
      await capture.subscribeAsync(`sunoye/room/${room}`, { qos: 1 });
      try {
        const first = await listen(user('bob'), room);
        const sent = await runProgram('publish', [room], { env: user('alice'), input: 'one\n' });
        expect(sent.code, sent.stderr).to.equal(0);
        for (const text of ['two', 'three'])
          await runProgram('publish', [room, '-m', text], { env: user('alice') });
        await first.line('three', (l) => l.includes('"three"'));
        first.child.kill('SIGINT');
        expect(await first.exited).to.equal(0);
        await waitFor('the captures', () => captured.length >= 4);
        const old = captured.filter((p) => p.length > 0);

        // bob again: the captured messages, replayed in reverse, are not shown.
        const again = await listen(user('bob'), room);
        for (const p of [...old].reverse())
          await capture.publishAsync(`sunoye/room/${room}`, p, { qos: 1 });
        await runProgram('publish', [room, '-m', 'fresh'], { env: user('alice') });
        await again.line('fresh', (l) => l.includes('"fresh"'));
        expect(messages(again).map((m) => m.message)).to.deep.equal(['fresh']);
        // The first replay warned of may be bob's own leave notice (captured or not yet when the
        // replay began); the ones after it are summed up in one line.
        expect(again.stderr()).to.match(/ignored a (replayed )?message from (alice|bob)/);

        // A retained replay: a listener that starts later does not show it, and --count waits.
        await capture.publishAsync(`sunoye/room/${room}`, old[1]!, { qos: 1, retain: true });
        const carol = startProgram('listen', [room, '--json', '--count', '1'], user('carol'));
        running.push(carol);
        await carol.line('the join notice', (l) => l.includes('"event":"join"'));
        await runProgram('publish', [room, '-m', 'live'], { env: user('alice') });
        expect(await carol.exited).to.equal(0);
        expect(messages(carol).map((m) => m.message)).to.deep.equal(['live']);
        expect(carol.stderr()).to.include('retained');
      } finally {
        await capture.endAsync();
      }
    });

    it("shows a broker user only ciphertext of a crashed listener's last will: sealed for the room, no name, no notice", async function () {
      const room = await newRoom('bob');
      const raw = await intruder();
      const seen: Buffer[] = [];
      raw.on('message', (_t, p) => seen.push(Buffer.from(p)));
      await raw.subscribeAsync('sunoye/#', { qos: 1 });
      try {
        const alice = await listen(user('alice'), room);
        const bob = await listen(user('bob'), room);
        await alice.line("bob's join notice", (l) => l.includes('"from":"bob"'));
        await waitFor('both join notices at the raw subscriber', () => seen.length >= 2);
        const before = seen.length;
        // bob crashes: the broker publishes the will his listener left with it.
        bob.child.kill('SIGKILL');
        await bob.exited;
        const key = roomKeyOf('bob', room);
        const isWill = (p: Buffer): boolean => {
          const opened = open(key, room, p);
          return opened.ok && (opened.payload as { event?: string }).event === 'lost';
        };
        await waitFor('the will at the raw subscriber', () => seen.slice(before).some(isWill));
        // Whatever else the raw subscriber got meanwhile (alice's own notices) is held to the same.
        const after = seen.slice(before).map((p) => {
          // Nothing but the envelope's version, nonce and ciphertext, in base64 (which a name
          // could hide in only by chance: the decoded bytes are searched too).
          const envelope = JSON.parse(p.toString('utf8')) as Record<string, unknown>;
          expect(Object.keys(envelope).sort()).to.deep.equal(['c', 'n', 'sunoye']);
          expect(envelope.sunoye).to.be.oneOf([2, 3]);
          for (const field of [envelope.n, envelope.c]) {
            expect(field)
              .to.be.a('string')
              .and.match(/^[A-Za-z0-9+/]+={0,2}$/);
            const bytes = Buffer.from(field as string, 'base64');
            for (const word of ['bob', 'alice', 'lost'])
              expect(bytes.includes(word)).to.equal(false);
          }
          const opened = open(key, room, p);
          if (!opened.ok)
            throw new Error(`the will did not open with the room key: ${opened.reason}`);
          return opened.payload;
        });
        // It is what tells the room of the crash.
        await alice.line(
          "bob's lost notice",
          (l) => l.includes('"event":"lost"') && l.includes('"from":"bob"'),
        );
        const wills = after.filter((w) => (w as { event?: string }).event === 'lost');
        expect(wills.map((w) => [w.type, w.from, (w as { event?: string }).event])).to.deep.equal([
          ['notice', 'bob', 'lost'],
        ]);
      } finally {
        await raw.endAsync();
      }
    });

    it('rejects a message signed more than 2 minutes before the listener started, and shows one signed just inside', async function () {
      const room = await newRoom('bob', 'mallory');
      const key = roomKeyOf('mallory', room);
      // The listener starts (takes its start time) after `spawned` and before its join notice: a
      // message signed 121 s before `spawned` is outside the real 2-minute window, one signed
      // 119 s before `joined` inside it, however long the start takes.
      const spawned = Date.now();
      const bob = await listen(user('bob'), room);
      const joined = Date.now();
      const client = await intruder();
      try {
        const send = (message: string, seq: number, signedAt: number) =>
          client.publishAsync(
            `sunoye/room/${room}`,
            seal(
              key,
              room,
              {
                type: 'message',
                from: 'mallory',
                message,
                id: `oldclock-${seq}`,
                seq,
                ts: new Date(signedAt).toISOString(),
              },
              TEST_SIGNER,
            ),
            { qos: 1 },
          );
        await send('signed 121 s before', 1, spawned - 121_000);
        await send('signed 119 s before', 2, joined - 119_000);
        await send('signed now', 3, Date.now());
      } finally {
        await client.endAsync();
      }
      await bob.line('the line signed now', (l) => l.includes('signed now'));
      expect(messages(bob).map((m) => m.message)).to.deep.equal([
        'signed 119 s before',
        'signed now',
      ]);
      expect(bob.stderr()).to.match(
        /ignored a message from mallory signed \d+ s before this listener started: an old message sent again/,
      );
    });

    // The broker crashes and restarts below are an aedes of the test's own, on a fixed port.
    if (!onMosquitto) {
      /**
       * bob listens through a proxy to a broker that "crashes" (restarts empty) while he is cut off,
       * after alice's publish sent 3 more lines and exited 0; returns bob once he has said the loss
       * or, in a room that keeps history, once the lines found there showed.
       */
      const brokerCrash = async (
        room: string,
        done: (stderr: string, out: string) => boolean,
      ): Promise<RunningProgram> => {
        // A broker of its own on a fixed port, so that it can "crash" and come back empty.
        const port = await freePort();
        let crashing = await startBroker('127.0.0.1', port);
        const proxy = await startProxy('127.0.0.1', port);
        const direct = `mqtt://127.0.0.1:${port}`;
        try {
          const bob = await listen(user('bob', 'bob', `mqtt://127.0.0.1:${proxy.port}`), room);
          const alice = startProgram('publish', [room], user('alice', 'alice', direct));
          running.push(alice);
          alice.child.stdin.write('kept 1\nkept 2\n');
          await bob.line('kept 2', (l) => l.includes('kept 2'));
          await proxy.cut();
          alice.child.stdin.end('lost 3\nlost 4\nlost 5\n');
          expect(await alice.exited).to.equal(0);
          expect(alice.stderr()).to.include('sent 5 messages');
          // The broker dies with what it held for bob, and restarts empty.
          await crashing.close();
          crashing = await startBroker('127.0.0.1', port);
          await proxy.restore();
          await waitFor(
            'bob to say what became of the lines',
            () => done(bob.stderr(), bob.stdoutLines.join('\n')),
            { timeoutMs: 30_000, program: bob },
          );
          return bob;
        } finally {
          await proxy.close();
          await crashing.close();
        }
      };

      it('reports lines lost in a broker crash after publish exited 0, even at the end of the stream (a room without history)', async function () {
        const room = await newRoomWith(['--history', '0'], 'bob');
        const bob = await brokerCrash(room, (stderr) =>
          /nothing more arrived from alice/.test(stderr),
        );
        expect(bob.stderr()).to.include('last message seq 2');
        expect(messages(bob).map((m) => m.message)).to.deep.equal(['kept 1', 'kept 2']);
      });

      it('finds the lines a broker crash lost in the room history, shown late and once, and reports no loss', async function () {
        const room = await newRoom('bob');
        const bob = await brokerCrash(room, (_, out) => out.includes('lost 5'));
        const shown = messages(bob) as unknown as {
          message: string;
          late?: boolean;
          recovered?: boolean;
        }[];
        expect(shown.map((m) => m.message)).to.deep.equal([
          'kept 1',
          'kept 2',
          'lost 3',
          'lost 4',
          'lost 5',
        ]);
        expect(shown.slice(2).every((m) => m.late === true && m.recovered === true)).to.equal(true);
        expect(shown.slice(0, 2).some((m) => m.recovered)).to.equal(false);
        expect(bob.stderr()).to.not.match(/did not arrive|nothing more arrived/);
      });

      it('after a broker restart, names a sender that went quiet across it, not one heard from since', async function () {
        const room = await newRoom('bob', 'carol');
        const port = await freePort();
        let crashing = await startBroker('127.0.0.1', port);
        const url = `mqtt://127.0.0.1:${port}`;
        try {
          const bob = await listen(user('bob', 'bob', url), room);
          const alice = startProgram('publish', [room], user('alice', 'alice', url));
          const carol = startProgram('publish', [room], user('carol', 'carol', url));
          running.push(alice, carol);
          alice.child.stdin.write('alice before\n');
          carol.child.stdin.write('carol before\n');
          await bob.line('alice before', (l) => l.includes('alice before'));
          await bob.line('carol before', (l) => l.includes('carol before'));
          // The broker restarts empty; carol is killed meanwhile, alice goes on after it.
          await crashing.close();
          carol.child.kill('SIGKILL');
          await carol.exited;
          crashing = await startBroker('127.0.0.1', port);
          await waitFor(
            'bob back, without his session',
            () => /lost this listener's session/.test(bob.stderr()),
            { program: bob },
          );
          alice.child.stdin.write('alice after\n');
          await bob.line('alice after', (l) => l.includes('alice after'));
          const said = await waitFor(
            'bob to name carol',
            () => (/nothing more arrived from carol/.test(bob.stderr()) ? bob.stderr() : undefined),
            // 15 s after the reconnect, then the room history is looked up first (2 s and a query).
            { timeoutMs: 60_000, program: bob },
          );
          // The warnings of a reconnect come at once: alice, heard from since, is not among them.
          expect(said).not.to.include('nothing more arrived from alice');
          alice.child.stdin.end();
          expect(await alice.exited).to.equal(0);
        } finally {
          await crashing.close();
        }
      });

      it('after the broker lost its session, shows what was sent meanwhile from the room history, late: also from a sender that came and went while it was away', async function () {
        const room = await newRoom('bob', 'carol');
        const port = await freePort();
        let crashing = await startBroker('127.0.0.1', port);
        const proxy = await startProxy('127.0.0.1', port);
        try {
          const bob = await listen(user('bob', 'bob', `mqtt://127.0.0.1:${proxy.port}`), room);
          // bob is cut off; the broker restarts empty (his session gone); carol says one line, to
          // a stream bob never heard of (no gap, no quiet stream to find it by), and leaves.
          await proxy.cut();
          await crashing.close();
          crashing = await startBroker('127.0.0.1', port);
          const said = await runProgram('publish', [room, '-m', 'said while bob was away'], {
            env: user('carol', 'carol', `mqtt://127.0.0.1:${port}`),
          });
          expect(said.code, said.stderr).to.equal(0);
          await proxy.restore();
          await bob.line(
            'the line said meanwhile',
            (l) => l.includes('said while bob was away'),
            30_000,
          );
          const told = await waitFor(
            'bob to say what he found',
            () =>
              /lost this listener's session while it was away: \d+ lines? sent meanwhile found in the room's history, shown late\n/.exec(
                bob.stderr(),
              ),
            { program: bob },
          );
          expect(told?.[0]).to.not.include('may be missing');
          const shown = messages(bob) as unknown as {
            message: string;
            late?: boolean;
            recovered?: boolean;
          }[];
          expect(shown.map((m) => [m.message, m.late, m.recovered])).to.deep.equal([
            ['said while bob was away', true, true],
          ]);
          expect(bob.stderr()).to.not.match(/did not arrive|ignored/);
        } finally {
          await proxy.close();
          await crashing.close();
        }
      });

      it('resumes, in the same terminal, the session of a listener that crashed: nothing sent meanwhile is missed', async function () {
        const room = await newRoom('bob');
        const bin = join(process.cwd(), 'dist', 'bin');
        const out = join(dir, 'first-listener.out');
        const q = shellQuote;
        const alice = shellAssignments(user('alice'));
        const listenOnce = `${q(process.execPath)} ${q(join(bin, 'listen.js'))} ${room} --json --count 1`;
        // One terminal (`script`): a listener, killed -9 once it has joined; a line sent while it is
        // gone; the listener started again in the same terminal.
        const steps = [
          `${listenOnce} > ${q(out)} & echo $! > ${q(out)}.pid`,
          `until grep -q '"event":"join"' ${q(out)}; do sleep 0.05; done`,
          `kill -9 $(cat ${q(out)}.pid)`,
          `env ${alice} ${q(process.execPath)} ${q(join(bin, 'publish.js'))} ${room} -m 'sent while bob was away'`,
          `exec ${listenOnce}`,
        ].join('; ');
        const terminal = startInScript(steps, user('bob'));
        running.push(terminal);
        expect(await terminal.exited, terminal.stderr()).to.equal(0);
        const shown = jsonLines(
          terminal.stdoutLines.map((l) => l.replace(/\r$/, '')).filter((l) => l.startsWith('{')),
        );
        expect(shown.filter((m) => m.type === 'message').map((m) => m.message)).to.deep.equal([
          'sent while bob was away',
        ]);
      });
    }
  });

// On a mosquitto process that the programs must speak MQTT 5 to, without persistence, where
// subscriptions carry a retain handling option: a listener asks for the retained message when it
// subscribes (only to drop it, with a warning), and for none when it subscribes again after the
// broker lost its session.
describe('retained messages and a lost session on mosquitto over MQTT 5', function () {
  this.timeout(90_000);
  let dir: string;
  let broker: MosquittoBroker;
  const running: RunningProgram[] = [];
  const user = (name: string, url = broker.url) =>
    ownAccount(dir, name, {
      SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
      ...brokerEnv(broker),
      SUNOYE_BROKER: url,
      SUNOYE_MQTT_VERSION: '5',
    });
  const topic = (room: string) => `sunoye/room/${room}`;
  /** A raw MQTT 5 client allowed everything: a broker user who captures and replays. */
  const intruder = () =>
    mqtt.connectAsync(broker.url, {
      reconnectPeriod: 0,
      protocolVersion: 5,
      username: broker.admin.name,
      password: broker.admin.password,
    });
  const messages = (p: RunningProgram) =>
    jsonLines(p.stdoutLines).filter((m) => m.type === 'message');
  /** alice's room, joined by bob; with `args` for room create. */
  const newRoom = async (args: string[] = []): Promise<string> => {
    const { room, password } = await createRoomWithPassword(user('alice'), args);
    const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
      env: user('bob'),
      input: `${password}\n`,
    });
    expect(joined.code, joined.stderr).to.equal(0);
    return room;
  };

  before(async function () {
    requireMosquitto(this);
    dir = mkdtempSync(join(tmpdir(), 'sunoye-mqtt5-'));
    // Without persistence a restart loses every session and retained message, as a crash
    // before the broker's first save would.
    broker = await startMosquitto(join(dir, 'mosquitto'), {
      edit: (conf) => conf.replace(/^persistence true$/m, 'persistence false'),
    });
  });
  afterEach(() => stopAll(running));
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('never shows a replay left retained before a listener subscribes; --count 1 waits for a live one', async function () {
    const room = await newRoom();
    const capture = await intruder();
    const captured: Buffer[] = [];
    capture.on('message', (_t, p) => captured.push(Buffer.from(p)));
    await capture.subscribeAsync(topic(room), { qos: 1 });
    try {
      const sent = await runProgram('publish', [room, '-m', 'captured'], { env: user('alice') });
      expect(sent.code, sent.stderr).to.equal(0);
      // `publish -m` sends its one line and its end marker as one sealed batch.
      const old = await waitFor('the capture', () => captured[0]);
      await capture.publishAsync(topic(room), old, { qos: 1, retain: true });

      const bob = startProgram('listen', [room, '--json', '--count', '1'], user('bob'));
      running.push(bob);
      await bob.line('the join notice', (l) => l.includes('"event":"join"'));
      const live = await runProgram('publish', [room, '-m', 'live'], { env: user('alice') });
      expect(live.code, live.stderr).to.equal(0);
      expect(await bob.exited).to.equal(0);
      expect(messages(bob).map((m) => m.message)).to.deep.equal(['live']);
      expect(bob.stderr()).to.include(
        `ignored a retained message on ${topic(room)}: retained messages are old, never shown as live`,
      );
    } finally {
      await capture.endAsync();
    }
  });

  it("says the broker lost the listener's session while it was away, and takes no retained message on subscribing again", async function () {
    const room = await newRoom(['--history', '0']);
    const proxy = await startProxy('127.0.0.1', broker.port);
    try {
      const bob = startProgram(
        'listen',
        [room, '--json'],
        user('bob', `mqtt://127.0.0.1:${proxy.port}`),
      );
      running.push(bob);
      await bob.line('the join notice', (l) => l.includes('"event":"join"'));
      const before = await runProgram('publish', [room, '-m', 'before'], { env: user('alice') });
      expect(before.code, before.stderr).to.equal(0);
      await bob.line('before', (l) => l.includes('"before"'));

      // bob is cut off; mosquitto restarts with nothing (his session gone); a broker user
      // leaves a retained message before bob is back.
      await proxy.cut();
      await broker.restart();
      const raw = await intruder();
      try {
        await raw.publishAsync(topic(room), 'left retained while bob was away', {
          qos: 1,
          retain: true,
        });
      } finally {
        await raw.endAsync();
      }
      await proxy.restore();
      await waitFor(
        'bob to say his session was lost',
        () =>
          bob
            .stderr()
            .includes(
              "the broker lost this listener's session while it was away: messages sent meanwhile may be missing",
            ),
        { timeoutMs: 30_000, program: bob },
      );
      const after = await runProgram('publish', [room, '-m', 'after'], { env: user('alice') });
      expect(after.code, after.stderr).to.equal(0);
      await bob.line('after', (l) => l.includes('"after"'));
      expect(messages(bob).map((m) => m.message)).to.deep.equal(['before', 'after']);
      // Subscribing again (retain handling 2), bob was sent no retained message at all: no
      // warning that he dropped one, also among those held back and printed as he ends.
      bob.child.kill('SIGINT');
      expect(await bob.exited).to.equal(0);
      expect(bob.stderr()).to.not.include('retained');
    } finally {
      await proxy.close();
    }
  });
});
