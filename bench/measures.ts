/**
 * The measures of `npm run bench`, each taken the same way for every peer: piped throughput,
 * latency at a steady rate, peak memory of a producer and of a consumer, and cold start.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { startProducer, type Command, type Consumer, type Peer } from './peers.js';

type Env = Record<string, string>;

export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** The median of a/b over runs taken side by side: noise that hit both runs of a turn cancels. */
export const pairedRatio = (a: number[], b: number[]): number =>
  round(median(a.map((x, i) => x / b[i]!)));

/** A line of ~70 bytes whose first 8 characters are its number. */
const line = (i: number): string =>
  `${String(i).padStart(8, '0')} the quick brown fox jumps over the lazy dog, piped along ok\n`;
/** `count` such lines, numbered from `from`, as one string. */
export const lines = (from: number, count: number): string =>
  Array.from({ length: count }, (_, i) => line(from + i)).join('');

const closed = async (p: ChildProcess): Promise<void> => {
  if (p.exitCode === null && p.signalCode === null) await once(p, 'close');
};

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

// ---------------------------------------------------------------------------------- throughput

export interface Pipe {
  seconds: number;
  received: number;
  messagesPerSecond: number;
}

/**
 * Pipes `perRoom` lines into each of `rooms` producer/consumer pairs of `peer` at once, consumers
 * started and ready first; times from the first line written to the last line printed.
 */
export async function pipe(peer: Peer, rooms: number, perRoom: number, env: Env): Promise<Pipe> {
  const targets = await Promise.all(Array.from({ length: rooms }, () => peer.target()));
  const consumers = targets.map((t) => peer.consumer(t, perRoom));
  await Promise.all(consumers.map((c, i) => peer.ready(c, targets[i]!)));
  const started = process.hrtime.bigint();
  const producers = targets.map((t) => startProducer(peer.producer(t), env));
  producers.forEach((p) => p.stdin!.end(lines(0, perRoom)));
  const timeout = setTimeout(() => consumers.forEach((c) => c.child.kill('SIGTERM')), 300_000);
  await Promise.all(consumers.map((c) => c.exit()));
  clearTimeout(timeout);
  const last = consumers.reduce((at, c) => (c.lastMessageAt > at ? c.lastMessageAt : at), started);
  const seconds = Number(last - started) / 1e9;
  await Promise.all(producers.map(closed));
  const received = consumers.reduce((sum, c) => sum + c.messages, 0);
  return {
    seconds: round(seconds, 3),
    received,
    messagesPerSecond: received > 0 ? Math.round(received / seconds) : 0,
  };
}

/**
 * The whole pipeline, as someone at a shell runs it: the consumer of `peer` started, the producer
 * started as soon as the consumer receives (`ready`: the peer's own way unless given), `count`
 * lines written into it; timed from starting the consumer to its last line printed, so both
 * programs' start is included.
 */
export async function wholePipeline(
  peer: Peer,
  count: number,
  env: Env,
  ready: Peer['ready'] = (c, t) => peer.ready(c, t),
): Promise<Pipe> {
  const target = await peer.target();
  const started = process.hrtime.bigint();
  const consumer = peer.consumer(target, count);
  await ready(consumer, target);
  const producer = startProducer(peer.producer(target), env);
  producer.stdin!.end(lines(0, count));
  const timeout = setTimeout(() => consumer.child.kill('SIGTERM'), 300_000);
  await consumer.exit();
  clearTimeout(timeout);
  await closed(producer);
  const seconds = Number(consumer.lastMessageAt - started) / 1e9;
  return {
    seconds: round(seconds, 3),
    received: consumer.messages,
    messagesPerSecond: consumer.messages > 0 ? Math.round(consumer.messages / seconds) : 0,
  };
}

// -------------------------------------------------------------------------------------- latency

export interface Latency {
  sent: number;
  received: number;
  p50: number;
  p99: number;
  max: number;
}

