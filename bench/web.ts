// The `web` section of `npm run bench`: the room page of `room serve --web` in a headless
// Chromium (Debian's, driven by playwright-core, as the tests drive it), beside the terminal's own
// `listen` in the same run. `room serve --web` runs on free ports with a registry of its own; each
// run opens the page in a fresh browser context and times it from `goto` to joined (typing and
// the scrypt derivation included), then pipes lines into `publish R` and times them to the last
// one rendered in the page's log; then, the page gone, the same lines into a terminal `listen R`.
// Also the page's transferred size: its five files as served gzipped.
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../test/helpers/browser.js';
import { createRoomWithPassword, stopAll, type RunningProgram } from '../test/helpers/programs.js';
import { waitFor } from '../test/helpers/wait.js';
import { httpTo, startWebServe } from '../test/helpers/web.js';
import { lines, median, pipe, round, type Pipe } from './measures.js';
import { peers, sunoyeBin, startProducer } from './peers.js';

/** The files the page loads, as `room serve --web` serves them. */
const PAGE_FILES = ['/', '/main.js', '/scrypt-worker.js', '/style.css', '/favicon.svg'];

/** One run's way into the room, in ms. */
export interface Entering {
  /** `goto` to the form ready (`body[data-state="ready"]`). */
  readyMs: number;
  /** The form submitted to joined: the record, scrypt, the check, the broker, the join notice. */
  submitToJoinedMs: number;
  /** Of which deriving the key (the page's `deriving` state, to `checking`). */
  derivingMs: number;
  /** `goto` to joined, the typing included. */
  totalMs: number;
}

export interface WebResult {
  runs: number;
  lines: number;
  /** The room's scrypt cost (N), as its record gives it to the page. */
  kdfN: number;
  entering: Entering[];
  /**
   * The lines piped into `publish R` to the last one in the page's log, each run, and the states
   * the page's broker connection went through since it opened (`connecting`, `online` when it held).
   */
  page: (Pipe & { connection: string[] })[];
  /** The same into a terminal `listen R --json`, each run. */
  terminal: Pipe[];
  /** Bytes of each page file as served, plain and gzipped. */
  files: Record<string, { plain: number; gzipped: number }>;
  gzippedBytes: number;
  plainBytes: number;
}

/**
 * Records in the page when `body[data-state]` first takes each value (performance.now()), and
 * counts the live lines (`li.message`, not `.earlier`: history) added to the log, with the wall-clock time (ms since the epoch)
 * of the last: the page's own clock, so that waiting for them from here does not time them. Also
 * the states its broker connection went through (`#connection[data-state]`).
 */
const WATCH_PAGE = `
  globalThis.benchStates = {};
  globalThis.benchLines = { count: 0, lastAt: 0, connection: [] };
  new MutationObserver((records) => {
    const state = document.body && document.body.dataset.state;
    if (state && !(state in globalThis.benchStates)) globalThis.benchStates[state] = performance.now();
    const link = document.getElementById('connection');
    const seen = globalThis.benchLines.connection;
    if (link && link.dataset.state && seen[seen.length - 1] !== link.dataset.state) seen.push(link.dataset.state);
    for (const record of records)
      for (const node of record.addedNodes)
        if (node.parentNode && node.parentNode.id === 'log' && node.classList.contains('message') &&
            !node.classList.contains('earlier')) {
          globalThis.benchLines.count += 1;
          globalThis.benchLines.lastAt = performance.timeOrigin + performance.now();
        }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
`;

