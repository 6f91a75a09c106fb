// `npm run bench:cost`: what each listener costs, on this machine. Listeners run through the
// library API in one process (listen()/publish() from src/commands, as bench/load.ts runs them),
// each its own MQTT connection and registry connection, against a mosquitto started on a free port
// from the repository's configuration, with the registry on SQLite. Every configuration runs in a
// fresh Node process with its own broker and registry, so that one does not inherit another's heap.
//
// Configurations: N listeners in one room for each of --counts (default 1,10,100,1000), and
// --rooms rooms of one listener each (default 1000; 0 skips it). For each: the memory a listener
// adds to the process (RSS and V8 heap with N listeners, minus the same process before any
// listener, divided by N, both after a full GC), mosquitto's RSS per connection the same way,
// fan-out latency (one publisher's message, stamped when written into publish's input, to each
// listener's printed JSON line), and registry writes (renewals, joins and leaves counted by
// sampling the members table once a second: a changed heartbeat_at is one write).
// Also the RSS of whole `listen` processes for --processes (default 1,10): 1,000 of them would not
// fit this machine, so the curve uses the in-process figures.
//
// Options: --counts 1,10,100,1000; --rooms 1000; --processes 1,10; --seconds S each
// configuration is watched after every listener joined (default 35: the default lease, 90 s, is
// renewed every 30 s, so every listener renews at least once); --messages M fan-out messages
// (default 20; in the rooms configuration M in each of the first --fanout-rooms rooms, default 10);
// --lease S (SUNOYE_LEASE; default: sunoye's own, 90 s); --join-batch B listeners joining at once
// (default 10). Writes bench-cost-results.json. About 12 minutes here, 4.4 of them the 1,000
// listeners of one room joining: every join notice is checked by everyone already in the room,
// all on this one event loop (--counts 1,10,100 runs in about 4).
import { spawn, spawnSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { DEFAULT_LEASE, resolveConfig } from '../src/config/config.js';
import type { CommandContext } from '../src/room/context.js';
import { listen } from '../src/commands/listen.js';
import { publish } from '../src/commands/publish.js';
import { openStore } from '../src/db/index.js';
import { rememberRoom } from '../src/home/remembered.js';
import { deriveRoomSecret, newKdfParams, verifier } from '../src/protocol/index.js';
import { startMosquitto } from '../test/helpers/brokers.js';
import { waitFor } from '../test/helpers/wait.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const list = (s: string): number[] => (s === '' ? [] : s.split(',').map(Number));
const COUNTS = list(arg('counts', '1,10,100,1000'));
const ROOMS = Number(arg('rooms', '1000'));
const PROCESSES = list(arg('processes', '1,10'));
const SECONDS = Number(arg('seconds', '35'));
const MESSAGES = Number(arg('messages', '20'));
const FANOUT_ROOMS = Number(arg('fanout-rooms', '10'));
const LEASE = Number(arg('lease', String(DEFAULT_LEASE)));
const JOIN_BATCH = Number(arg('join-batch', '10'));

/** One configuration's figures. */
interface Figures {
  config: string;
  listeners: number;
  rooms: number;
  joinSeconds: number;
  memory: {
    baselineRssMb: number;
    rssMb: number;
    rssKbPerListener: number;
    heapKbPerListener: number;
    externalKbPerListener: number;
    mosquittoRssKbPerConnection: number;
  };
  fanout: {
    expected: number;
    received: number;
    duplicates: number;
    p50: number;
    p99: number;
    max: number;
  };
  registry: {
    windowSeconds: number;
    renewals: number;
    otherWrites: number;
    writesPerSecond: number;
    writesPerSecondPerListener: number;
    medianRenewalSeconds: number;
    steadyWritesPerSecondPerListener: number;
  };
}

const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));
const kb = (bytes: number): number => Math.round(bytes / 1024);
const vmRss = (pid: number | 'self'): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
const quantile = (sorted: number[], q: number): number =>
  Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(2));

