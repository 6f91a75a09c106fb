// `npm run bench`: sunoye side by side with mosquitto's own clients, on a mosquitto this script
// starts on a free port (the repository's configuration). Every comparison is a ratio measured in
// the same run, because the machine is shared and absolute times drift. Prints a Markdown table
// and writes bench-results.json.
//
// Sections (BENCH_ONLY=throughput,latency,cold,memory,registry,scale runs a subset):
//   throughput  50,000 piped lines, publish → listen --json vs mosquitto_pub -l → mosquitto_sub
//   latency     a steady 1,000 lines/s for 10 s, publish-to-print p50/p99/max, both tools
//   cold        `publish R -m hi` vs `node -e 0` vs `mosquitto_pub -m hi`; `room info R`
//   memory      peak RSS of publish fed 500 MB in 32 KiB lines; of listen after 100,000 messages
//   registry    create/join/info p50/p99 at 10,000 rooms and 1,000 members, SQLite and MySQL
//   scale       the throughput measure over 1, 10 and 100 rooms at once
// Sizes: BENCH_RUNS, BENCH_LINES, BENCH_LATENCY_SECONDS, BENCH_MEMORY_MB, BENCH_LISTEN_MESSAGES,
// BENCH_ROOMS, BENCH_MEMBERS, BENCH_SCALE (e.g. 1,10,100); MySQL at BENCH_MYSQL_URL
// (default mysql://root@127.0.0.1:3306; skipped, and said so, when unreachable).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import { resolveConfig } from '../src/config/config.js';
import { createRoom } from '../src/commands/create.js';
import { brokerEnv, startMosquitto } from '../test/helpers/brokers.js';
import { benchRegistry, kdfMilliseconds, type RegistryResult } from './registry.js';

const num = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const RUNS = num('BENCH_RUNS', 3);
const LINES = num('BENCH_LINES', 50_000);
const LATENCY_SECONDS = num('BENCH_LATENCY_SECONDS', 10);
const MEMORY_MB = num('BENCH_MEMORY_MB', 500);
const LISTEN_MESSAGES = num('BENCH_LISTEN_MESSAGES', 100_000);
const ROOMS = num('BENCH_ROOMS', 10_000);
const MEMBERS = num('BENCH_MEMBERS', 1_000);
const SCALE = (process.env.BENCH_SCALE ?? '1,10,100').split(',').map(Number);
const MYSQL_URL = (process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(
  /\/+$/,
  '',
);
const only = process.env.BENCH_ONLY?.split(',');
const wanted = (section: string): boolean => !only || only.includes(section);

const bin = (p: string): string => fileURLToPath(new URL(`../bin/${p}.js`, import.meta.url));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
const progress = (what: string): boolean => process.stderr.write(`bench: ${what}\n`);

const dir = mkdtempSync(join(tmpdir(), 'sunoye-bench-'));
const broker = await startMosquitto(join(dir, 'mosquitto'));
const env: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: dir,
  SUNOYE_HOME: join(dir, 'home'),
  SUNOYE_DB: `sqlite:${join(dir, 'r.db')}`,
  ...brokerEnv(broker),
};
const auth = ['-p', String(broker.port), '-u', broker.user.name, '-P', broker.user.password];
const node = process.execPath;

/** Creates an encrypted room through the library (as `room create` does) and returns its number. */
async function newRoom(): Promise<string> {
  let out = '';
  const stdout = new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) });
  const sink = new Writable({ write: (_c, _e, done) => done() });
  await createRoom(
    { config: resolveConfig({}, env), io: { stdin: process.stdin, stdout, stderr: sink, env } },
    { idleSeconds: 3600, plain: false, json: true },
  );
  return (JSON.parse(out) as { room: string }).room;
}

/** A line of ~70 bytes whose first 8 characters are its number. */
const line = (i: number): string =>
  `${String(i).padStart(8, '0')} the quick brown fox jumps over the lazy dog, piped along ok\n`;
const lines = (from: number, count: number): string =>
  Array.from({ length: count }, (_, i) => line(from + i)).join('');

/** Follows a process's peak resident memory (VmHWM) while it runs; returns it in MB. */
function peakMemory(child: ChildProcess): () => number {
  let peakKb = 0;
  const read = (): void => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peakKb = Math.max(peakKb, kb);
    } catch {
      // The process has gone; what was read last stands.
    }
  };
  const timer = setInterval(read, 20);
  return () => {
    read();
    clearInterval(timer);
    return round(peakKb / 1024, 0);
  };
}

