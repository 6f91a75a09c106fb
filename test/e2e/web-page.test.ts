// The room page of `room serve --web` in a headless Chromium: it loads under its CSP with
// WebCrypto, takes the room number from the URL's fragment, refuses a wrong password having sent
// nothing to the room, and with the right one joins the room's topic over MQTT-over-WebSocket.
// Every request and WebSocket frame the page makes is recorded: the password and the room secret
// derived from it are in none of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { runProgram } from '../helpers/cli.js';
import { enterRoom, expectNowhere, record, stateIs } from '../helpers/page.js';
import { createRoomWithPassword, stopAll, type RunningProgram } from '../helpers/programs.js';
import { pageSecret } from '../helpers/registries.js';
import { waitFor } from '../helpers/wait.js';
import { startWebServe, type WebServe } from '../helpers/web.js';
import type { KdfParams } from '../../src/protocol/kdf.js';

describe('the room page in a browser', function () {
  this.timeout(60_000);
  let dir: string;
  let registry: string;
  let env: Record<string, string>;
  let browser: Browser;
  let room: { room: string; password: string };
  let web: WebServe;
  const running: RunningProgram[] = [];

  before(async function () {
    browser = await launchBrowser(this);
    dir = mkdtempSync(join(tmpdir(), 'sunoye-page-'));
    registry = join(dir, 'registry.db');
    env = {
      HOME: dir,
      SUNOYE_DB: `sqlite:${registry}`,
      SUNOYE_BROKER: 'mqtt://127.0.0.1:1',
      SUNOYE_NAME: 'alice',
    };
    room = await createRoomWithPassword(env);
    web = await startWebServe(env, running);
  });
  after(async function () {
    await browser?.close();
    await stopAll(running);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The room's secret for `password`, as the page derives it. */
  const secretFor = (password: string): Uint8Array => pageSecret(registry, room.room, password);

  it('loads under its CSP with WebCrypto, and #room fills in the number, never the password', async function () {
    const page = await browser.newPage();
    const traffic = record(page);
    try {
      await page.goto(`${web.pageUrl}#${room.room}`);
      await stateIs(page, 'ready');
      expect(await page.evaluate(() => typeof globalThis.crypto?.subtle?.deriveBits)).to.equal(
        'function',
      );
      expect(await page.inputValue('#room')).to.equal(room.room);
      expect(await page.inputValue('#password')).to.equal('');
      expect(await page.textContent('#status')).to.equal('');
      // Styled: the stylesheet loaded (CSP style-src 'self').
      expect(await page.evaluate('getComputedStyle(document.forms[0]).display')).to.equal('grid');
      await page.goto('about:blank');
      await page.goto(`${web.pageUrl}#not-a-room`);
      await stateIs(page, 'ready');
      expect(await page.inputValue('#room')).to.equal('');
      expect(traffic.problems).to.deep.equal([]);
      expect(traffic.sockets).to.deep.equal([]);
    } finally {
      await page.close();
    }
  });

  it('refuses a wrong password having sent nothing to the room, and neither it nor its key to anyone', async function () {
    const page = await browser.newPage();
    const traffic = record(page);
    const wrong = `${room.password}-not`;
    try {
      await page.goto(`${web.pageUrl}#${room.room}`);
      await stateIs(page, 'ready');
      await page.fill('#name', 'pagey');
      await page.fill('#password', wrong);
      await page.click('#enter');
      await stateIs(page, 'refused');
      expect(await page.textContent('#status')).to.match(/^Wrong password: nothing was sent/);
      expect(await page.inputValue('#password'), 'cleared once derived').to.equal('');
      expect(traffic.sockets, 'no WebSocket opened').to.deep.equal([]);
      expect(traffic.frames).to.deep.equal([]);
      const api = traffic.requests.map((r) => r.split('\n')[0]!).filter((r) => r.includes('/api/'));
      expect(api).to.deep.equal([
        `GET ${web.pageUrl}api/rooms/${room.room}`,
        `POST ${web.pageUrl}api/rooms/${room.room}/check`,
      ]);
      expectNowhere(traffic, { password: wrong, 'derived key': secretFor(wrong) });
      // Chromium logs every answer of 400 or more, the refusal too.
      expect(traffic.problems).to.deep.equal([
        'console: Failed to load resource: the server responded with a status of 403 (Forbidden)',
      ]);
    } finally {
      await page.close();
    }
  });

  it('refuses a record whose key derivation is out of bounds before deriving or sending anything', async function () {
    const page = await browser.newPage();
    const traffic = record(page);
    try {
      // A server (or a registry) that asks for 2^22 x 8 x 128 bytes = 4 GiB of scrypt.
      await page.route(`${web.pageUrl}api/rooms/*`, async (route) => {
        const response = await route.fetch();
        const json = (await response.json()) as { kdf: KdfParams };
        await route.fulfill({ response, json: { ...json, kdf: { ...json.kdf, N: 2 ** 22 } } });
      });
      const workers: string[] = [];
      page.on('worker', (worker) => workers.push(worker.url()));
      await page.goto(`${web.pageUrl}#${room.room}`);
      await stateIs(page, 'ready');
      await page.fill('#name', 'pagey');
      await page.fill('#password', room.password);
      await page.click('#enter');
      await stateIs(page, 'error');
      expect(await page.textContent('#status')).to.match(
        /invalid key-derivation parameters: too costly \(scrypt N=4194304/,
      );
      expect(workers, 'no derivation started').to.deep.equal([]);
      const sent = traffic.requests
        .map((r) => r.split('\n')[0]!)
        .filter((r) => r.includes('/api/'));
      expect(sent).to.deep.equal([`GET ${web.pageUrl}api/rooms/${room.room}`]);
      expect(traffic.sockets).to.deep.equal([]);
      expect(traffic.problems).to.deep.equal([]);
    } finally {
      await page.close();
    }
  });

  it("shows the server's words as text, never as HTML", async function () {
    const page = await browser.newPage();
    const traffic = record(page);
    const hostile = '<img src="/x" onerror="document.title=\'pwned\'"><b>no such room</b>';
    try {
      await page.route(`${web.pageUrl}api/rooms/*`, (route) =>
        route.fulfill({ status: 404, json: { error: hostile } }),
      );
      await page.goto(`${web.pageUrl}#${room.room}`);
      await stateIs(page, 'ready');
      await page.fill('#name', 'pagey');
      await page.fill('#password', room.password);
      await page.click('#enter');
      await stateIs(page, 'error');
      expect(await page.textContent('#status')).to.equal(hostile);
      expect(await page.$$('#status *'), 'no element made of it').to.deep.equal([]);
      expect(await page.title()).to.equal('sunoye room');
      expect(traffic.problems).to.deep.equal([
        'console: Failed to load resource: the server responded with a status of 404 (Not Found)',
      ]);
    } finally {
      await page.close();
    }
  });

  it("joins with the right password: subscribed to the room's topic, the password and key sent nowhere", async function () {
    const page = await browser.newPage();
    const traffic = record(page);
    try {
      await enterRoom(page, web.pageUrl, room.room, 'pagey', room.password);
      expect(await page.textContent('#status')).to.equal(`Joined room ${room.room}.`);
      expect(traffic.sockets).to.deep.equal([`${web.wsUrl}/mqtt`]);
      // An MQTT SUBSCRIBE to the room's topic at QoS 1 (0x82, remaining length, packet id, topic
      // length, topic, QoS), and the broker's SUBACK of that packet id granting QoS 1. The
      // frames are read as one stream: a packet may come in several frames.
      const topic = Buffer.from(`sunoye/room/${room.room}`);
      // The topic is also the will's, in the CONNECT: the SUBSCRIBE is the frame of type 0x82.
      const sent = traffic.frames.find((f) => f[0] === 0x82 && f.includes(topic));
      expect(sent, 'a SUBSCRIBE to the room').to.not.equal(undefined);
      const at = sent!.indexOf(topic);
      expect([sent![at + topic.length]], 'SUBSCRIBE at QoS 1').to.deep.equal([1]);
      const id = sent!.subarray(at - 4, at - 2);
      const got = Buffer.concat(traffic.received);
      const suback = Buffer.concat([Buffer.from([0x90, 0x03]), id, Buffer.from([1])]);
      expect(got.includes(suback), 'the SUBACK granting QoS 1').to.equal(true);
      expectNowhere(traffic, { password: room.password, 'room secret': secretFor(room.password) });
      expect(traffic.problems).to.deep.equal([]);
      // A member of the room, under the page's own key: `room info` lists it as it lists a
      // terminal's listener, and no longer once the page has left.
      const key = await page.textContent('#fingerprint');
      expect(key).to.match(/^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/);
      const memberships = async (): Promise<Record<string, unknown>[]> => {
        const info = await runProgram('room', ['info', room.room, '--json'], { env });
        return (JSON.parse(info.stdout) as { memberships: Record<string, unknown>[] }).memberships;
      };
      const listed = await waitFor('the page among the members', async () =>
        (await memberships()).find((m) => m.name === 'pagey'),
      );
      expect(listed).to.include({ key, trust: 'new' });
      await page.fill('#line', '/quit');
      await page.press('#line', 'Enter');
      await stateIs(page, 'left');
      await waitFor('the page gone from the members', async () =>
        (await memberships()).some((m) => m.name === 'pagey') ? undefined : true,
      );
    } finally {
      await page.close();
    }
  });

  it('shows itself offline while the broker is away, and joins again by itself when it comes back', async function () {
    const page = await browser.newPage();
    const traffic = record(page);
    try {
      await enterRoom(page, web.pageUrl, room.room, 'pagey', room.password);
      const { port } = new URL(web.pageUrl);
      web.program.child.kill('SIGINT');
      expect(await web.program.exited).to.equal(0);
      await page.waitForSelector('#connection[data-state="offline"]');
      web = await startWebServe(env, running, ['--ws-port', port]);
      await page.waitForSelector('#connection[data-state="online"]');
      expect(await page.getAttribute('body', 'data-state')).to.equal('joined');
      const topic = Buffer.from(`sunoye/room/${room.room}`);
      expect(traffic.sockets.length, 'a second connection').to.be.at.least(2);
      await waitFor(
        'a second SUBSCRIBE to the room',
        () => traffic.frames.filter((f) => f[0] === 0x82 && f.includes(topic)).length >= 2,
      );
    } finally {
      await page.close();
    }
  });
});