const since = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** Runs the section; `skipped` says why when there is no browser. */
export async function benchWeb(options: {
  runs: number;
  lines: number;
  progress: (what: string) => void;
}): Promise<WebResult | { skipped: string }> {
  if (!existsSync(CHROMIUM)) return { skipped: `no browser at ${CHROMIUM}` };
  const count = options.lines;
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-bench-web-'));
  const running: RunningProgram[] = [];
  let browser: Browser | undefined;
  try {
    // Made without a broker: `room create` records the broker, never connects.
    const made: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      SUNOYE_HOME: join(dir, 'home'),
      SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
      SUNOYE_BROKER: 'mqtt://127.0.0.1:1',
      SUNOYE_NAME: 'bench',
    };
    const { room, password } = await createRoomWithPassword(made);
    const web = await startWebServe(made, running);
    const env = { ...made, SUNOYE_BROKER: web.mqttUrl };
    const record = (await httpTo(web.pageUrl, `/api/rooms/${room}`)).body.toString();
    const kdfN = (JSON.parse(record) as { kdf: { N: number } }).kdf.N;

    const files: WebResult['files'] = {};
    for (const path of PAGE_FILES) {
      const plain = await httpTo(web.pageUrl, path);
      const gzipped = await httpTo(web.pageUrl, path, { headers: { 'accept-encoding': 'gzip' } });
      if (plain.status !== 200 || gzipped.headers['content-encoding'] !== 'gzip')
        throw new Error(`${path}: ${plain.status}, ${gzipped.headers['content-encoding']}`);
      files[path] = { plain: plain.body.length, gzipped: gzipped.body.length };
    }
    const sum = (key: 'plain' | 'gzipped'): number =>
      Object.values(files).reduce((total, f) => total + f[key], 0);

    browser = await launchChromium();
    const entering: Entering[] = [];
    const page: WebResult['page'] = [];
    const terminal: Pipe[] = [];
    // The terminal's side: peers' own `listen R --json --count N` and `publish R`, in this room.
    const newRoom = (): Promise<string> => Promise.resolve(room);
    const sunoye = peers({ env, port: 0, user: { name: '', password: '' }, newRoom }).sunoye;
    for (let i = 0; i < options.runs; i++) {
      options.progress(`web run ${i + 1} of ${options.runs}: the page enters, ${count} lines`);
      const context = await browser.newContext();
      try {
        await context.addInitScript(WATCH_PAGE);
        const tab = await context.newPage();
        const start = process.hrtime.bigint();
        await tab.goto(`${web.pageUrl}#${room}`);
        await tab.waitForSelector('body[data-state="ready"]');
        const readyMs = since(start);
        await tab.fill('#name', 'pagey');
        await tab.fill('#password', password);
        const submitted = process.hrtime.bigint();
        await tab.click('#enter');
        await tab.waitForSelector('body[data-state="joined"]', { timeout: 60_000 });
        const totalMs = since(start);
        const submitToJoinedMs = since(submitted);
        const states = await tab.evaluate<Record<string, number>>('globalThis.benchStates');
        // The room keeps history: live lines are shown once it is (runs after the first open
        // with the last lines of those before, not counted).
        const joined = process.hrtime.bigint();
        await tab.waitForSelector('#log[data-history="shown"]', {
          state: 'attached',
          timeout: 60_000,
        });
        options.progress(
          `web run ${i + 1}: history shown ${Math.round(since(joined))} ms after joining`,
        );
        entering.push({
          readyMs: round(readyMs, 0),
          submitToJoinedMs: round(submitToJoinedMs, 0),
          derivingMs: round(states.checking! - states.deriving!, 0),
          totalMs: round(totalMs, 0),
        });

        // Asked from here a few times a second (not timed by it: the page notes the time of its
        // last line); the page's CSP refuses the eval a waitForFunction would need.
        type Shown = { count: number; lastAt: number; connection: string[] };
        const shown = async (): Promise<Shown> => tab.evaluate<Shown>('globalThis.benchLines');
        const startedAt = performance.timeOrigin + performance.now();
        const producer = startProducer([process.execPath, [sunoyeBin('publish'), room]], env);
        producer.stdin!.end(lines(0, count));
        let noted = performance.now();
        const last = await waitFor(
          'the lines in the page',
          async () => {
            const now = await shown();
            if (performance.now() >= noted + 10_000) {
              noted = performance.now();
              options.progress(`web: ${now.count} of ${count} lines in the page`);
            }
            return now.count >= count && now;
          },
          300_000,
          250,
        ).catch(shown);
        const received = last.count;
        const seconds = (last.lastAt - startedAt) / 1000;
        if (producer.exitCode === null) await once(producer, 'close');
        page.push({
          seconds: round(seconds, 3),
          received,
          messagesPerSecond: received > 0 ? Math.round(received / seconds) : 0,
          connection: last.connection,
        });
      } finally {
        await context.close();
      }
      options.progress(`web run ${i + 1} of ${options.runs}: ${count} lines into \`listen\``);
      terminal.push(await pipe(sunoye, 1, count, env));
    }
    return {
      runs: options.runs,
      lines: count,
      kdfN,
      entering,
      page,
      terminal,
      files,
      gzippedBytes: sum('gzipped'),
      plainBytes: sum('plain'),
    };
  } finally {
    await browser?.close();
    // Ended as at a terminal (Ctrl-C), so that it closes its registry; killed only if it cannot.
    for (const p of running) p.child.kill('SIGINT');
    await Promise.all(running.map((p) => p.exited));
    await stopAll(running);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The median over runs of one figure of entering. */
export const enteringMedian = (runs: Entering[], key: keyof Entering): number =>
  median(runs.map((r) => r[key]));