/** Counts the message lines a consumer prints and resolves waits on them. */
class Consumer {
  readonly child: ChildProcess;
  messages = 0;
  joined = false;
  private waiters: (() => void)[] = [];

  constructor(
    command: string,
    args: string[],
    isMessage: (l: string) => boolean,
    onLine?: (l: string) => void,
  ) {
    this.child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      const parts = (partial + c).split('\n');
      partial = parts.pop()!;
      for (const p of parts) {
        if (isMessage(p)) this.messages += 1;
        else if (p.includes('"event":"join"')) this.joined = true;
        onLine?.(p);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Resolves once `test` holds. */
  async until(test: (c: Consumer) => boolean): Promise<void> {
    while (!test(this)) await new Promise<void>((r) => this.waiters.push(r));
  }

  async exit(): Promise<void> {
    if (this.child.exitCode === null) await once(this.child, 'close');
  }
}

const joined = (c: Consumer): boolean => c.joined;
const sunoyeListen = (room: string, count: number, onLine?: (l: string) => void): Consumer =>
  new Consumer(
    node,
    [bin('listen'), room, '--json', '--count', String(count)],
    (l) => l.includes('"type":"message"'),
    onLine,
  );
const mosquittoSub = (topic: string, count: number, onLine?: (l: string) => void): Consumer =>
  new Consumer(
    'mosquitto_sub',
    [...auth, '-q', '1', '-t', topic, '-C', String(count)],
    (l) => l.length > 0,
    onLine,
  );
const sunoyePub = (room: string): [string, string[]] => [node, [bin('publish'), room]];
const mosquittoPub = (topic: string): [string, string[]] => [
  'mosquitto_pub',
  [...auth, '-q', '1', '-t', topic, '-l'],
];

function producer([command, args]: [string, string[]]): ChildProcess {
  return spawn(command, args, { env, stdio: ['pipe', 'ignore', 'ignore'] });
}

// ---------------------------------------------------------------------------------- throughput

interface Pipe {
  seconds: number;
  received: number;
  messagesPerSecond: number;
}

/**
 * Pipes `count` lines into each of `rooms` producer/consumer pairs at once, consumers started and
 * ready first; times from the first line written to the last line printed.
 */
async function pipeThrough(
  pairs: { consumer: Consumer; ready: (c: Consumer) => boolean; producer: [string, string[]] }[],
  count: number,
): Promise<Pipe> {
  await Promise.all(pairs.map((p) => p.consumer.until(p.ready)));
  const started = process.hrtime.bigint();
  const producers = pairs.map((p) => producer(p.producer));
  producers.forEach((p) => p.stdin!.end(lines(0, count)));
  const timeout = setTimeout(() => pairs.forEach((p) => p.consumer.child.kill('SIGTERM')), 300_000);
  await Promise.all(pairs.map((p) => p.consumer.exit()));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearTimeout(timeout);
  await Promise.all(
    producers.map(async (p) => {
      if (p.exitCode === null) await once(p, 'close');
    }),
  );
  const received = pairs.reduce((sum, p) => sum + p.consumer.messages, 0);
  return {
    seconds: round(seconds, 3),
    received,
    messagesPerSecond: Math.round(received / seconds),
  };
}

async function sunoyeRooms(rooms: number, perRoom: number): Promise<Pipe> {
  const numbers = await Promise.all(Array.from({ length: rooms }, () => newRoom()));
  return pipeThrough(
    numbers.map((room) => ({
      consumer: sunoyeListen(room, perRoom),
      ready: joined,
      producer: sunoyePub(room),
    })),
    perRoom,
  );
}

async function mosquittoTopics(rooms: number, perRoom: number): Promise<Pipe> {
  const run = randomBytes(4).toString('hex');
  return pipeThrough(
    Array.from({ length: rooms }, (_, i) => {
      const topic = `sunoye/room/bench-${run}-${i}`;
      return {
        consumer: mosquittoSub(topic, perRoom),
        ready: () => true,
        producer: mosquittoPub(topic),
      };
    }),
    perRoom,
  );
}

// -------------------------------------------------------------------------------------- latency

interface Latency {
  sent: number;
  received: number;
  p50: number;
  p99: number;
  max: number;
}

/** Writes `rate` lines a second for `seconds` into a producer; times each line's arrival. */
async function latency(
  consumerOf: (onLine: (l: string) => void) => Consumer,
  ready: (c: Consumer) => boolean,
  producerArgs: [string, string[]],
  rate: number,
  seconds: number,
): Promise<Latency> {
  const total = rate * seconds;
  const sentAt = new Float64Array(total + 1);
  const delays: number[] = [];
  let warm = false;
  const consumer = consumerOf((l) => {
    const at = performance.now();
    const i = Number(/(\d{8}) the quick/.exec(l)?.[1] ?? NaN);
    if (i === total) warm = true;
    else if (i >= 0 && i < total && sentAt[i]! > 0) delays.push(at - sentAt[i]!);
  });
  await consumer.until(ready);
  const pub = producer(producerArgs);
  // One warm-up line first: the producer's start is cold start, measured elsewhere.
  pub.stdin!.write(line(total));
  await consumer.until(() => warm);
  const t0 = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000));
      let chunk = '';
      for (; next < due; next++) {
        sentAt[next] = performance.now();
        chunk += line(next);
      }
      if (chunk) pub.stdin!.write(chunk);
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  pub.stdin!.end();
  const deadline = setTimeout(() => consumer.child.kill('SIGTERM'), 30_000);
  await consumer.exit();
  clearTimeout(deadline);
  if (pub.exitCode === null) await once(pub, 'close');
  return {
    sent: total,
    received: delays.length,
    p50: round(quantile(delays, 0.5)),
    p99: round(quantile(delays, 0.99)),
    max: round(Math.max(...delays)),
  };
}

