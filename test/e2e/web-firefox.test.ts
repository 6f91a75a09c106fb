// The room page's core join-and-chat in Debian's Firefox ESR, driven by puppeteer-core over
// WebDriver BiDi (playwright cannot drive a stock Firefox): the page joins, a terminal `listen`
// sees its join and a typed line with the page's key, and a line piped to `publish` shows in the
// page once. Without /usr/bin/firefox-esr the suite is skipped loudly, or fails when
// SUNOYE_REQUIRE_FIREFOX=1 (CI).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { runProgram } from '../helpers/cli.js';
import {
  createRoomWithPassword,
  joinedListener,
  jsonLines,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';
import { startWebServe, type WebServe } from '../helpers/web.js';

/** Where Debian's firefox-esr package puts the browser. */
const FIREFOX = process.env.SUNOYE_TEST_FIREFOX ?? '/usr/bin/firefox-esr';

/** An element as the functions run in the page read it (no DOM types here). */
interface Text {
  textContent: string | null;
}

/** The text of each message line of the page's log. */
const logLines = (page: Page): Promise<string[]> =>
  page.$$eval('#log li.message', (items: Text[]) => items.map((item) => item.textContent ?? ''));

/** Waits until a message line of the page's log ends with `text`; returns that line. */
const pageShows = (page: Page, text: string): Promise<string> =>
  waitFor(`the page to show ${text}`, async () =>
    (await logLines(page)).find((line) => line.endsWith(`: ${text}`)),
  );

describe('the room page in Firefox ESR', function () {
  this.timeout(90_000);
  let dir: string;
  let browser: Browser | undefined;
  let web: WebServe;
  const running: RunningProgram[] = [];

  before(async function () {
    if (!existsSync(FIREFOX)) {
      if (process.env.SUNOYE_REQUIRE_FIREFOX === '1')
        throw new Error(`SUNOYE_REQUIRE_FIREFOX=1 but there is no browser at ${FIREFOX}`);
      process.stderr.write(
        `\n  !!! SKIPPING Firefox tests: no ${FIREFOX} (apt-get install firefox-esr, or set SUNOYE_REQUIRE_FIREFOX=1 to fail instead)\n\n`,
      );
      this.skip();
    }
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
    });
    dir = mkdtempSync(join(tmpdir(), 'sunoye-web-firefox-'));
    const server = {
      HOME: dir,
      SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
      SUNOYE_NAME: 'server',
    };
    // A first room makes the registry that room serve reads.
    await createRoomWithPassword({ ...server, SUNOYE_BROKER: 'mqtt://127.0.0.1:1' });
    web = await startWebServe(server, running);
  });
  after(async function () {
    await browser?.close();
    await stopAll(running);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('joins, sends a typed line with its key, and shows a piped line once', async function () {
    const alice = {
      HOME: dir,
      SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
      SUNOYE_BROKER: web.mqttUrl,
      SUNOYE_NAME: 'alice',
      SUNOYE_HOME: join(dir, 'home-alice'),
    };
    const room = await createRoomWithPassword(alice);
    const listener = await joinedListener(room.room, [], alice, running);
    const heard = (event: (l: Record<string, unknown>) => boolean) =>
      jsonLines(listener.stdoutLines).filter((l) => l.from === 'foxy' && event(l));

    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
    await page.goto(`${web.pageUrl}#${room.room}`);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
    await page.type('#name', 'foxy');
    await page.type('#password', room.password);
    await page.click('#enter');
    await page.waitForSelector('body[data-state="joined"]', { timeout: 30_000 });
    const fingerprint = await page.$eval('#fingerprint', (el: Text) => el.textContent ?? '');
    expect(fingerprint).to.match(/^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/);

    const joined = await waitFor(
      'listen to print foxy joining',
      () => heard((l) => l.event === 'join')[0],
      { timeoutMs: 20_000, program: listener },
    );
    expect(joined).to.include({ trust: 'new', key: fingerprint });

    await page.type('#line', 'hello from firefox');
    await page.keyboard.press('Enter');
    const line = await waitFor(
      'listen to print foxy: hello from firefox',
      () => heard((l) => l.message === 'hello from firefox')[0],
      { timeoutMs: 20_000, program: listener },
    );
    expect(line).to.include({ trust: 'known', key: fingerprint });

    const sent = await runProgram('publish', [room.room], {
      env: alice,
      input: 'piped to firefox\n',
    });
    expect(sent.code, sent.stderr).to.equal(0);
    await pageShows(page, 'piped to firefox');
    // A last line from the page: had the piped line come twice, both would show by the time
    // this one came round.
    await page.type('#line', 'last from firefox');
    await page.keyboard.press('Enter');
    await pageShows(page, 'last from firefox');
    expect((await logLines(page)).filter((l) => l.endsWith(': piped to firefox'))).to.have.length(
      1,
    );
    expect(heard((l) => l.message === 'hello from firefox')).to.have.length(1);
    expect(problems).to.deep.equal([]);
  });
});