/** A full collection, twice (the second frees what finalizers of the first released). */
function collect(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** Sets up a broker, a registry with `rooms` encrypted rooms and a home that remembers them. */
async function world(dir: string, rooms: number) {
  const dbPath = join(dir, 'registry.db');
  const broker = await startMosquitto(join(dir, 'mosquitto'));
  // A configuration that fails exits this process: its broker and files go with it.
  process.once('exit', () => {
    try {
      process.kill(broker.pid);
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const env: Record<string, string> = {
    HOME: dir,
    SUNOYE_HOME: join(dir, 'home'),
    SUNOYE_DB: `sqlite:${dbPath}`,
    SUNOYE_BROKER: broker.url,
    SUNOYE_BROKER_USER: broker.user.name,
    SUNOYE_BROKER_PASSWORD: broker.user.password,
    SUNOYE_LEASE: String(LEASE),
  };
  const config = resolveConfig({ name: 'creator' }, env);
  // Rooms as `room create` makes them, but with one key derivation for all: scrypt costs about
  // 0.4 s a room here, which 1,000 rooms would spend before measuring anything.
  const kdf = newKdfParams();
  const secret = await deriveRoomSecret('correct horse battery staple', kdf);
  const store = await openStore(config.db);
  const numbers: string[] = [];
  for (let i = 0; i < rooms; i++) {
    const room = await store.createRoom({
      creator: 'creator',
      mode: 'encrypted',
      idleSeconds: 3600,
      kdf,
      verifier: (number) => verifier(secret, number, 'encrypted'),
      broker: config.broker,
    });
    numbers.push(room.number);
  }
  const label = store.label;
  await store.close();
  // Each listener has its own home (its own identity, pins and replay record), as each person
  // does; it remembers the room as `room join` leaves it.
  const home = (name: string, room: string): string => {
    const path = join(dir, 'homes', name);
    rememberRoom(path, {
      room,
      store: label,
      mode: 'encrypted',
      secret: secret.toString('base64'),
    });
    return path;
  };
  const probe = new Database(dbPath, { readonly: true });
  const members = (): number =>
    (probe.prepare('SELECT COUNT(*) AS n FROM members').get() as { n: number }).n;
  return { broker, env, numbers, probe, members, home };
}

const sink = (): Writable => new Writable({ write: (_c, _e, done) => done() });

/** One configuration, in this process: `perRoom` listeners in each of `rooms` rooms. */
async function runInProcess(label: string, rooms: number, perRoom: number): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-cost-'));
  const w = await world(dir, rooms + 1);
  const warmRoom = w.numbers.pop()!;
  const context = (
    name: string,
    room: string,
    stdout: Writable,
    stdin: Readable = Readable.from([]),
  ): CommandContext => {
    const env = { ...w.env, SUNOYE_HOME: w.home(`${name}-${room}`, room) };
    return { config: resolveConfig({ name }, env), io: { stdin, stdout, stderr: sink(), env } };
  };

  // Publishers first (they are part of the baseline): one per fan-out room.
  const fanoutRooms = w.numbers.slice(0, Math.min(w.numbers.length, FANOUT_ROOMS));
  const inputs = fanoutRooms.map(() => new PassThrough());
  const publishing = fanoutRooms.map((room, r) =>
    publish(
      context(`p${r}`, room, sink(), inputs[r]),
      { room, plain: false, timeout: 30, window: 1000 },
      new AbortController().signal,
    ),
  );

  // Listeners parse their JSON lines; a message's text is its send time (performance.now()).
  const latencies: number[] = [];
  let received = 0;
  let duplicates = 0;
  let lastOutput = performance.now();
  // A listener is in once it has shown its own join notice: subscribed, and heard back.
  let joined = 0;
  const startListener = (room: string, name: string, signal: AbortSignal): Promise<void> => {
    const seen = new Set<string>();
    let in_ = false;
    let partial = '';
    const stdout = new Writable({
      write(chunk: Buffer, _e, done) {
        const now = performance.now();
        lastOutput = now;
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const m = JSON.parse(line) as {
            type: string;
            message?: string;
            from: string;
            event?: string;
          };
          if (!in_ && m.type === 'notice' && m.event === 'join' && m.from === name) {
            in_ = true;
            joined += 1;
          }
          if (m.type !== 'message') continue;
          if (seen.has(m.message!)) duplicates += 1;
          else {
            seen.add(m.message!);
            received += 1;
            latencies.push(now - Number(m.message!.split(' ')[1]));
          }
        }
        done();
      },
    });
    return listen(context(name, room, stdout), { room, json: true, plain: false }, signal);
  };

  // Warm-up: one listener that joins, hears a message and leaves, so that code loaded on first
  // use is in the baseline rather than charged to the first listener.
  const warm = new AbortController();
  const warmPublisher = new PassThrough();
  const warmListening = startListener(warmRoom, 'warm', warm.signal);
  await waitFor('the warm-up listener', () => joined === 1, 30_000);
  const warmPublishing = publish(
    context('pw', warmRoom, sink(), warmPublisher),
    { room: warmRoom, plain: false, timeout: 30, window: 1000 },
    new AbortController().signal,
  );
  warmPublisher.end(`0 ${performance.now()}\n`);
  await warmPublishing;
  await waitFor('the warm-up message', () => received === 1, 30_000);
  warm.abort();
  await warmListening;
  await waitFor('the warm-up listener to leave', () => w.members() === 0, 30_000);
  received = 0;
  joined = 0;
  latencies.length = 0;

  collect();
  const before = process.memoryUsage();
  const brokerBefore = vmRss(w.broker.pid);

  const stop = new AbortController();
  setMaxListeners(rooms * perRoom + 10, stop.signal); // one listener each, by design
  const running: Promise<void>[] = [];
  const progress = setInterval(
    () =>
      process.stderr.write(
        `  ${label}: ${joined} in, ${w.members()} members, ${received} messages shown\n`,
      ),
    10_000,
  );
  const joinStart = performance.now();
  // Joins come JOIN_BATCH at a time, each batch once the one before is in: 1,000 connections in
  // the same instant overrun one event loop (connect timeouts), which people joining do not do.
  const n = rooms * perRoom;
  for (const room of w.numbers)
    for (let l = 0; l < perRoom; l++) {
      running.push(startListener(room, `l${l}`, stop.signal));
      if (running.length % JOIN_BATCH === 0)
        await waitFor('a batch of joins', () => joined === running.length, 600_000, 20);
    }
  await waitFor(`${n} listeners in`, () => joined === n && w.members() === n, 600_000, 100);
  const joinSeconds = (performance.now() - joinStart) / 1000;
  // Join notices fan out to everyone already in the room; wait until they have all been shown.
  await waitFor(
    'the join notices to settle',
    () => performance.now() - lastOutput > 1000,
    600_000,
    100,
  );

  collect();
  const after = process.memoryUsage();
  const brokerAfter = vmRss(w.broker.pid);

  // Registry writes, sampled from the registry itself while the publishers send.
  let renewals = 0;
  let otherWrites = 0;
  const intervals: number[] = [];
  type Row = { id: string; heartbeat_at: number };
  const rows = (): Map<string, number> =>
    new Map(
      (w.probe.prepare('SELECT id, heartbeat_at FROM members').all() as Row[]).map((r) => [
        r.id,
        r.heartbeat_at,
      ]),
    );
  let last = rows();
  const sample = (): void => {
    const now = rows();
    for (const [id, beat] of now) {
      const was = last.get(id);
      if (was === undefined) otherWrites += 1;
      else if (was !== beat) {
        renewals += 1;
        intervals.push((beat - was) / 1000);
      }
    }
    for (const id of last.keys()) if (!now.has(id)) otherWrites += 1;
    last = now;
  };
  const sampler = setInterval(sample, 1000);
  const windowStart = performance.now();

  // Fan-out: one message at a time in each fan-out room, spread over the window; the next is
  // written once every listener has shown the previous one.
  const expectedPerMessage = fanoutRooms.length * perRoom;
  const gapMs = (SECONDS * 1000) / (MESSAGES + 1);
  for (let i = 1; i <= MESSAGES; i++) {
    const due = windowStart + i * gapMs;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    for (const input of inputs) input.write(`${i} ${performance.now()}\n`);
    await waitFor(
      `message ${i} at every listener`,
      () => received >= i * expectedPerMessage,
      30_000,
      5,
    ).catch(() => undefined); // a loss shows as received < expected
  }
  for (const input of inputs) input.end();
  await Promise.all(publishing);
  const rest = windowStart + SECONDS * 1000 - performance.now();
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, rest)));
  clearInterval(sampler);
  sample();
  const windowSeconds = (performance.now() - windowStart) / 1000;

  clearInterval(progress);
  stop.abort();
  await Promise.all(running);
  w.probe.close();
  await w.broker.stop();
  rmSync(dir, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  intervals.sort((a, b) => a - b);
  const medianRenewal = quantile(intervals, 0.5);
  return {
    config: label,
    listeners: n,
    rooms,
    joinSeconds: Number(joinSeconds.toFixed(1)),
    memory: {
      baselineRssMb: mb(before.rss),
      rssMb: mb(after.rss),
      rssKbPerListener: kb((after.rss - before.rss) / n),
      heapKbPerListener: kb((after.heapUsed - before.heapUsed) / n),
      externalKbPerListener: kb((after.external - before.external) / n),
      mosquittoRssKbPerConnection: kb((brokerAfter - brokerBefore) / n),
    },
    fanout: {
      expected: MESSAGES * expectedPerMessage,
      received,
      duplicates,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: quantile(latencies, 1),
    },
    registry: {
      windowSeconds: Number(windowSeconds.toFixed(1)),
      renewals,
      otherWrites,
      writesPerSecond: Number(((renewals + otherWrites) / windowSeconds).toFixed(2)),
      writesPerSecondPerListener: Number(((renewals + otherWrites) / windowSeconds / n).toFixed(4)),
      medianRenewalSeconds: medianRenewal,
      steadyWritesPerSecondPerListener: Number((1 / medianRenewal).toFixed(4)),
    },
  };
}