/** Writes `rate` lines a second for `seconds` into a producer of `peer`; times each arrival. */
export async function latency(
  peer: Peer,
  rate: number,
  seconds: number,
  env: Env,
): Promise<Latency> {
  const total = rate * seconds;
  const sentAt = new Float64Array(total + 1);
  const delays: number[] = [];
  let warm = false;
  const target = await peer.target();
  const consumer = peer.consumer(target, total + 1, (l) => {
    const at = performance.now();
    const i = Number(/(\d{8}) the quick/.exec(l)?.[1] ?? NaN);
    if (i === total) warm = true;
    else if (i >= 0 && i < total && sentAt[i]! > 0) delays.push(at - sentAt[i]!);
  });
  await peer.ready(consumer, target);
  const pub = startProducer(peer.producer(target), env);
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
  await closed(pub);
  return {
    sent: total,
    received: delays.length,
    p50: round(quantile(delays, 0.5)),
    p99: round(quantile(delays, 0.99)),
    max: round(Math.max(...delays)),
  };
}

// --------------------------------------------------------------------------------------- memory

/** Peak RSS of a producer of `peer` fed `megabytes` of 32 KiB lines through a pipe, and its time. */
export async function producerMemory(
  peer: Peer,
  megabytes: number,
  env: Env,
): Promise<{ peakMb: number; seconds: number }> {
  const [command, args] = peer.producer(await peer.target());
  const pub = startProducer([command, args], env);
  const peak = peakMemory(pub);
  const big = `${'x'.repeat(32 * 1024 - 1)}\n`;
  const count = Math.round((megabytes * 1024 * 1024) / big.length);
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (!pub.stdin!.write(big)) await once(pub.stdin!, 'drain');
  }
  pub.stdin!.end();
  await closed(pub);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (pub.exitCode !== 0) throw new Error(`${command} ${args[0]} exited ${pub.exitCode}`);
  return { peakMb: peak(), seconds: round(seconds, 1) };
}

/** Peak RSS of a consumer of `peer` after `count` messages piped to it by the peer's producer. */
export async function consumerMemory(
  peer: Peer,
  count: number,
  env: Env,
): Promise<{ peakMb: number; received: number }> {
  const target = await peer.target();
  // Told to stop later than `count`: it is measured while it still holds its connection.
  const consumer = peer.consumer(target, count + 10);
  const peak = peakMemory(consumer.child);
  await peer.ready(consumer, target);
  const pub = startProducer(peer.producer(target), env);
  for (let i = 0; i < count; i += 10_000) {
    if (!pub.stdin!.write(lines(i, Math.min(10_000, count - i)))) await once(pub.stdin!, 'drain');
  }
  pub.stdin!.end();
  // All of them, or (a producer that loses lines) nothing new for 5 s after the producer ended.
  while (consumer.messages < count) {
    const before = consumer.messages;
    await Promise.race([
      consumer.until((c: Consumer) => c.messages >= count),
      new Promise((resolve) => setTimeout(resolve, 5000)),
    ]);
    if (consumer.messages === before && pub.exitCode !== null) break;
  }
  const peakMb = peak();
  const received = consumer.messages;
  consumer.child.kill('SIGTERM');
  await consumer.exit();
  await closed(pub);
  return { peakMb, received };
}

// ------------------------------------------------------------------------------------ cold start

/** Runs a command to its end; throws with its stderr if it fails. */
export function run([command, args]: Command, env: Env): string {
  const r = spawnSync(command, args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Wall times of `runs` runs of each command, in milliseconds. The commands take turns (one run of
 * each, then again), so that a slower moment of a shared machine falls on all alike.
 */
export function coldStarts<K extends string>(
  commands: Record<K, Command>,
  env: Env,
  runs = 21,
): Record<K, number[]> {
  const names = Object.keys(commands) as K[];
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < runs; i++) {
    for (const name of names) {
      const t = process.hrtime.bigint();
      run(commands[name], env);
      times[name].push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  return times;
}