// --------------------------------------------------------------------------------------- memory

/** Peak RSS of a producer fed `megabytes` of 32 KiB lines through a pipe, and its MB/s. */
async function producerMemory(
  producerArgs: [string, string[]],
  megabytes: number,
): Promise<{ peakMb: number; seconds: number }> {
  const pub = producer(producerArgs);
  const peak = peakMemory(pub);
  const big = `${'x'.repeat(32 * 1024 - 1)}\n`;
  const count = Math.round((megabytes * 1024 * 1024) / big.length);
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (!pub.stdin!.write(big)) await once(pub.stdin!, 'drain');
  }
  pub.stdin!.end();
  if (pub.exitCode === null) await once(pub, 'close');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (pub.exitCode !== 0) throw new Error(`${producerArgs[0]} exited ${pub.exitCode}`);
  return { peakMb: peak(), seconds: round(seconds, 1) };
}

/** Peak RSS of a consumer after `count` messages piped to it. */
async function consumerMemory(
  consumer: Consumer,
  ready: (c: Consumer) => boolean,
  producerArgs: [string, string[]],
  count: number,
): Promise<{ peakMb: number; received: number }> {
  const peak = peakMemory(consumer.child);
  await consumer.until(ready);
  const pub = producer(producerArgs);
  for (let i = 0; i < count; i += 10_000) {
    if (!pub.stdin!.write(lines(i, Math.min(10_000, count - i)))) await once(pub.stdin!, 'drain');
  }
  pub.stdin!.end();
  // All of them, or (a producer that loses lines) nothing new for 5 s after the producer ended.
  while (consumer.messages < count) {
    const before = consumer.messages;
    await Promise.race([
      consumer.until((c) => c.messages >= count),
      new Promise((resolve) => setTimeout(resolve, 5000)),
    ]);
    if (consumer.messages === before && pub.exitCode !== null) break;
  }
  const peakMb = peak();
  const received = consumer.messages;
  consumer.child.kill('SIGTERM');
  await consumer.exit();
  if (pub.exitCode === null) await once(pub, 'close');
  return { peakMb, received };
}

// ------------------------------------------------------------------------------------ cold start

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Wall times of `runs` runs of each command, in milliseconds. The commands take turns (one run of
 * each, then again), so that a slower moment of a shared machine falls on all alike.
 */
