// Remembered rooms written by several processes at once (commands run side by side: two `room
// join`s, a `room create` while `listen` reads): each room is one file, replaced by a rename, so
// no write is lost and a reader never finds a file half-written.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { findRemembered, listRemembered, rememberRoom } from '../../src/home/remembered.js';
import { ownRoom, secretOf, SHARED_ROOM, STORE } from '../fixtures/remember-racer.js';

const script = fileURLToPath(new URL('../fixtures/remember-racer.js', import.meta.url));
const WRITERS = 4;
const READERS = 2;
const ROUNDS = 200;

interface Racer {
  child: ChildProcessWithoutNullStreams;
  /** The racer's "ready", then its one answer, parsed. */
  ready: Promise<unknown>;
  answer: Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function start(args: string[]): Racer {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const lines = createInterface({ input: child.stdout });
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      lines.once('line', (line) => resolve(JSON.parse(line) as Record<string, unknown>));
      void exited.then((code) => reject(new Error(`a racer ended (exit ${code}): ${stderr}`)));
    });
  const ready = next();
  const answer = ready.then(next);
  return { child, ready, answer, exited };
}

describe('remembered rooms written by several processes at once', function () {
  let dir: string;
  let racers: Racer[] = [];

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-remembered-'));
  });
  afterEach(async function () {
    // Each ends when its stdin does; one that does not within 10 s is killed.
    for (const racer of racers) racer.child.stdin.end();
    const timer = setTimeout(() => racers.forEach((racer) => racer.child.kill('SIGKILL')), 10_000);
    await Promise.all(racers.map((racer) => racer.exited));
    clearTimeout(timer);
    racers = [];
    rmSync(dir, { recursive: true, force: true });
  });

  it(`loses no room and shows no reader a half-written file with ${WRITERS} writers and ${READERS} readers`, async function () {
    const home = join(dir, 'home');
    rememberRoom(home, {
      room: SHARED_ROOM,
      store: STORE,
      mode: 'encrypted',
      secret: secretOf(99, 0),
    });
    const writers = Array.from({ length: WRITERS }, (_, i) =>
      start(['write', home, String(i), String(ROUNDS)]),
    );
    const readers = Array.from({ length: READERS }, () => start(['read', home]));
    racers = [...writers, ...readers];
    // Every racer is loaded and waiting before any starts, so that all start together.
    await Promise.all(racers.map((racer) => racer.ready));
    for (const racer of racers) racer.child.stdin.write('go\n');
    const wrote = await Promise.all(writers.map((w) => w.answer));
    expect(wrote.map((w) => w.wrote)).to.deep.equal(writers.map(() => ROUNDS));
    // The writers really wrote at the same time: every one started before any finished.
    const starts = wrote.map((w) => Number(w.from));
    const ends = wrote.map((w) => Number(w.to));
    expect(Math.max(...starts), JSON.stringify(wrote)).to.be.below(Math.min(...ends));
    for (const reader of readers) reader.child.stdin.write('stop\n');
    const read = await Promise.all(readers.map((r) => r.answer));
    for (const result of read) {
      expect(result.badCount, JSON.stringify(result.bad)).to.equal(0);
      expect(result.reads).to.be.above(0);
    }
    // The shared room holds one writer's last write, whole.
    const shared = findRemembered(home, STORE, SHARED_ROOM);
    const last = Array.from({ length: WRITERS }, (_, i) => secretOf(i, ROUNDS - 1));
    expect(last).to.include(shared?.secret);
    // Every writer's own rooms are all there, and no temporary file is left.
    const rooms = listRemembered(home).map((r) => r.room);
    const expected = [
      SHARED_ROOM,
      ...Array.from({ length: WRITERS }, (_, i) =>
        Array.from({ length: ROUNDS }, (_, k) => ownRoom(i, k)),
      ).flat(),
    ].sort();
    expect(rooms).to.deep.equal(expected);
    expect(readdirSync(join(home, 'rooms')).filter((name) => name.endsWith('.tmp'))).to.deep.equal(
      [],
    );
  });
});
