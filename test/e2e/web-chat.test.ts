// The room page and the terminal programs in one room, through one `room serve --web`: lines go
// both ways once each, with each sender's key and trust; impostors are flagged on both sides; a
// closed room ends the page; a long pipe arrives whole and in order; what a terminal sends is
// shown as text, never HTML; and neither the password nor the room's keys leave the page, while
// the broker carries only sealed envelopes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { runProgram } from '../helpers/cli.js';
import {
  enterRoom,
  expectNowhere,
  messagesIn,
  pageShows,
  record,
  sendLine,
  stateIs,
  type Dom,
  type Traffic,
} from '../helpers/page.js';
import {
  createRoomWithPassword,
  heard,
  joinedListener,
  jsonLines,
  listenerHears,
  listenerSeesJoin,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { pageSecret } from '../helpers/registries.js';
import { rowsOf } from '../helpers/history.js';
import { waitFor } from '../helpers/wait.js';
import { startWebServe, type WebServe } from '../helpers/web.js';
import { messageKeyWeb } from '../../src/protocol/web-crypto.js';
import { Sender } from '../../src/conversation/sender.js';
import { openStore } from '../../src/db/index.js';
import { newSigner, roomCodec, type ChatPayload } from '../../src/protocol/index.js';

describe('the room page and terminals in one room', function () {
  this.timeout(60_000);
  let dir: string;
  let registry: string;
  let browser: Browser;
  let web: WebServe;
  const running: RunningProgram[] = [];
  const pages: Page[] = [];

  /** A terminal user's environment: their own home (`home`, by default their name). */
  const user = (name: string, home = name): Record<string, string> => ({
    HOME: dir,
    SUNOYE_DB: `sqlite:${registry}`,
    SUNOYE_BROKER: web.mqttUrl,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, `home-${home}`),
  });

  /** A page of its own browser context (its own IndexedDB identity), recorded, in `room`. */
  async function pageIn(
    room: { room: string; password: string },
    name: string,
  ): Promise<{ page: Page; traffic: Traffic; fingerprint: string }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    pages.push(page);
    const traffic = record(page);
    await enterRoom(page, web.pageUrl, room.room, name, room.password);
    const fingerprint = (await page.textContent('#fingerprint')) ?? '';
    expect(fingerprint).to.match(/^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/);
    return { page, traffic, fingerprint };
  }

  /** Has `name` (a terminal user of home `home`) join `room` with its password. */
  async function joinAs(room: { room: string; password: string }, name: string, home = name) {
    const joined = await runProgram('room', ['join', room.room, '--password-file', '-'], {
      env: user(name, home),
      input: `${room.password}\n`,
    });
    expect(joined.code, joined.stderr).to.equal(0);
  }

  /** `publish ROOM -m TEXT` as `env`'s user. */
  async function publish(room: string, text: string, env: Record<string, string>) {
    const sent = await runProgram('publish', [room, '-m', text], { env });
    expect(sent.code, sent.stderr).to.equal(0);
  }

  before(async function () {
    browser = await launchBrowser(this);
    dir = mkdtempSync(join(tmpdir(), 'sunoye-web-chat-'));
    registry = join(dir, 'registry.db');
    const server = { HOME: dir, SUNOYE_DB: `sqlite:${registry}`, SUNOYE_NAME: 'server' };
    // A first room makes the registry that room serve reads.
    await createRoomWithPassword({ ...server, SUNOYE_BROKER: 'mqtt://127.0.0.1:1' });
    web = await startWebServe(server, running);
  });
  afterEach(async function () {
    for (const page of pages.splice(0)) await page.context().close();
    // The server stays for the next test; the programs of this one end.
    const server = running.shift()!;
    await stopAll(running);
    running.push(server);
  });
  after(async function () {
    await browser?.close();
    await stopAll(running);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("carries lines both ways once each: the page's with its key, publish's in order", async function () {
    const room = await createRoomWithPassword(user('alice'));
    const listener = await joinedListener(room.room, [], user('alice'), running);
    const { page, traffic, fingerprint } = await pageIn(room, 'pagey');

    // The page is first seen by its join notice, then known by its key.
    expect(await listenerSeesJoin(listener, 'pagey')).to.include({
      trust: 'new',
      key: fingerprint,
    });
    await sendLine(page, 'hello from the page');
    await sendLine(page, 'second from the page');
    for (const text of ['hello from the page', 'second from the page'])
      expect(await listenerHears(listener, 'pagey', text)).to.include({
        trust: 'known',
        key: fingerprint,
      });
    // The page shows its own lines as its own, once they came round.
    expect(await pageShows(page, 'second from the page')).to.match(/pagey \(you\): second/);

    for (const text of ['one from publish', 'two from publish', 'three from publish'])
      await publish(room.room, text, user('alice'));
    await pageShows(page, 'three from publish');
    // A last line from each side: anything doubled before it would show by now.
    await sendLine(page, 'last from the page');
    await listenerHears(listener, 'pagey', 'last from the page');
    await publish(room.room, 'last from publish', user('alice'));
    await pageShows(page, 'last from publish');
    expect(heard(listener, 'pagey', 'hello from the page')).to.have.length(1);
    expect(heard(listener, 'pagey', 'second from the page')).to.have.length(1);
    expect(await messagesIn(page)).to.deep.equal([
      'hello from the page',
      'second from the page',
      'one from publish',
      'two from publish',
      'three from publish',
      'last from the page',
      'last from publish',
    ]);
    expect(await page.$$('#log li.pending'), 'nothing left pending').to.deep.equal([]);
    expect(traffic.problems).to.deep.equal([]);
  });

  it('flags a second page under the same name in the terminal, and a terminal impostor in the page', async function () {
    const room = await createRoomWithPassword(user('alice'));
    const listener = await joinedListener(room.room, [], user('alice'), running);
    const real = await pageIn(room, 'pagey');
    expect(await listenerSeesJoin(listener, 'pagey')).to.include({
      trust: 'new',
      key: real.fingerprint,
    });
    await sendLine(real.page, 'the real pagey');
    expect(await listenerHears(listener, 'pagey', 'the real pagey')).to.include({
      trust: 'known',
      key: real.fingerprint,
    });
    const other = await pageIn(room, 'pagey');
    expect(other.fingerprint, 'another browser, another key').to.not.equal(real.fingerprint);
    await sendLine(other.page, 'also pagey');
    expect(await listenerHears(listener, 'pagey', 'also pagey')).to.include({
      trust: 'changed',
      key: other.fingerprint,
    });

    await joinAs(room, 'bob');
    await publish(room.room, 'the real bob', user('bob'));
    expect(await pageShows(real.page, 'the real bob')).to.match(
      /bob( \[key [0-9a-f-]{19}, first seen\])?: the real bob$/,
    );
    await joinAs(room, 'bob', 'bob-impostor');
    await publish(room.room, 'bob here, honest', user('bob', 'bob-impostor'));
    const impostor = await listenerHears(listener, 'bob', 'bob here, honest');
    expect(impostor.trust, 'the terminal flags it too').to.equal('changed');
    expect(await pageShows(real.page, 'bob here, honest')).to.include(
      `key ${String(impostor.key)} (NOT the bob you know): bob here, honest`,
    );
    expect(await pageShows(real.page, 'the real bob')).to.not.include('NOT the');
    expect(real.traffic.problems).to.deep.equal([]);
  });

  it("ends the page (each tab, one key between them) when the room's creator closes the room", async function () {
    const room = await createRoomWithPassword(user('alice'));
    const { page, traffic, fingerprint } = await pageIn(room, 'pagey');
    // Another tab of the same browser: the identity kept in IndexedDB, the same key.
    const tab = await page.context().newPage();
    await enterRoom(tab, web.pageUrl, room.room, 'pagey', room.password);
    expect(await tab.textContent('#fingerprint')).to.equal(fingerprint);
    const closed = await runProgram('room', ['close', room.room], { env: user('alice') });
    expect(closed.code, closed.stderr).to.equal(0);
    for (const each of [page, tab]) {
      await stateIs(each, 'closed');
      expect(await each.isDisabled('#line')).to.equal(true);
    }
    expect(await page.textContent('#log')).to.include(`Room ${room.room} was closed`);
    // Chromium logs the 404 of the record, which is how the page learns the room is closed.
    expect(traffic.problems).to.deep.equal([
      'console: Failed to load resource: the server responded with a status of 404 (Not Found)',
    ]);
  });

  it('shows 2,000 lines piped into publish in order, each once', async function () {
    const room = await createRoomWithPassword(user('alice'));
    const { page, traffic } = await pageIn(room, 'pagey');
    const before = Number(await page.getAttribute('#log', 'data-lines'));
    const lines = Array.from({ length: 2000 }, (_, i) => `piped line ${i + 1}`);
    const sent = await runProgram('publish', [room.room], {
      env: user('alice'),
      input: `${lines.join('\n')}\n`,
      timeoutMs: 50_000,
    });
    expect(sent.code, sent.stderr).to.equal(0);
    await page.waitForFunction(
      (count) =>
        Number((globalThis as unknown as Dom).document.getElementById('log')?.dataset.lines) >=
        count,
      before + lines.length,
      { timeout: 50_000 },
    );
    // One line more from publish: a line doubled or late in the pipe would be in before it.
    await publish(room.room, 'after the pipe', user('alice'));
    await pageShows(page, 'after the pipe');
    expect(await messagesIn(page)).to.deep.equal([...lines, 'after the pipe']);
    expect(traffic.problems).to.deep.equal([]);
  });

  it('sends neither the password nor the keys through a whole chat; the broker carries only sealed envelopes', async function () {
    const room = await createRoomWithPassword(user('alice'));
    const secret = pageSecret(registry, room.room, room.password);
    const messageKey = await messageKeyWeb(secret, room.room);
    const raw = await mqtt.connectAsync(web.mqttUrl, { reconnectPeriod: 0 });
    const seen: Buffer[] = [];
    raw.on('message', (_topic, payload) => seen.push(Buffer.from(payload)));
    await raw.subscribeAsync(`sunoye/room/${room.room}`, { qos: 1 });
    try {
      const listener = await joinedListener(room.room, [], user('alice'), running);
      const { page, traffic } = await pageIn(room, 'pagey');
      const said = ['page says plaintext-alpha', '/me waves plaintext-beta'];
      const published = ['terminal says plaintext-gamma'];
      for (const text of said) await sendLine(page, text);
      await listenerHears(listener, 'pagey', said[1]!);
      await publish(room.room, published[0]!, user('alice'));
      await pageShows(page, published[0]!);
      await sendLine(page, '/quit');
      await stateIs(page, 'left');
      await listener.line('the page leaving', (l) => l.includes('"event":"leave"'));

      expect(traffic.frames.length, 'the page sent frames').to.be.above(3);
      expectNowhere(traffic, {
        password: room.password,
        'room secret': secret,
        'message key': messageKey,
      });
      expect(seen.length, 'the raw subscriber saw the chat').to.be.at.least(said.length + 2);
      for (const payload of seen) {
        const text = payload.toString('utf8');
        expect(text.startsWith('{"sunoye":'), text.slice(0, 80)).to.equal(true);
        for (const plain of ['plaintext-', 'pagey', 'waves'])
          expect(text, 'plaintext on the broker').to.not.include(plain);
      }
      expect(traffic.problems).to.deep.equal([]);
    } finally {
      await raw.endAsync();
    }
  });

  it("shows a terminal's HTML and script as the text typed, making no element of it", async function () {
    const room = await createRoomWithPassword(user('alice'));
    const { page, traffic } = await pageIn(room, 'pagey');
    const hostile = [
      `<img src=x onerror="alert('img');document.title='pwned'">`,
      `<script>alert('script');document.title='pwned'</script>`,
      `<b onmouseover=alert(1)>bold</b> & &amp; <a href="javascript:alert(2)">link</a>`,
    ];
    for (const text of hostile) await publish(room.room, text, user('alice'));
    await page
      .locator('#log li.message')
      .nth(hostile.length - 1)
      .waitFor();
    expect(await messagesIn(page)).to.deep.equal(hostile);
    // Only the page's own spans: nothing made of what was sent.
    const made = await page.$$eval('#log li *', (els: { tagName: string }[]) =>
      [...new Set(els.map((el) => el.tagName.toLowerCase()))].sort(),
    );
    expect(made).to.deep.equal(['span']);
    expect(await page.locator('#log li.message').last().isVisible()).to.equal(true);
    expect(await page.title()).to.equal('sunoye room');
    expect(traffic.problems, 'no dialog, no error').to.deep.equal([]);
  });

  it('sends /me from the page as an action that listen prints as one', async function () {
    const room = await createRoomWithPassword(user('alice'));
    const listener = await joinedListener(room.room, [], user('alice'), running);
    const { page, traffic } = await pageIn(room, 'pagey');
    await sendLine(page, '/me waves');
    expect(await listenerHears(listener, 'pagey', '/me waves')).to.include({ action: true });
    expect(await pageShows(page, 'waves')).to.match(/\* pagey \(you\) waves$/);
    expect(traffic.problems).to.deep.equal([]);
  });

  it("lists the room's members on /who by the keys that signed them, a forged row as unverified", async function () {
    const room = await createRoomWithPassword(user('alice'));
    const listener = await joinedListener(room.room, [], user('alice'), running);
    const { page } = await pageIn(room, 'pagey');
    await listenerSeesJoin(listener, 'pagey');
    await waitFor('the page registered', async () => {
      const info = await runProgram('room', ['info', room.room, '--json'], { env: user('alice') });
      return (JSON.parse(info.stdout) as { names: string[] }).names.includes('pagey') || undefined;
    });
    // A row written into the registry behind everyone's back: a member nobody signed for.
    const db = new Database(registry);
    try {
      const now = Date.now();
      db.prepare(
        'INSERT INTO members (id, room, name, joined_at, heartbeat_at, lease_ms, public_key, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(
        'f'.repeat(32),
        room.room,
        'mallory',
        now,
        now,
        600_000,
        Buffer.alloc(32, 7),
        Buffer.alloc(64, 1),
      );
    } finally {
      db.close();
    }
    await sendLine(page, '/who');
    const lines = await page.waitForFunction(
      () => {
        const items = [...(globalThis as unknown as Dom).document.querySelectorAll('#log li')].map(
          (li) => li.textContent ?? '',
        );
        const at = items.findIndex((l) => /^in room \d{6} \(3\):$/.test(l));
        return at >= 0 && items.length >= at + 4 ? items.slice(at, at + 4) : undefined;
      },
      undefined,
      { timeout: 20_000 },
    );
    const shown = ((await lines.jsonValue()) as string[])
      .slice(1)
      .map((l) => l.replace(/^ *joined \d\d:\d\d +/, ''))
      .sort();
    // The page opened with the room's history, where alice's join is: her key is known to it.
    expect(shown).to.deep.equal(['alice', 'mallory [unverified]', 'pagey (you)']);
  });

  it("opens with the room's last lines, marked earlier, then live; keeps its own for the terminals' history", async function () {
    const room = await createRoomWithPassword(user('alice'));
    await joinAs(room, 'alice');
    for (const text of ['said before', 'said before too', 'tampered with'])
      await publish(room.room, text, user('alice'));
    // One row changed behind everyone's back: it does not open, and the page says so.
    const db = new Database(registry);
    try {
      const row = db
        .prepare(
          'SELECT rowid, payload FROM room_history WHERE room = ? ORDER BY sent_at DESC, rowid DESC LIMIT 1',
        )
        .get(room.room) as { rowid: number; payload: Buffer };
      row.payload[row.payload.length - 10]! ^= 1;
      db.prepare('UPDATE room_history SET payload = ? WHERE rowid = ?').run(row.payload, row.rowid);
    } finally {
      db.close();
    }
    const { page } = await pageIn(room, 'pagey');
    const divider = await page.waitForFunction(
      () =>
        [...(globalThis as unknown as Dom).document.querySelectorAll('#log li')]
          .map((li) => li.textContent ?? '')
          .find((line) => line.includes('earlier messages above')),
      undefined,
      { timeout: 20_000 },
    );
    expect(await divider.jsonValue()).to.equal('── earlier messages above ──');
    await publish(room.room, 'said live', user('alice'));
    await pageShows(page, 'said live');
    const log = await page.$$eval('#log li', (items: { textContent: string | null }[]) =>
      items.map((item) => item.textContent ?? ''),
    );
    const at = (text: string) => log.findIndex((line) => line.endsWith(`: ${text}`));
    const dividerAt = log.indexOf('── earlier messages above ──');
    // In order, above the divider and marked as earlier; the live line below it, unmarked.
    expect(at('said before')).to.be.within(0, at('said before too'));
    expect(at('said before too')).to.be.lessThan(dividerAt);
    expect(log[at('said before too')]).to.include('(earlier)');
    expect(at('said live')).to.be.greaterThan(dividerAt);
    expect(log[at('said live')]).to.not.include('(earlier)');
    expect(at('tampered with'), log.join('\n')).to.equal(-1);
    expect(log).to.include.members([
      'ignored 1 history row that did not open: altered in the registry',
    ]);

    // What the page says is kept in the history: a terminal that comes later reads it.
    await sendLine(page, 'said in the page');
    await pageShows(page, 'said in the page');
    await joinAs(room, 'bob');
    const later = await waitFor(
      "the page's line in the history",
      async () => {
        const read = await runProgram(
          'listen',
          [room.room, '--last', '10', '--json', '--timeout', '1'],
          { env: user('bob') },
        );
        const lines = jsonLines(read.stdout.split('\n'));
        return lines.some((l) => l.from === 'pagey' && l.message === 'said in the page')
          ? lines
          : undefined;
      },
      { timeoutMs: 20_000 },
    );
    const own = later.find((l) => l.from === 'pagey' && l.message === 'said in the page')!;
    expect(own).to.include({ history: true });
    expect(later.filter((l) => l.message === 'said in the page')).to.have.length(1);
  });

  it("recovers through room serve the lines a stream skipped, from the room's history, each once and marked recovered", async function () {
    const room = await createRoomWithPassword(user('alice'));
    const { page } = await pageIn(room, 'pagey');
    // Alice's stream, sealed as her terminal seals it: lines 2 and 3 reach the registry only.
    const signer = newSigner();
    const codec = roomCodec(
      room.room,
      'encrypted',
      pageSecret(registry, room.room, room.password),
      signer,
    );
    const alice = new Sender('alice');
    const lines = [1, 2, 3, 4].map((n) => alice.message(`line ${n}`));
    const wire = await mqtt.connectAsync(web.mqttUrl, { protocolVersion: 4, clean: true });
    const store = await openStore(`sqlite:${registry}`);
    try {
      const send = (p: ChatPayload) =>
        wire.publishAsync(`sunoye/room/${room.room}`, codec.encode(p), { qos: 1 });
      await send(lines[0]!);
      await pageShows(page, 'line 1');
      await store.appendHistory(room.room, rowsOf(codec, signer, alice, [lines[1]!, lines[2]!]));
      await send(lines[3]!);
      await pageShows(page, 'line 3 (late) (recovered)');
    } finally {
      await wire.endAsync();
      await store.close();
    }
    const log = await page.$$eval('#log li', (items: { textContent: string | null }[]) =>
      items.map((item) => item.textContent ?? ''),
    );
    const said = log.filter((line) => /: line \d/.test(line));
    expect(said.map((line) => line.slice(line.indexOf(': ') + 2))).to.deep.equal([
      'line 1',
      'line 4',
      'line 2 (late) (recovered)',
      'line 3 (late) (recovered)',
    ]);
    expect(log.filter((line) => line.includes('did not arrive'))).to.deep.equal([]);
  });
});