function coldStarts<K extends string>(
  commands: Record<K, [string, string[]]>,
  runs = 21,
): Record<K, number[]> {
  const names = Object.keys(commands) as K[];
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < runs; i++) {
    for (const name of names) {
      const [command, args] = commands[name];
      const t = process.hrtime.bigint();
      run(command, args);
      times[name].push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  return times;
}

/** The median of a/b over runs taken side by side: noise that hit both runs of a turn cancels. */
const pairedRatio = (a: number[], b: number[]): number => round(median(a.map((x, i) => x / b[i]!)));

// ------------------------------------------------------------------------------------------- run

const results: Record<string, unknown> = { date: new Date().toISOString() };
const table: string[] = [];
const row = (...cells: (string | number)[]): number => table.push(`| ${cells.join(' | ')} |`);
const ratio = (a: number, b: number): number => round(a / b);

try {
  table.push(
    '| measure | sunoye | mosquitto clients | ratio | target |',
    '| --- | --- | --- | --- | --- |',
  );

  if (wanted('throughput')) {
    const sunoye: Pipe[] = [];
    const mosq: Pipe[] = [];
    for (let i = 0; i < RUNS; i++) {
      progress(`throughput run ${i + 1} of ${RUNS}`);
      sunoye.push(await sunoyeRooms(1, LINES));
      mosq.push(await mosquittoTopics(1, LINES));
    }
    const s = median(sunoye.map((r) => r.messagesPerSecond));
    const m = median(mosq.map((r) => r.messagesPerSecond));
    results.throughput = { lines: LINES, runs: RUNS, sunoye, mosquitto: mosq, ratio: ratio(s, m) };
    row(`piped throughput, msg/s (${LINES} lines, median of ${RUNS})`, s, m, ratio(s, m), '≥ 1.5');
    row(
      'lines received per run',
      sunoye.map((r) => r.received).join(', '),
      mosq.map((r) => r.received).join(', '),
      '',
      `${LINES} each`,
    );
  }

  if (wanted('latency')) {
    progress(`latency: 1,000 msg/s for ${LATENCY_SECONDS} s, each tool`);
    const room = await newRoom();
    const topic = `sunoye/room/latency-${randomBytes(4).toString('hex')}`;
    const total = 1000 * LATENCY_SECONDS;
    const s = await latency(
      (onLine) => sunoyeListen(room, total + 1, onLine),
      joined,
      sunoyePub(room),
      1000,
      LATENCY_SECONDS,
    );
    const m = await latency(
      (onLine) => mosquittoSub(topic, total + 1, onLine),
      () => true,
      mosquittoPub(topic),
      1000,
      LATENCY_SECONDS,
    );
    results.latency = { rate: 1000, seconds: LATENCY_SECONDS, sunoye: s, mosquitto: m };
    row('latency p50, ms (1,000 msg/s)', s.p50, m.p50, ratio(s.p50, m.p50), '< 1');
    row('latency p99, ms', s.p99, m.p99, ratio(s.p99, m.p99), '< 5');
    row('latency max, ms', s.max, m.max, ratio(s.max, m.max), '');
    row('lines received', `${s.received} of ${s.sent}`, `${m.received} of ${m.sent}`, '', 'all');
  }

  if (wanted('cold')) {
    progress('cold start');
    const room = await newRoom();
    // One run first, as a user's first run: it leaves the compile cache the others read.
    run(node, [bin('publish'), room, '-m', 'warm-up']);
    run(node, [bin('room'), 'info', room]);
    const times = coldStarts({
      nodeNoop: [node, ['-e', '0']],
      publishOne: [node, [bin('publish'), room, '-m', 'hi']],
      mosquittoPubOne: [
        'mosquitto_pub',
        [...auth, '-q', '1', '-t', 'sunoye/room/cold', '-m', 'hi'],
      ],
      roomInfo: [node, [bin('room'), 'info', room]],
    });
    const ms = (k: keyof typeof times): number => round(median(times[k]), 1);
    const cold = {
      nodeNoop: ms('nodeNoop'),
      publishOne: ms('publishOne'),
      mosquittoPubOne: ms('mosquittoPubOne'),
      roomInfo: ms('roomInfo'),
      publishOverNode: pairedRatio(times.publishOne, times.nodeNoop),
      runs: times.publishOne.length,
    };
    results.coldStartMs = cold;
    row(
      `\`publish R -m hi\`, ms (median of ${cold.runs})`,
      cold.publishOne,
      cold.mosquittoPubOne,
      ratio(cold.publishOne, cold.mosquittoPubOne),
      '',
    );
    row('`node -e 0`, ms', cold.nodeNoop, '', '', '');
    row('`publish -m` / `node -e 0` (median of paired runs)', cold.publishOverNode, '', '', '≤ 2');
    row('`room info R`, ms', cold.roomInfo, '', '', '');
  }

  if (wanted('memory')) {
    progress(`memory: ${MEMORY_MB} MB in 32 KiB lines through each producer`);
    const room = await newRoom();
    const s = await producerMemory(sunoyePub(room), MEMORY_MB);
    const m = await producerMemory(mosquittoPub('sunoye/room/memory'), MEMORY_MB);
    progress(`memory: a consumer after ${LISTEN_MESSAGES} messages`);
    const listenRoom = await newRoom();
    const sl = await consumerMemory(
      sunoyeListen(listenRoom, LISTEN_MESSAGES + 10),
      joined,
      sunoyePub(listenRoom),
      LISTEN_MESSAGES,
    );
    const topic = `sunoye/room/memory-${randomBytes(4).toString('hex')}`;
    const ml = await consumerMemory(
      mosquittoSub(topic, LISTEN_MESSAGES + 10),
      () => true,
      mosquittoPub(topic),
      LISTEN_MESSAGES,
    );
    results.memory = {
      megabytes: MEMORY_MB,
      publish: s,
      mosquittoPub: m,
      listen: sl,
      mosquittoSub: ml,
    };
    row(
      `producer peak RSS, MB (${MEMORY_MB} MB of 32 KiB lines)`,
      s.peakMb,
      m.peakMb,
      ratio(s.peakMb, m.peakMb),
      '< 100',
    );
    row('producer time for it, s', s.seconds, m.seconds, ratio(s.seconds, m.seconds), '');
    row(
      `consumer peak RSS after ${LISTEN_MESSAGES} messages, MB`,
      sl.peakMb,
      ml.peakMb,
      ratio(sl.peakMb, ml.peakMb),
      '< 80',
    );
  }

  if (wanted('registry')) {
    const kdf = await kdfMilliseconds();
    const registry: RegistryResult[] = [];
    const options = { rooms: ROOMS, members: MEMBERS, samples: 500 };
    progress(`registry: SQLite with ${ROOMS} rooms and ${MEMBERS} members`);
    registry.push(await benchRegistry(`sqlite:${join(dir, 'registry.db')}`, 'SQLite', options));
    let skipped: string | undefined;
    const name = `sunoye_bench_${randomBytes(4).toString('hex')}`;
    let admin: mysql.Connection | undefined;
    try {
      admin = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
    } catch (err) {
      skipped = `MySQL at ${MYSQL_URL} unreachable (${(err as Error).message}): MySQL registry NOT measured`;
      progress(`!!! ${skipped}`);
    }
    if (admin) {
      progress(`registry: MySQL with ${ROOMS} rooms and ${MEMBERS} members`);
      try {
        registry.push(await benchRegistry(`${MYSQL_URL}/${name}`, 'MySQL', options));
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
        await admin.end();
      }
    }
    results.registry = { kdfMs: kdf, backends: registry, skipped };
    for (const r of registry) {
      for (const op of ['create', 'join', 'info'] as const) {
        row(
          `registry ${r.backend} \`${op}\` p50 / p99 / max, ms (${r.rooms} rooms, ${r.members} members)`,
          `${r[op].p50} / ${r[op].p99} / ${r[op].max}`,
          '',
          '',
          'p99 < 20',
        );
      }
    }
    if (skipped) row('registry MySQL', 'skipped: unreachable', '', '', '');
    row('scrypt key derivation per create or join, ms (not in the rows above)', kdf, '', '', '');
  }

  if (wanted('scale')) {
    const scale: { rooms: number; sunoye: Pipe; mosquitto: Pipe }[] = [];
    for (const rooms of SCALE) {
      progress(`scale: ${rooms} room(s) at once, ${LINES} lines in all`);
      const perRoom = Math.floor(LINES / rooms);
      const s = await sunoyeRooms(rooms, perRoom);
      const m = await mosquittoTopics(rooms, perRoom);
      scale.push({ rooms, sunoye: s, mosquitto: m });
      row(
        `scale: ${rooms} room(s) at once, msg/s (${perRoom} lines each); received`,
        `${s.messagesPerSecond}; ${s.received}`,
        `${m.messagesPerSecond}; ${m.received}`,
        ratio(s.messagesPerSecond, m.messagesPerSecond),
        '',
      );
    }
    results.scale = scale;
  }
} finally {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}

writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${table.join('\n')}\n`);
