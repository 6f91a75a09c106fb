// `npm run bench:load`: 200 listeners in 20 rooms on one mosquitto, each room receiving 10
// messages a second for 60 s, all through the library API in this process (not one process per
// client). Reports lost and duplicated messages, delivery latency, CPU, memory and the registry's
// heartbeat writes. Options: --seconds N (default 60), --rooms N (20), --listeners-per-room N (10),
// --rate N messages per second per room (10).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { resolveConfig } from '../src/config/config.js';
import type { CommandContext } from '../src/room/context.js';
import { createRoom } from '../src/commands/create.js';
import { listen } from '../src/commands/listen.js';
import { publish } from '../src/commands/publish.js';
import { startMosquitto } from '../test/helpers/brokers.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const SECONDS = arg('seconds', 60);
const ROOMS = arg('rooms', 20);
const PER_ROOM = arg('listeners-per-room', 10);
const RATE = arg('rate', 10);

const dir = mkdtempSync(join(tmpdir(), 'sunoye-load-'));
const dbPath = join(dir, 'registry.db');
const broker = await startMosquitto(join(dir, 'mosquitto'));
const env = {
  HOME: dir,
  SUNOYE_HOME: join(dir, 'home'),
  SUNOYE_DB: `sqlite:${dbPath}`,
  SUNOYE_BROKER: broker.url,
  SUNOYE_BROKER_USER: broker.user.name,
  SUNOYE_BROKER_PASSWORD: broker.user.password,
};
const sink = (): Writable => new Writable({ write: (_c, _e, done) => done() });
const context = (
  name: string,
  stdout: Writable,
  stderr: Writable = sink(),
  stdin: Readable = Readable.from([]),
): CommandContext => ({
  config: resolveConfig({ name }, env),
  io: { stdin, stdout, stderr, env },
});

/** Creates a room through the library and returns its number. */
async function newRoom(): Promise<string> {
  let out = '';
  const stdout = new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) });
  await createRoom(context('creator', stdout), { idleSeconds: 3600, plain: false, json: true });
  return (JSON.parse(out) as { room: string }).room;
}

const rooms: string[] = [];
for (let i = 0; i < ROOMS; i++) rooms.push(await newRoom());

// Listeners: parse their JSON lines, count each message once per listener, measure latency.
const latencies: number[] = [];
let received = 0;
let duplicates = 0;
let warnings = 0;
const stop = new AbortController();
const running: Promise<void>[] = [];
const seenBy: Set<string>[] = [];
for (const room of rooms) {
  for (let l = 0; l < PER_ROOM; l++) {
    const seen = new Set<string>();
    seenBy.push(seen);
    let partial = '';
    const stdout = new Writable({
      write(chunk: Buffer, _e, done) {
        const now = Date.now();
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const m = JSON.parse(line) as { type: string; message?: string; ts: string };
          if (m.type !== 'message') continue;
          if (seen.has(m.message!)) duplicates += 1;
          else {
            seen.add(m.message!);
            received += 1;
            latencies.push(now - Date.parse(m.ts));
          }
        }
        done();
      },
    });
    const stderr = new Writable({ write: (_c, _e, done) => ((warnings += 1), done()) });
    running.push(
      listen(context(`l${l}`, stdout, stderr), { room, json: true, plain: false }, stop.signal),
    );
  }
}
// Wait until every listener is a member.
const probe = new Database(dbPath, { readonly: true });
const members = (): number =>
  (probe.prepare('SELECT COUNT(*) AS n FROM members').get() as { n: number }).n;
while (members() < ROOMS * PER_ROOM) await new Promise((resolve) => setTimeout(resolve, 100));
await new Promise((resolve) => setTimeout(resolve, 1000)); // let the join notices settle

