// Room passwords end to end, with the programs as built and a SQLite registry in real files:
// passwords from cracking lists are refused by `room create`, and a generated password is the
// same typed in capitals wherever a password is taken.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { openStore } from '../../src/db/index.js';
import { deriveRoomSecret, newKdfParams, verifier } from '../../src/protocol/index.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram, type Run } from '../helpers/cli.js';

const REFUSAL =
  /^room: that password is too weak: about 10\^\d+ guesses would find it, and a room password needs 10\^10 \((.+)\); leave out --password to get a generated one, or use a passphrase of four or more words\n$/;

describe('room passwords', function () {
  this.timeout(120_000);
  let dir: string;
  let broker: TestBroker;
  let env: Record<string, string>;
  /** Runs `room` as the user with home `who`, the password (if any) in the environment. */
  const room = (who: string, args: string[], password?: string): Promise<Run> =>
    runProgram('room', args, {
      env: {
        ...env,
        SUNOYE_HOME: join(dir, who),
        ...(password === undefined ? {} : { SUNOYE_PASSWORD: password }),
      },
    });

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-passwords-'));
    broker = await startAedes(); // `room close` tells listeners over it
    env = { HOME: dir, SUNOYE_BROKER: broker.url, SUNOYE_DB: `sqlite:${join(dir, 'rooms.db')}` };
  });

  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses passwords from cracking lists, and their variants, with a reason', async function () {
    const refused: [string, RegExp][] = [
      // xkcd 936's examples, as written and varied.
      ['Tr0ub4dor&3', /well-known phrase or password/],
      ['TROUB4DOR&3', /well-known phrase or password/],
      ['Tr0ub4dor&3x', /well-known phrase or password/],
      ['correct horse battery staple', /well-known phrase or password/],
      ['Correct-Horse-Battery-Staple', /well-known phrase or password/],
      ['c0rr3ct h0rs3 b4tt3ry st4pl3', /well-known phrase or password/],
      // A keyboard walk typed with Shift held, and with spaces.
      ['!QAZ@WSX#EDC$RFV', /commonly used password.*holding Shift/],
      ['!QAZ @WSX #EDC $RFV', /commonly used password.*holding Shift/],
      // A film line and a pangram, capitalised, with separators, in l33t.
      ['maytheforcebewithyou', /well-known phrase or password/],
      ['May the Force be with you!', /well-known phrase or password/],
      ['M4yTh3F0rc3B3W1thY0u', /well-known phrase or password.*predictable letter substitutions/],
      ['thequickbrownfoxjumpsoverthelazydog', /well-known phrase or password/],
      ['The_Quick_Brown_Fox_Jumps_Over_The_Lazy_Dog', /well-known phrase or password/],
    ];
    for (const [password, reason] of refused) {
      const run = await room('alice', ['create'], password);
      expect(run.code, `${password}: ${run.stderr}`).to.equal(2);
      expect(run.stderr, password).to.match(REFUSAL);
      expect(REFUSAL.exec(run.stderr)![1], password).to.match(reason);
      expect(run.stdout).to.equal('');
    }
  });

  it('still takes a strong passphrase and a password of the generated form', async function () {
    for (const password of ['Zebra-Quill-Harbor-9182', 'violet anchor mango tulip 8842']) {
      const run = await room('alice', ['create', '--json'], password);
      expect(run.code, `${password}: ${run.stderr}`).to.equal(0);
      // Joined with the password from another machine's home.
      const { room: number } = JSON.parse(run.stdout) as { room: string };
      expect((await room('bob', ['join', number], password)).code).to.equal(0);
    }
    const generated = JSON.parse((await room('alice', ['create', '--json'])).stdout) as {
      room: string;
      password: string;
    };
    const again = await room('alice', ['create', '--json'], generated.password);
    expect(again.code, again.stderr).to.equal(0);
  });

  it('takes a generated password typed in capitals, to join and to close', async function () {
    const created = await room('alice', ['create', '--json']);
    expect(created.code, created.stderr).to.equal(0);
    const { room: number, password } = JSON.parse(created.stdout) as {
      room: string;
      password: string;
    };
    const upper = password.toUpperCase();
    const mixed = [...password].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
    const joined = await room('bob', ['join', number, '--json'], upper);
    expect(joined.code, joined.stderr).to.equal(0);
    // A near miss in capitals is still a wrong password.
    const wrong = await room(
      'carol',
      ['join', number],
      upper.replace(/.$/, (c) => (c === 'Z' ? 'Y' : 'Z')),
    );
    expect(wrong.code).to.equal(3);
    expect(wrong.stderr).to.equal(
      `room: wrong password for room ${number}: from SUNOYE_PASSWORD; check it with whoever shared the room (it was tried as given and in lower case)\n`,
    );
    const closed = await room('carol', ['close', number], mixed);
    expect(closed.code, closed.stderr).to.equal(0);
    expect(closed.stderr).to.equal(`Closed room ${number}.\n`);
  });

  it('opens a room whose chosen password had the generated form in capitals, as typed then', async function () {
    // Made as a sunoye that took such a password as given made it: the verifier of the capitals.
    const chosen = 'K7MP-X3QA-9TZE-WH2C';
    const kdf = newKdfParams();
    const secret = await deriveRoomSecret(chosen, kdf);
    const store = await openStore(env.SUNOYE_DB!);
    let number: string;
    try {
      ({ number } = await store.createRoom({
        creator: 'alice',
        mode: 'encrypted',
        idleSeconds: 600,
        kdf,
        verifier: (n) => verifier(secret, n, 'encrypted'),
      }));
    } finally {
      await store.close();
    }
    const joined = await room('dave', ['join', number], chosen);
    expect(joined.code, joined.stderr).to.equal(0);
    // Its password is the capitals: the lower case is another password.
    expect((await room('erin', ['join', number], chosen.toLowerCase())).code).to.equal(3);
  });
});