/** RSS of `count` whole `listen` processes in one room, once all have joined and settled. */
async function runProcesses(count: number): Promise<{ processes: number; rssMbEach: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-cost-'));
  const w = await world(dir, 1);
  const bin = fileURLToPath(new URL('../bin/listen.js', import.meta.url));
  const children = Array.from({ length: count }, (_, i) =>
    spawn(process.execPath, [bin, w.numbers[0]!, '--json'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...w.env,
        SUNOYE_NAME: `l${i}`,
        SUNOYE_HOME: w.home(`l${i}`, w.numbers[0]!),
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
  let lastOutput = performance.now();
  let joined = 0;
  children.forEach((child, i) => {
    let partial = '';
    let in_ = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      lastOutput = performance.now();
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = JSON.parse(line) as { type: string; from: string; event?: string };
        if (!in_ && m.type === 'notice' && m.event === 'join' && m.from === `l${i}`) {
          in_ = true;
          joined += 1;
        }
      }
    });
  });
  await waitFor(
    `${count} listeners in`,
    () => joined === count && w.members() === count,
    120_000,
    100,
  );
  await waitFor(
    'the join notices to settle',
    () => performance.now() - lastOutput > 2000,
    120_000,
    100,
  );
  const rssMbEach = children.map((c) => mb(vmRss(c.pid!)));
  for (const child of children) child.kill('SIGINT');
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('close', resolve))));
  w.probe.close();
  await w.broker.stop();
  rmSync(dir, { recursive: true, force: true });
  return { processes: count, rssMbEach };
}