// Heartbeat writes per second, sampled from the registry itself.
const beats: number[] = [];
let lastBeats = new Map<string, number>();
const sampler = setInterval(() => {
  const rows = probe.prepare('SELECT id, heartbeat_at FROM members').all() as {
    id: string;
    heartbeat_at: number;
  }[];
  let changed = 0;
  for (const r of rows)
    if (lastBeats.has(r.id) && lastBeats.get(r.id) !== r.heartbeat_at) changed += 1;
  if (lastBeats.size > 0) beats.push(changed);
  lastBeats = new Map(rows.map((r) => [r.id, r.heartbeat_at]));
}, 1000);

// Publishers: one per room, RATE lines a second for SECONDS.
const cpuStart = process.cpuUsage();
const mosquittoCpu = (): number => {
  const stat = readFileSync(`/proc/${broker.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(stat[11]) + Number(stat[12])) / 100; // utime + stime, in seconds (100 Hz)
};
const mosquittoStart = mosquittoCpu();
const started = Date.now();
const publishers = rooms.map((room, r) => {
  const input = new PassThrough();
  let n = 0;
  const timer = setInterval(() => {
    const due = Math.min(SECONDS * RATE, Math.floor(((Date.now() - started) / 1000) * RATE));
    while (n < due) input.write(`r${r}-${++n}\n`);
    if (n >= SECONDS * RATE) {
      clearInterval(timer);
      input.end();
    }
  }, 20);
  return publish(
    context(`p${r}`, sink(), sink(), input),
    { room, plain: false, timeout: 30, window: 1000 },
    new AbortController().signal,
  );
});
await Promise.all(publishers);
const expected = ROOMS * PER_ROOM * SECONDS * RATE;
const deadline = Date.now() + 30_000;
while (received < expected && Date.now() < deadline)
  await new Promise((resolve) => setTimeout(resolve, 100));
const elapsed = (Date.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
const brokerCpu = mosquittoCpu() - mosquittoStart;
clearInterval(sampler);
const liveMembers = members();
const peakRss =
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
const brokerRss =
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${broker.pid}/status`, 'utf8'))?.[1]) / 1024;

stop.abort();
await Promise.all(running);
probe.close();
await broker.stop();
rmSync(dir, { recursive: true, force: true });

latencies.sort((a, b) => a - b);
const pct = (p: number): number =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const result = {
  rooms: ROOMS,
  listeners: ROOMS * PER_ROOM,
  seconds: SECONDS,
  ratePerRoom: RATE,
  expected,
  received,
  lost: expected - received,
  duplicates,
  listenerWarnings: warnings,
  membersAtEnd: liveMembers,
  latencyMs: { p50: pct(50), p99: pct(99), max: latencies.at(-1) ?? NaN },
  cpuSeconds: { sunoye: (cpu.user + cpu.system) / 1e6, mosquitto: brokerCpu, wall: elapsed },
  memoryMb: { sunoyePeakRss: Math.round(peakRss), mosquittoRss: Math.round(brokerRss) },
  heartbeatWritesPerSecond: Number(mean(beats).toFixed(1)),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(
  [
    '',
    '| measure | value |',
    '| --- | --- |',
    `| listeners / rooms | ${result.listeners} / ${ROOMS} (${RATE} msg/s per room, ${SECONDS} s) |`,
    `| delivered | ${received} of ${expected} (lost ${result.lost}, duplicated ${duplicates}) |`,
    `| delivery latency p50 / p99 / max | ${result.latencyMs.p50} / ${result.latencyMs.p99} / ${result.latencyMs.max} ms |`,
    `| CPU (sunoye process / mosquitto) | ${result.cpuSeconds.sunoye.toFixed(1)} s / ${brokerCpu.toFixed(1)} s over ${elapsed.toFixed(0)} s |`,
    `| memory (sunoye peak RSS / mosquitto RSS) | ${result.memoryMb.sunoyePeakRss} MB / ${result.memoryMb.mosquittoRss} MB |`,
    `| registry heartbeat writes | ${result.heartbeatWritesPerSecond} per second; members at the end ${liveMembers} of ${result.listeners} |`,
    '',
  ].join('\n'),
);
process.exitCode =
  result.lost === 0 && duplicates === 0 && liveMembers === result.listeners ? 0 : 1;
