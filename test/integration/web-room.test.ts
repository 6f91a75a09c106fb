// The page's room session (src/web/room.ts) in a real room: terminal programs on one side, the
// page's core on the other (WebCrypto, the shared inbox), over the embedded broker's WebSocket
// listener, as the page's own MQTT.js connects. The browser itself is test/e2e's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mqtt from 'mqtt';
import type { ShownWith } from '../../src/conversation/inbox.js';
import { startBroker, type EmbeddedBroker } from '../../src/mqtt/broker.js';
import { Sender } from '../../src/conversation/sender.js';
import { newSigner, roomCodec, type ChatPayload } from '../../src/protocol/index.js';
import { messageKeyWeb } from '../../src/protocol/web-crypto.js';
import { newWebIdentity, webRoomCodec, webSignerOf } from '../../src/protocol/web-envelope.js';
import { PageRoom, type PageStatus } from '../../src/web/room.js';
import { pageRowOpener } from '../../src/web/history.js';
import { readLines } from '../../src/history/lines.js';
import { openStore, type RoomStore } from '../../src/db/index.js';
import { startProxy } from '../helpers/proxy.js';
import { runProgram } from '../helpers/cli.js';
import {
  createRoomWithPassword,
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { pageSecret } from '../helpers/registries.js';
import { rowsOf } from '../helpers/history.js';
import { waitFor } from '../helpers/wait.js';

interface Seen {
  shown: { payload: ChatPayload; how: ShownWith }[];
  warnings: string[];
  status: PageStatus[];
}

describe('the page in a room with terminal programs (its core, over WebSocket)', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: EmbeddedBroker;
  const running: RunningProgram[] = [];
  const pages: PageRoom[] = [];
  const user = (name: string, home = name): Record<string, string> => ({
    HOME: dir,
    SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
    SUNOYE_BROKER: broker.url,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, home),
  });

  /** The page's key for a room, derived as the page derives it, from the registry's record. */
  async function pageKey(room: string, password: string): Promise<Uint8Array> {
    return messageKeyWeb(pageSecret(join(dir, 'registry.db'), room, password), room);
  }

  /**
   * The page `name` in `room`, through `url` (the broker's WebSocket listener by default); with
   * `store`, the room's history read from it and the page's lines kept there, as `room serve`
   * does for a page (src/http), opened with the page's own codec.
   */
  async function enter(
    room: string,
    key: Uint8Array,
    name: string,
    options: { url?: string; store?: RoomStore } = {},
  ): Promise<PageRoom & Seen> {
    const seen: Seen = { shown: [], warnings: [], status: [] };
    const signer = await webSignerOf(await newWebIdentity());
    const codec = webRoomCodec(key, room, signer);
    const { store } = options;
    const page = await PageRoom.enter({
      connect: (url, options) => mqtt.connect(url, options),
      url: options.url ?? broker.ws!.url,
      room,
      topic: `sunoye/room/${room}`,
      name,
      codec,
      signer,
      history: store && {
        read: (request) =>
          readLines((query) => store.readHistory(room, query), pageRowOpener(codec), request),
        rows: (query) => store.readHistory(room, query),
        open: pageRowOpener(codec),
        keep: (rows) => store.appendHistory(room, rows).then(() => true),
        last: 50,
      },
      handlers: {
        show: (payload, how) => seen.shown.push({ payload, how }),
        warn: (line) => seen.warnings.push(line),
        status: (s) => seen.status.push(s),
      },
    });
    pages.push(page);
    return Object.assign(page, seen);
  }

  const said = (page: Seen): string[] =>
    page.shown.flatMap(({ payload, how }) =>
      payload.type === 'message'
        ? [`${payload.from} (${how.sender.trust}): ${payload.message}`]
        : [],
    );

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-web-room-'));
    broker = await startBroker('127.0.0.1', 0, 0);
  });
  afterEach(async function () {
    for (const page of pages.splice(0)) await page.leave();
    await stopAll(running);
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('chats both ways with `listen` and `publish`: each line once, signed, the page a new key to the terminal', async function () {
    const { room, password } = await createRoomWithPassword(user('alice'));
    const listener = await joinedListener(room, [], user('alice'), running);
    const page = await enter(room, await pageKey(room, password), 'pagey');
    const joined = JSON.parse(
      await listener.line('the page joining', (l) => l.includes('"from":"pagey"')),
    ) as Record<string, unknown>;
    // First seen: a new key, pinned to the name as it is shown; known from then on.
    expect(joined).to.include({ from: 'pagey', event: 'join', trust: 'new' });
    expect(joined.key).to.match(/^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/);
    await page.say('hello from the page').sent;
    const line = JSON.parse(
      await listener.line('the page’s line', (l) => l.includes('hello from the page')),
    ) as Record<string, unknown>;
    expect(line).to.include({ from: 'pagey', trust: 'known', key: joined.key });
    const sent = await runProgram('publish', [room], {
      env: user('alice'),
      input: 'hi page\nsecond\n',
    });
    expect(sent.code, sent.stderr).to.equal(0);
    await waitFor('the terminal’s lines in the page', () => said(page).length >= 3 || undefined);
    await page.settled();
    expect(said(page)).to.deep.equal([
      'pagey (you): hello from the page',
      'alice (new): hi page',
      'alice (known): second',
    ]);
    expect(page.warnings).to.deep.equal([]);
    expect(page.status).to.deep.equal(['connecting', 'online']);
    await page.leave();
    await listener.line('the page leaving', (l) => l.includes('"event":"leave"'));
    const fromPageLines = jsonLines(listener.stdoutLines).filter((l) => l.from === 'pagey');
    expect(fromPageLines.map((l) => l.event ?? l.message)).to.deep.equal([
      'join',
      'hello from the page',
      'leave',
    ]);
  });

  it('shows 2,000 piped lines in order, each once', async function () {
    const { room, password } = await createRoomWithPassword(user('alice'));
    const page = await enter(room, await pageKey(room, password), 'pagey');
    const publisher = startProgram('publish', [room], user('alice'));
    running.push(publisher);
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}`);
    publisher.child.stdin.end(`${lines.join('\n')}\n`);
    expect(await publisher.exited, publisher.stderr()).to.equal(0);
    await waitFor('2,000 lines in the page', () => said(page).length >= 2000 || undefined);
    await page.settled();
    expect(said(page).map((l) => l.slice(l.indexOf(': ') + 2))).to.deep.equal(lines);
    expect(page.warnings).to.deep.equal([]);
  });

  it('flags an impostor: a page under a name the terminal knows, and a terminal under a name the page knows', async function () {
    const { room, password } = await createRoomWithPassword(user('alice'));
    const key = await pageKey(room, password);
    const listener = await joinedListener(room, [], user('alice'), running);
    const page = await enter(room, key, 'pagey');
    await page.say('the real pagey').sent;
    await listener.line('pagey’s line', (l) => l.includes('the real pagey'));
    // Bob's terminal speaks first; then a terminal with another identity calls itself bob.
    for (const home of ['bob', 'mallory']) {
      const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
        env: user('bob', home),
        input: `${password}\n`,
      });
      expect(joined.code, joined.stderr).to.equal(0);
    }
    expect(
      (await runProgram('publish', [room, '-m', 'real bob'], { env: user('bob') })).code,
    ).to.equal(0);
    await waitFor(
      'bob in the page',
      () => said(page).some((l) => l.includes('real bob')) || undefined,
    );
    const fake = await runProgram('publish', [room, '-m', 'fake bob'], {
      env: user('bob', 'mallory'),
    });
    expect(fake.code, fake.stderr).to.equal(0);
    await waitFor(
      'the fake in the page',
      () => said(page).some((l) => l.includes('fake bob')) || undefined,
    );
    expect(said(page).filter((l) => l.includes(' bob'))).to.deep.equal([
      'bob (new): real bob',
      'bob (changed): fake bob',
    ]);
    // A second page, another key, under the name pagey: not the pagey the terminal knows.
    const impostor = await enter(room, key, 'pagey');
    await impostor.say('I am pagey too').sent;
    const flagged = JSON.parse(
      await listener.line('the impostor’s line', (l) => l.includes('I am pagey too')),
    ) as Record<string, unknown>;
    expect(flagged).to.include({ trust: 'changed' });
  });

  it('goes offline when the broker stops, and sends what was typed meanwhile once it is back', async function () {
    const { room, password } = await createRoomWithPassword(user('alice'));
    const key = await pageKey(room, password);
    const page = await enter(room, key, 'pagey');
    const { port } = broker;
    const wsPort = Number(new URL(broker.ws!.url).port);
    await broker.close();
    await waitFor('the page offline', () => page.status.includes('offline') || undefined);
    const typed = page.say('typed while away').sent;
    broker = await startBroker('127.0.0.1', port, wsPort);
    const listener = await joinedListener(room, [], user('alice'), running);
    await waitFor('the page online again', () => page.status.at(-1) === 'online' || undefined, {
      timeoutMs: 20_000,
    });
    await typed;
    const line = JSON.parse(
      await listener.line('the line typed while away', (l) => l.includes('typed while away')),
    ) as Record<string, unknown>;
    expect(line).to.include({ from: 'pagey' });
    expect(page.status.slice(0, 2)).to.deep.equal(['connecting', 'online']);
    // What the room said while the page was away is not delivered: the page says so.
    expect(page.warnings).to.have.length(1);
    expect(page.warnings[0]).to.match(
      /^the connection to the broker was lost for \d+ s: lines sent in the room meanwhile may be missing$/,
    );
  });

  it("opens with the room's history, keeps its own lines there, and after a lost connection shows what was said meanwhile, late", async function () {
    const { room, password } = await createRoomWithPassword(user('alice'));
    const joined = await runProgram('room', ['join', room, '--password-file', '-'], {
      env: user('alice'),
      input: `${password}\n`,
    });
    expect(joined.code, joined.stderr).to.equal(0);
    const sent = await runProgram('publish', [room, '-m', 'before the page'], {
      env: user('alice'),
    });
    expect(sent.code, sent.stderr).to.equal(0);
    const store = await openStore(`sqlite:${join(dir, 'registry.db')}`);
    const proxy = await startProxy('127.0.0.1', Number(new URL(broker.ws!.url).port));
    try {
      const key = await pageKey(room, password);
      const page = await enter(room, key, 'pagey', {
        url: `ws://127.0.0.1:${proxy.port}/mqtt`,
        store,
      });
      await page.settled();
      const first = page.shown.find((s) => s.payload.type === 'message');
      expect(first?.how.history, 'the line said before, from the history').to.equal(true);
      expect(said(page)).to.deep.equal(['alice (new): before the page']);

      // Away: what the room says meanwhile never reaches the page's new session.
      await proxy.cut();
      await waitFor('the page offline', () => page.status.includes('offline') || undefined);
      const during = await runProgram('publish', [room, '-m', 'while the page was away'], {
        env: user('alice'),
      });
      expect(during.code, during.stderr).to.equal(0);
      await proxy.restore();
      const report = await waitFor(
        'the catch-up report',
        () => page.warnings.find((w) => w.includes('found in the room')),
        { timeoutMs: 20_000 },
      );
      expect(report).to.match(
        /^the connection to the broker was lost for \d+ s: 1 line sent meanwhile found in the room's history, shown late$/,
      );
      const late = page.shown.find(
        (s) => s.payload.type === 'message' && s.payload.message === 'while the page was away',
      );
      expect(late?.how.recovered).to.equal(true);

      // The page's own line is in the history for a terminal that comes later.
      await page.say('from the page').sent;
      await page.keptAll();
      const read = await runProgram('listen', [room, '--last', '5', '--json', '--timeout', '1'], {
        env: user('alice'),
      });
      const lines = jsonLines(read.stdout.split('\n'));
      expect(lines.filter((l) => l.message === 'from the page')).to.have.length(1);
      expect(lines.find((l) => l.message === 'from the page')).to.include({
        from: 'pagey',
        history: true,
      });
      await page.leave();
    } finally {
      await proxy.close();
      await store.close();
    }
  });

  it("recovers from the room's history the lines of a stream that never reached it, each shown once, late, as recovered", async function () {
    const { room, password } = await createRoomWithPassword(user('alice'));
    const store = await openStore(`sqlite:${join(dir, 'registry.db')}`);
    const wire = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clean: true });
    try {
      const page = await enter(room, await pageKey(room, password), 'pagey', { store });
      await page.settled();
      // Alice's stream, sealed as her terminal seals it: lines 2 and 3 reach the registry only.
      const signer = newSigner();
      const codec = roomCodec(
        room,
        'encrypted',
        pageSecret(join(dir, 'registry.db'), room, password),
        signer,
      );
      const alice = new Sender('alice');
      const lines = [1, 2, 3, 4, 5].map((n) => alice.message(`line ${n}`));
      const send = (p: ChatPayload) =>
        wire.publishAsync(`sunoye/room/${room}`, codec.encode(p), { qos: 1 });
      const heard = (): string[] =>
        page.shown.flatMap(({ payload, how }) =>
          payload.type === 'message' && payload.from === 'alice'
            ? [`${payload.message} ${how.recovered ? 'recovered' : how.late ? 'late' : 'live'}`]
            : [],
        );
      await send(lines[0]!);
      await waitFor('line 1 in the page', () => heard().length === 1 || undefined);
      await store.appendHistory(room, rowsOf(codec, signer, alice, [lines[1]!, lines[2]!]));
      await send(lines[3]!);
      await waitFor('the missing lines recovered', () => heard().length === 4 || undefined, {
        timeoutMs: 20_000,
      });
      // Arriving on the wire after all, line 3 is not shown again (line 5 comes after it).
      await send(lines[2]!);
      await send(lines[4]!);
      await waitFor('line 5 in the page', () => heard().length >= 5 || undefined);
      await page.settled();
      expect(heard()).to.deep.equal([
        'line 1 live',
        'line 4 live',
        'line 2 recovered',
        'line 3 recovered',
        'line 5 live',
      ]);
      expect(page.warnings).to.deep.equal([]);
      await page.leave();
    } finally {
      await wire.endAsync();
      await store.close();
    }
  });
});
