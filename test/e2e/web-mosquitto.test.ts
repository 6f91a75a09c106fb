// The room page against another broker: `room serve --web --web-broker` serves the page for a
// mosquitto's WebSockets listener, and the page chats there with terminal programs on mosquitto's
// plain MQTT listener, its sockets going to mosquitto and never to room serve's own broker.
import { join } from 'node:path';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { mosquittoFixture, type MosquittoFixture } from '../helpers/brokers.js';
import { launchBrowser } from '../helpers/browser.js';
import { runProgram } from '../helpers/cli.js';
import { enterRoom, messagesIn, pageShows, record, sendLine } from '../helpers/page.js';
import {
  createRoomWithPassword,
  heard,
  joinedListener,
  listenerHears,
  listenerSeesJoin,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { startWebServe, type WebServe } from '../helpers/web.js';

describe("the room page on mosquitto's WebSockets listener", function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let fixture: MosquittoFixture | undefined;
  let web: WebServe;
  let alice: Record<string, string>;
  let room: { room: string; password: string };
  const running: RunningProgram[] = [];

  before(async function () {
    browser = await launchBrowser(this);
    // The page has no broker login (docs/web.md): this mosquitto lets it in anonymously, on the
    // same ACL as its users, while the terminals log in.
    fixture = await mosquittoFixture(this, 'sunoye-web-mosquitto-', {
      websockets: true,
      anonymous: true,
    });
    const { HOME, SUNOYE_DB } = fixture.env;
    alice = { ...fixture.env, SUNOYE_NAME: 'alice', SUNOYE_HOME: join(HOME!, 'home-alice') };
    // The room makes the registry that room serve reads.
    room = await createRoomWithPassword(alice);
    // room serve runs its own broker too (on a free port): the page must not be sent there.
    web = await startWebServe({ HOME: HOME!, SUNOYE_DB: SUNOYE_DB! }, running, [
      '--web-broker',
      fixture.broker.ws!.url,
    ]);
  });
  after(async function () {
    await browser?.close();
    await stopAll(running);
    await fixture?.stop();
  });

  it("carries lines both ways once each through mosquitto's ws:// listener, none through room serve's", async function () {
    const listener = await joinedListener(room.room, [], alice, running);
    const page = await (await browser!.newContext()).newPage();
    const traffic = record(page);
    await enterRoom(page, web.pageUrl, room.room, 'pagey', room.password);
    const fingerprint = (await page.textContent('#fingerprint')) ?? '';
    expect(fingerprint).to.match(/^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/);

    // listen is on mosquitto's TCP listener: it hears the page only if the page is on mosquitto.
    expect(await listenerSeesJoin(listener, 'pagey')).to.include({
      trust: 'new',
      key: fingerprint,
    });
    await sendLine(page, 'hello from the page');
    expect(await listenerHears(listener, 'pagey', 'hello from the page')).to.include({
      trust: 'known',
      key: fingerprint,
    });
    const sent = await runProgram('publish', [room.room, '-m', 'hello from publish'], {
      env: alice,
    });
    expect(sent.code, sent.stderr).to.equal(0);
    await pageShows(page, 'hello from publish');
    // A last line from the page: one doubled before it would have come round by now.
    await sendLine(page, 'last from the page');
    await listenerHears(listener, 'pagey', 'last from the page');
    expect(heard(listener, 'pagey', 'hello from the page')).to.have.length(1);
    expect(await messagesIn(page)).to.deep.equal([
      'hello from the page',
      'hello from publish',
      'last from the page',
    ]);

    // Every socket the page opened went to mosquitto's listener: none to room serve's page port
    // (its /mqtt) or its broker.
    const mosquittoWs = new URL(fixture!.broker.ws!.url).host;
    expect(traffic.sockets.length, 'the page opened a WebSocket').to.be.above(0);
    for (const socket of traffic.sockets)
      expect(new URL(socket).host, socket).to.equal(mosquittoWs);
    // No CSP violation, no error: the page's policy lets it connect to mosquitto.
    expect(traffic.problems).to.deep.equal([]);
    await page.context().close();
  });
});