// A child runs one configuration and prints its figures as JSON.
const one = arg('one', '');
if (one !== '') {
  const [kind, size] = one.split(':') as [string, string];
  const result =
    kind === 'room'
      ? await runInProcess(`${size} in one room`, 1, Number(size))
      : kind === 'rooms'
        ? await runInProcess(`${size} rooms of one`, Number(size), 1)
        : await runProcesses(Number(size));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const passOn = ['seconds', 'messages', 'fanout-rooms', 'lease', 'join-batch'].flatMap((o) =>
  process.argv.includes(`--${o}`) ? [`--${o}`, arg(o, '')] : [],
);
/** Runs one configuration in a fresh process; a failure is reported, and the others still run. */
function child(what: string): unknown {
  process.stderr.write(`cost: ${what}…\n`);
  const r = spawnSync(process.execPath, [self, '--one', what, ...passOn], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 2 ** 24,
  });
  process.stderr.write(r.stderr);
  if (r.status === 0) return JSON.parse(r.stdout.trim().split('\n').pop()!);
  const why = /^\w*Error: (.*)$/m.exec(r.stderr)?.[1] ?? `exit ${r.status}`;
  return { config: what, failed: why };
}
const failed = (x: unknown): x is { config: string; failed: string } =>
  typeof (x as { failed?: unknown }).failed === 'string';

