// `npm run bench`: sunoye side by side with mosquitto's own clients, on a mosquitto this script
// starts on a free port (the repository's configuration). Every comparison is a ratio measured in
// the same run. Prints a Markdown table and writes bench-results.json. This first version covers
// piped throughput and cold start; see the README's Performance section for what is still to come.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerEnv, startMosquitto } from '../test/helpers/brokers.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LINES = Number(process.env.BENCH_LINES ?? 50_000);
const bin = (p: string): string => fileURLToPath(new URL(`../bin/${p}.js`, import.meta.url));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'sunoye-bench-'));
const broker = await startMosquitto(join(dir, 'mosquitto'));
const env: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: dir,
  SUNOYE_DB: `sqlite:${join(dir, 'r.db')}`,
  ...brokerEnv(broker),
};
const auth = ['-p', String(broker.port), '-u', broker.user.name, '-P', broker.user.password];

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const room = (
  JSON.parse(run(process.execPath, [bin('room'), 'create', '--json'])) as { room: string }
).room;
const input =
  Array.from(
    { length: LINES },
    (_, i) =>
      `${String(i + 1).padStart(8, '0')} ${'the quick brown fox jumps over the lazy dog, piped '.slice(0, 60)}`,
  ).join('\n') + '\n';
const inputFile = join(dir, 'lines.txt');
writeFileSync(inputFile, input);

/** Starts a consumer, waits until it is ready, pipes the file into a producer; returns seconds and lines received. */
async function pipeThrough(
  consumer: [string, string[]],
  ready: (out: string) => boolean,
  producer: [string, string[]],
  count: (out: string) => number,
): Promise<{ seconds: number; received: number }> {
  const sub = spawn(consumer[0], consumer[1], { env });
  let out = '';
  sub.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (ready(out)) {
        clearInterval(check);
        resolve();
      }
    }, 10);
  });
  const started = process.hrtime.bigint();
  const pub = spawn(producer[0], producer[1], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  pub.stdin.end(input);
  const timeout = setTimeout(() => sub.kill('SIGTERM'), 120_000);
  await new Promise((resolve) => sub.once('close', resolve));
  clearTimeout(timeout);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise((resolve) =>
    pub.exitCode === null ? pub.once('close', resolve) : resolve(null),
  );
  return { seconds, received: count(out) };
}

const sunoyeRuns: { seconds: number; received: number }[] = [];
const mosquittoRuns: { seconds: number; received: number }[] = [];
for (let i = 0; i < RUNS; i++) {
  sunoyeRuns.push(
    await pipeThrough(
      [process.execPath, [bin('listen'), room, '--json', '--count', String(LINES)]],
      (out) => out.includes('"event":"join"'),
      [process.execPath, [bin('publish'), room]],
      (out) => out.split('\n').filter((l) => l.includes('"type":"message"')).length,
    ),
  );
  const topic = `sunoye/room/bench${i}`;
  mosquittoRuns.push(
    await pipeThrough(
      ['mosquitto_sub', [...auth, '-q', '1', '-t', topic, '-C', String(LINES), '-W', '120']],
      () => true,
      ['mosquitto_pub', [...auth, '-q', '1', '-t', topic, '-l']],
      (out) => out.split('\n').filter(Boolean).length,
    ),
  );
}

/** Median wall time of `runs` runs of a command, in milliseconds. */
function coldStart(command: string, args: string[], runs = 10): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    run(command, args);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}
const cold = {
  nodeNoop: coldStart(process.execPath, ['-e', '0']),
  publishOne: coldStart(process.execPath, [bin('publish'), room, '-m', 'hi']),
  mosquittoPubOne: coldStart('mosquitto_pub', [
    ...auth,
    '-q',
    '1',
    '-t',
    'sunoye/room/cold',
    '-m',
    'hi',
  ]),
  roomInfo: coldStart(process.execPath, [bin('room'), 'info', room]),
};

await broker.stop();
rmSync(dir, { recursive: true, force: true });

const rate = (r: { seconds: number; received: number }): number => r.received / r.seconds;
const sunoyeRate = median(sunoyeRuns.map(rate));
const mosquittoRate = median(mosquittoRuns.map(rate));
const results = {
  lines: LINES,
  runs: RUNS,
  throughput: {
    sunoye: {
      messagesPerSecond: Math.round(sunoyeRate),
      received: sunoyeRuns.map((r) => r.received),
    },
    mosquitto: {
      messagesPerSecond: Math.round(mosquittoRate),
      received: mosquittoRuns.map((r) => r.received),
    },
    ratio: Number((sunoyeRate / mosquittoRate).toFixed(2)),
  },
  coldStartMs: Object.fromEntries(Object.entries(cold).map(([k, v]) => [k, Math.round(v)])),
  coldStartRatio: { publishVsNode: Number((cold.publishOne / cold.nodeNoop).toFixed(2)) },
};
writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
const row = (a: string, b: string, c: string): string => `| ${a} | ${b} | ${c} |`;
process.stdout.write(
  [
    `| measure (${LINES} lines of ~70 bytes, median of ${RUNS}) | sunoye | mosquitto clients |`,
    '| --- | --- | --- |',
    row(
      'piped throughput, msg/s (encrypted room vs plain topic)',
      String(results.throughput.sunoye.messagesPerSecond),
      String(results.throughput.mosquitto.messagesPerSecond),
    ),
    row(
      'lines received per run',
      sunoyeRuns.map((r) => r.received).join(', '),
      mosquittoRuns.map((r) => r.received).join(', '),
    ),
    row('throughput ratio sunoye / mosquitto', String(results.throughput.ratio), '1'),
    row(
      'cold start `-m hi`, ms (median of 10)',
      String(results.coldStartMs.publishOne),
      String(results.coldStartMs.mosquittoPubOne),
    ),
    row(
      '`node -e 0` / `room info`, ms',
      `${results.coldStartMs.nodeNoop} / ${results.coldStartMs.roomInfo}`,
      '',
    ),
    row('publish cold start / node -e 0', String(results.coldStartRatio.publishVsNode), ''),
    '',
  ].join('\n'),
);