const started = Date.now();
const processRuns = PROCESSES.map((k) => child(`processes:${k}`));
const runs = [
  ...COUNTS.map((k) => child(`room:${k}`)),
  ...(ROOMS > 0 ? [child(`rooms:${ROOMS}`)] : []),
];
const processes = processRuns.filter((p) => !failed(p)) as {
  processes: number;
  rssMbEach: number[];
}[];
const curve = runs.filter((c) => !failed(c)) as Figures[];
const failures = [...processRuns, ...runs].filter(failed);
const result = {
  machine: { cores: (await import('node:os')).cpus().length, node: process.version },
  leaseSeconds: LEASE,
  windowSeconds: SECONDS,
  messages: MESSAGES,
  joinBatch: JOIN_BATCH,
  processes,
  curve,
  failures,
  totalSeconds: Math.round((Date.now() - started) / 1000),
};
writeFileSync('bench-cost-results.json', `${JSON.stringify(result, null, 2)}\n`);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const lines = [
  `Lease ${LEASE} s (renewed every ${LEASE / 3} s); each configuration watched ${SECONDS} s after every listener joined; ${MESSAGES} fan-out messages.`,
  '',
  '| configuration | join, s | RSS per listener, KB (in-process) | V8 heap per listener, KB | mosquitto RSS per connection, KB | fan-out p50 / p99 / max, ms | delivered | registry writes/s (window) | per listener | renewal every, s | steady writes/s per listener |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...curve.map(
    (c) =>
      `| ${c.config} | ${c.joinSeconds} | ${c.memory.rssKbPerListener} | ${c.memory.heapKbPerListener} | ${c.memory.mosquittoRssKbPerConnection} | ${c.fanout.p50} / ${c.fanout.p99} / ${c.fanout.max} | ${c.fanout.received} of ${c.fanout.expected}${c.fanout.duplicates ? `, ${c.fanout.duplicates} duplicated` : ''} | ${c.registry.writesPerSecond} | ${c.registry.writesPerSecondPerListener} | ${c.registry.medianRenewalSeconds} | ${c.registry.steadyWritesPerSecondPerListener} |`,
  ),
  ...processes.map(
    (p) =>
      `| ${p.processes} \`listen\` process(es), RSS each (whole process), MB | median ${median(p.rssMbEach)} (${Math.min(...p.rssMbEach)}–${Math.max(...p.rssMbEach)}) | | | | | | | | | |`,
  ),
  ...failures.map((f) => `| ${f.config} | failed: ${f.failed} | | | | | | | | | |`),
  '',
];
process.stdout.write(`${lines.join('\n')}\n`);
const lost = curve.some((c) => c.fanout.received !== c.fanout.expected || c.fanout.duplicates > 0);
process.exitCode = lost || failures.length > 0 ? 1 : 0;
