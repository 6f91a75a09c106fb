// `npm run bench`: sunoye side by side with mosquitto's own clients and MQTT.js's own command-line
// client (`mqtt pub` / `mqtt sub`, from the installed mqtt package), on a mosquitto this script
// starts on a free port (the repository's configuration). Every comparison is a ratio measured in
// the same run, because the machine is shared and absolute times drift. Prints a Markdown table
// with each target and whether it was met, and writes bench-results.json (targets included).
//
// Sections (BENCH_ONLY=throughput,burst,history,late-joiner,latency,cold,signing,memory,flood,registry,scale,cluster,web
// runs a subset):
//   throughput  50,000 piped lines, publish → listen --json in an encrypted and in a plain room, vs
//               mosquitto_pub -l → mosquitto_sub and mqtt pub -s -M → mqtt sub; and the whole
//               pipeline in an encrypted room (listen started, publish once it receives, to the
//               last line printed: both programs' start included) vs mosquitto's clients
//   burst       on a stock mosquitto (its defaults: 20 in flight, 1,000 queued, the rest dropped),
//               bursts of BENCH_BURST_LINES (20,000) MQTT-Chat JSON lines from `mosquitto_pub -l`
//               to a raw topic and to a plain room, read by `listen` and `mosquitto_sub` at once,
//               BENCH_BURST_RUNS (5) runs: lines each printed, the broker's dropped count
//   history     the same pipe into an encrypted room keeping history (24 h) and one keeping none,
//               paired runs, SQLite registry (and MySQL when reachable); history rows one sender's
//               writer gets into the registry per second, typed lines and a pipe's batches
//   late-joiner `listen --last 10000` in a room whose history holds 10,000 lines, typed (a row
//               each) and piped (100 a row): reading, opening and ordering them in process, and
//               the program's time from its start to the last of them printed (BENCH_LATE_LINES)
//   latency     a steady 1,000 lines/s for 10 s, publish-to-print p50/p99/max, each tool
//   cold        `publish R -m hi` vs `node -e 0` vs `mosquitto_pub -m hi` vs `mqtt pub -m hi`;
//               `room info R`
//   memory      peak RSS of each producer fed 500 MB in 32 KiB lines; of each consumer after
//               100,000 messages (sunoye in an encrypted and in a plain room)
//   flood       a listener's peak RSS while a member sends 10 million crafted silent notices
//               (scattered numbers, made-up streams, many keys), and another member's lines shown
//   signing     sealing and opening one signed message of 1 line and of 1,000; loading the identity
//   registry    create/join/info p50/p99 at 10,000 rooms and 1,000 members, SQLite and MySQL
//   scale       sunoye's and mosquitto's throughput over 1, 10 and 100 rooms at once
//   cluster     on a 3-node NATS cluster (bench/cluster.ts): piped throughput, publisher on node 2
//               and consumer on node 1, each tool; failover time when the node of listen and
//               publish dies, and every line shown once (skipped, and said so, without nats-server)
//   web         the room page of `room serve --web` in a headless Chromium (bench/web.ts): page
//               start to joined (scrypt included), BENCH_WEB_LINES (10,000) lines piped into
//               `publish R` to the last one in the page, and the same into a terminal `listen R`;
//               the page's files as served gzipped (skipped, and said so, without a browser)
// Sizes: BENCH_RUNS, BENCH_LINES, BENCH_LATENCY_SECONDS, BENCH_MEMORY_MB, BENCH_LISTEN_MESSAGES,
// BENCH_FLOOD_NOTICES, BENCH_ROOMS, BENCH_MEMBERS, BENCH_SCALE (e.g. 1,10,100); MySQL at BENCH_MYSQL_URL
// (default mysql://root@127.0.0.1:3306; skipped, and said so, when unreachable). Cluster:
// BENCH_CLUSTER_LINES (sunoye, 20,000), BENCH_CLUSTER_PEER_LINES (mosquitto's and MQTT.js's
// clients, 5,000: a replicated write each line, 10-30 s a run on this machine's disk; compared
// as rates),
// BENCH_FAILOVER_RATE (lines/s, 200) and BENCH_FAILOVER_SECONDS (10; the node dies a third of
// the way).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import { resolveConfig } from '../src/config/config.js';
import { createRoom } from '../src/commands/create.js';
import { brokerEnv, startMosquitto } from '../test/helpers/brokers.js';
import {
  coldStarts,
  consumerMemory,
  latency,
  median,
  pairedRatio,
  pipe,
  wholePipeline,
  producerMemory,
  round,
  run,
  type Pipe,
} from './measures.js';
import { benchCluster } from './cluster.js';
import { peers, PROBE, sunoyeBin, type Consumer } from './peers.js';
import mqtt from 'mqtt';
import { Report } from './report.js';
import { benchRegistry, kdfMilliseconds, type RegistryResult } from './registry.js';
import { benchSigning } from './signing.js';
import { benchFlood } from './flood.js';
import {
  benchHistoryWrites,
  historyRoom,
  HISTORY_OFF,
  HISTORY_ON,
  type HistoryWrites,
} from './history-writer.js';
import { benchLateJoiner } from './history-read.js';
import { benchBurst } from './burst.js';
import { benchWeb, enteringMedian } from './web.js';
import { roomTopic } from '../src/mqtt/topics.js';

const num = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const RUNS = num('BENCH_RUNS', 3);
const LINES = num('BENCH_LINES', 50_000);
const LATENCY_SECONDS = num('BENCH_LATENCY_SECONDS', 10);
const MEMORY_MB = num('BENCH_MEMORY_MB', 500);
const LISTEN_MESSAGES = num('BENCH_LISTEN_MESSAGES', 100_000);
const FLOOD_NOTICES = num('BENCH_FLOOD_NOTICES', 10_000_000);
const ROOMS = num('BENCH_ROOMS', 10_000);
const MEMBERS = num('BENCH_MEMBERS', 1_000);
const SCALE = (process.env.BENCH_SCALE ?? '1,10,100').split(',').map(Number);
const CLUSTER_LINES = num('BENCH_CLUSTER_LINES', 20_000);
const CLUSTER_PEER_LINES = num('BENCH_CLUSTER_PEER_LINES', 5_000);
const FAILOVER_RATE = num('BENCH_FAILOVER_RATE', 200);
const FAILOVER_SECONDS = num('BENCH_FAILOVER_SECONDS', 10);
const LATE_LINES = num('BENCH_LATE_LINES', 10_000);
const BURST_LINES = num('BENCH_BURST_LINES', 20_000);
const BURST_RUNS = num('BENCH_BURST_RUNS', 5);
const WEB_LINES = num('BENCH_WEB_LINES', 10_000);
const MYSQL_URL = (process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(
  /\/+$/,
  '',
);
const only = process.env.BENCH_ONLY?.split(',');
const wanted = (section: string): boolean => !only || only.includes(section);
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
const node = process.execPath;

/** Creates a room through the library (as `room create [--plain]` does); returns its number. */
async function newRoom(plain: boolean): Promise<string> {
  let out = '';
  const stdout = new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) });
  const sink = new Writable({ write: (_c, _e, done) => done() });
  await createRoom(
    { config: resolveConfig({}, env), io: { stdin: process.stdin, stdout, stderr: sink, env } },
    { idleSeconds: 3600, plain, json: true },
  );
  return (JSON.parse(out) as { room: string }).room;
}

const peer = peers({ env, port: broker.port, user: broker.user, newRoom });

const report = new Report();
const row = report.row.bind(report);
const results: Record<string, unknown> = { date: new Date().toISOString() };
const ratio = (a: number, b: number): number => round(a / b);

try {
  if (wanted('throughput')) {
    const tools = ['sunoye', 'sunoyePlain', 'mosquitto', 'mqttCli'] as const;
    type Tool = (typeof tools)[number];
    const runs = Object.fromEntries(tools.map((t) => [t, [] as Pipe[]])) as Record<Tool, Pipe[]>;
    // The whole pipeline: mosquitto_sub is known to receive once a probe comes out of it; one is
    // published every 2 ms from here (spawning mosquitto_pub for each would add its start and a
    // 100 ms wait to mosquitto's time). listen says so itself: its join line.
    const prober = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: broker.user.name,
      password: broker.user.password,
      reconnectPeriod: 0,
    });
    const probed = async (c: Consumer, topic: string): Promise<void> => {
      const deadline = performance.now() + 20_000;
      while (!c.ready) {
        if (performance.now() > deadline) throw new Error('mosquitto_sub not subscribed in 20 s');
        prober.publish(topic, PROBE, { qos: 0 });
        await Promise.race([c.until((x) => x.ready), new Promise((r) => setTimeout(r, 2))]);
      }
    };
    const whole = { sunoye: [] as Pipe[], mosquitto: [] as Pipe[] };
    try {
      for (let i = 0; i < RUNS; i++) {
        for (const tool of tools) {
          progress(`throughput run ${i + 1} of ${RUNS}: ${tool}`);
          runs[tool].push(await pipe(peer[tool], 1, LINES, env));
        }
        progress(`whole pipeline run ${i + 1} of ${RUNS}: sunoye, mosquitto`);
        whole.sunoye.push(await wholePipeline(peer.sunoye, LINES, env));
        whole.mosquitto.push(await wholePipeline(peer.mosquitto, LINES, env, probed));
      }
    } finally {
      await prober.endAsync();
    }
    const rates = (t: Tool): number[] => runs[t].map((r) => r.messagesPerSecond);
    const rate = (t: Tool): number => median(rates(t));
    const x = (a: Tool, b: Tool): number => pairedRatio(rates(a), rates(b));
    const encrypted = { mosquitto: x('sunoye', 'mosquitto'), mqttCli: x('sunoye', 'mqttCli') };
    const plain = {
      mosquitto: x('sunoyePlain', 'mosquitto'),
      mqttCli: x('sunoyePlain', 'mqttCli'),
    };
    const received = (t: Tool): string => runs[t].map((r) => r.received).join(', ');
    const nothingLost = [...runs.sunoye, ...runs.sunoyePlain].every((r) => r.received === LINES);
    const wholeRates = (runs: Pipe[]): number[] => runs.map((r) => r.messagesPerSecond);
    const pipeline = pairedRatio(wholeRates(whole.sunoye), wholeRates(whole.mosquitto));
    results.throughput = {
      lines: LINES,
      runs: RUNS,
      ...runs,
      wholePipeline: whole,
      ratios: { encrypted, plain, wholePipeline: pipeline },
    };
    const of = `${LINES} lines, median of ${RUNS}`;
    row(
      `piped throughput, encrypted room, msg/s (${of})`,
      rate('sunoye'),
      rate('mosquitto'),
      encrypted.mosquitto,
      rate('mqttCli'),
      encrypted.mqttCli,
      report.target(
        'throughput, encrypted, x mosquitto',
        encrypted.mosquitto,
        '≥',
        6,
        ' x mosquitto',
      ),
    );
    const seconds = (runs: Pipe[]): number => median(runs.map((r) => r.seconds));
    const wholeLost = [...whole.sunoye, ...whole.mosquitto].some((r) => r.received !== LINES);
    row(
      `whole pipeline, encrypted room: listen started, publish once it receives, to the last line printed, msg/s; s (${of})`,
      `${median(wholeRates(whole.sunoye))}; ${seconds(whole.sunoye)}`,
      `${median(wholeRates(whole.mosquitto))}; ${seconds(whole.mosquitto)}`,
      pipeline,
      '',
      '',
      [
        report.target('whole pipeline, encrypted, x mosquitto', pipeline, '≥', 4, ' x mosquitto'),
        report.check(
          'whole pipeline, nothing lost',
          wholeLost ? 'lines lost' : 'all',
          `${LINES} each`,
          !wholeLost,
        ),
      ].join('; '),
    );
    row(
      `piped throughput, plain room (a message a line), msg/s (${of})`,
      rate('sunoyePlain'),
      rate('mosquitto'),
      plain.mosquitto,
      rate('mqttCli'),
      plain.mqttCli,
      [
        report.target('throughput, plain, x mosquitto', plain.mosquitto, '≥', 1.5, ' x mosquitto'),
        report.target(
          'throughput, plain, x MQTT.js CLI',
          plain.mqttCli,
          '≥',
          1.5,
          ' x MQTT.js CLI',
        ),
      ].join('; '),
    );
    row(
      'lines received per run (sunoye: encrypted; plain)',
      `${received('sunoye')}; ${received('sunoyePlain')}`,
      received('mosquitto'),
      '',
      received('mqttCli'),
      '',
      report.check(
        'throughput, nothing lost',
        nothingLost ? 'all' : 'lines lost',
        `${LINES} each`,
        nothingLost,
      ),
    );
  }

  if (wanted('burst')) {
    const bursts = await benchBurst(dir, env, {
      runs: BURST_RUNS,
      lines: BURST_LINES,
      room: async () => {
        const room = await newRoom(true);
        return { room, topic: roomTopic(resolveConfig({}, env).topicPrefix, room) };
      },
      progress,
    });
    results.burst = bursts;
    for (const target of ['topic', 'room'] as const) {
      const runs = bursts.filter((b) => b.target === target);
      const list = (f: (b: (typeof runs)[number]) => number): string => runs.map(f).join(', ');
      // Where mosquitto_sub lost nothing, listen must lose nothing either.
      const fair = runs.filter((b) => b.mosquittoSub === b.lines);
      const kept = fair.every((b) => b.listen === b.lines);
      const what = target === 'topic' ? '`listen --topic T --plain`' : '`listen R` (a plain room)';
      row(
        `burst of ${BURST_LINES} lines from \`mosquitto_pub -l\`, stock mosquitto: lines printed per run by ${what}; broker's dropped count`,
        `${list((b) => b.listen)}; dropped ${list((b) => b.dropped)}`,
        list((b) => b.mosquittoSub),
        '',
        '',
        '',
        report.check(
          `burst, ${target}: listen loses nothing where mosquitto_sub loses nothing`,
          `${fair.filter((b) => b.listen === b.lines).length} of ${fair.length} runs`,
          'all such runs',
          kept,
        ),
      );
    }
  }

  if (wanted('history')) {
    // MySQL, when it answers: the same pipe with the registry (and the history) there.
    let mysqlEnv: Record<string, string> | undefined;
    const mysqlName = `sunoye_bench_${randomBytes(4).toString('hex')}`;
    let admin: mysql.Connection | undefined;
    try {
      admin = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
      mysqlEnv = { ...env, SUNOYE_DB: `${MYSQL_URL}/${mysqlName}` };
    } catch (err) {
      progress(
        `!!! MySQL at ${MYSQL_URL} unreachable (${(err as Error).message}): history over MySQL NOT measured`,
      );
    }
    try {
      const registries = [
        { name: 'SQLite', env },
        ...(mysqlEnv ? [{ name: 'MySQL', env: mysqlEnv }] : []),
      ];
      const history: Record<string, unknown> = {};
      for (const registry of registries) {
        const on: Pipe[] = [];
        const off: Pipe[] = [];
        // The listener and publish of this registry (the others' env names SQLite).
        const own = peers({ env: registry.env, port: broker.port, user: broker.user, newRoom });
        const inRoom = (kept: typeof HISTORY_ON) => ({
          ...own.sunoye,
          target: () => historyRoom(registry.env, kept),
        });
        for (let i = 0; i < RUNS; i++) {
          progress(`history run ${i + 1} of ${RUNS}, ${registry.name}: kept, then not kept`);
          on.push(await pipe(inRoom(HISTORY_ON), 1, LINES, registry.env));
          off.push(await pipe(inRoom(HISTORY_OFF), 1, LINES, registry.env));
        }
        const rates = (runs: Pipe[]): number[] => runs.map((r) => r.messagesPerSecond);
        const x = pairedRatio(rates(on), rates(off));
        const all = [...on, ...off].every((r) => r.received === LINES);
        history[registry.name] = { lines: LINES, runs: RUNS, on, off, ratio: x };
        row(
          `piped throughput, encrypted room keeping history (${registry.name} registry) / keeping none, msg/s (${LINES} lines, median of ${RUNS})`,
          `${median(rates(on))} / ${median(rates(off))} = ${x} x`,
          '',
          '',
          '',
          '',
          [
            report.target(`history on / off, ${registry.name}`, x, '≥', 0.8, ' x'),
            report.check(
              `history on/off, ${registry.name}, nothing lost`,
              all ? 'all' : 'lines lost',
              `${LINES} each`,
              all,
            ),
          ].join('; '),
        );
      }
      const writes: HistoryWrites[] = [];
      for (const registry of registries) {
        const url = registry.env.SUNOYE_DB!;
        progress(`history writes: ${registry.name}, typed lines and piped batches`);
        writes.push(await benchHistoryWrites(url, registry.name, 20_000, 1));
        writes.push(await benchHistoryWrites(url, registry.name, 2_000, 400));
      }
      history.writes = writes;
      for (const w of writes)
        row(
          `history writes, one sender, ${w.backend}: rows/s (${w.linesPerRow === 1 ? 'a line' : `${w.linesPerRow} lines`} a row, ${w.rowBytes} B); lines/s; MB/s`,
          `${w.rowsPerSecond}; ${w.linesPerSecond}; ${w.megabytesPerSecond}`,
          '',
          '',
          '',
          '',
          report.check(
            `history writes, ${w.backend}, ${w.linesPerRow} a row, all kept`,
            w.kept,
            `${w.rows}`,
            w.kept === w.rows,
          ),
        );
      results.history = history;
    } finally {
      if (admin) {
        await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(mysqlName)}`);
        await admin.end();
      }
    }
  }

  if (wanted('late-joiner')) {
    const late: Record<string, unknown> = {};
    // Typed lines (a row each: the most rows to open and verify) and a pipe's batches.
    for (const perRow of [1, 100]) {
      progress(`late joiner: listen --last ${LATE_LINES}, ${perRow} line(s) a row`);
      const runs: Awaited<ReturnType<typeof benchLateJoiner>>[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await benchLateJoiner(env, LATE_LINES, perRow));
      const at = (key: 'readMs' | 'firstLineMs' | 'lastLineMs'): number =>
        median(runs.map((r) => r[key]));
      late[`perRow${perRow}`] = runs;
      const rows = perRow === 1 ? 'a row a line' : `${perRow} lines a row`;
      row(
        `late joiner, listen --last ${LATE_LINES} (${rows}, SQLite): read, opened and ordered in process; the program's first and last line of history, from its start, ms (median of ${RUNS})`,
        `${at('readMs')}; ${at('firstLineMs')}; ${at('lastLineMs')}`,
        '',
        '',
        '',
        '',
        report.target(
          `late joiner (${rows}), last line printed`,
          at('lastLineMs'),
          '<',
          1000,
          ' ms',
        ),
      );
    }
    results.lateJoiner = late;
  }

  if (wanted('latency')) {
    progress(`latency: 1,000 msg/s for ${LATENCY_SECONDS} s, each tool`);
    const s = await latency(peer.sunoye, 1000, LATENCY_SECONDS, env);
    const m = await latency(peer.mosquitto, 1000, LATENCY_SECONDS, env);
    const q = await latency(peer.mqttCli, 1000, LATENCY_SECONDS, env);
    results.latency = { rate: 1000, seconds: LATENCY_SECONDS, sunoye: s, mosquitto: m, mqttCli: q };
    const all = s.received === s.sent;
    row(
      'latency p50, ms (1,000 msg/s, encrypted room)',
      s.p50,
      m.p50,
      ratio(s.p50, m.p50),
      q.p50,
      ratio(s.p50, q.p50),
      report.target('latency p50, ms', s.p50, '<', 1),
    );
    row(
      'latency p99, ms',
      s.p99,
      m.p99,
      ratio(s.p99, m.p99),
      q.p99,
      ratio(s.p99, q.p99),
      report.target('latency p99, ms', s.p99, '<', 5),
    );
    row('latency max, ms', s.max, m.max, ratio(s.max, m.max), q.max, ratio(s.max, q.max));
    row(
      'lines received',
      `${s.received} of ${s.sent}`,
      `${m.received} of ${m.sent}`,
      '',
      `${q.received} of ${q.sent}`,
      '',
      report.check('latency, lines received', s.received, 'all', all),
    );
  }

  if (wanted('cold')) {
    progress('cold start');
    const room = await newRoom(false);
    const cold = 'sunoye/room/cold';
    // One run first, as a user's first run: it leaves the compile cache the others read.
    run(peer.sunoye.publishOne(room), env);
    run([node, [sunoyeBin('room'), 'info', room]], env);
    run(peer.mqttCli.publishOne(cold), env);
    const times = coldStarts(
      {
        nodeNoop: [node, ['-e', '0']],
        publishOne: peer.sunoye.publishOne(room),
        mosquittoPubOne: peer.mosquitto.publishOne(cold),
        mqttPubOne: peer.mqttCli.publishOne(cold),
        roomInfo: [node, [sunoyeBin('room'), 'info', room]],
      },
      env,
    );
    const ms = (k: keyof typeof times): number => round(median(times[k]), 1);
    const result = {
      nodeNoop: ms('nodeNoop'),
      publishOne: ms('publishOne'),
      mosquittoPubOne: ms('mosquittoPubOne'),
      mqttPubOne: ms('mqttPubOne'),
      roomInfo: ms('roomInfo'),
      publishOverNode: pairedRatio(times.publishOne, times.nodeNoop),
      publishOverMosquittoPub: pairedRatio(times.publishOne, times.mosquittoPubOne),
      publishOverMqttPub: pairedRatio(times.publishOne, times.mqttPubOne),
      mqttPubOverNode: pairedRatio(times.mqttPubOne, times.nodeNoop),
      runs: times.publishOne.length,
    };
    results.coldStartMs = result;
    row(
      `\`publish R -m hi\`, ms (median of ${result.runs}; ratios: median of paired runs)`,
      result.publishOne,
      result.mosquittoPubOne,
      result.publishOverMosquittoPub,
      result.mqttPubOne,
      result.publishOverMqttPub,
      report.target(
        'cold start, x `mqtt pub -m`',
        result.publishOverMqttPub,
        '≤',
        0.45,
        ' x MQTT.js CLI',
      ),
    );
    row('`node -e 0`, ms', result.nodeNoop);
    row(
      '`publish -m` / `node -e 0`, median of paired runs (MQTT.js CLI: `mqtt pub -m` / it)',
      result.publishOverNode,
      '',
      '',
      result.mqttPubOverNode,
      '',
      report.target(
        'cold start, x `node -e 0`',
        result.publishOverNode,
        '≤',
        2.0,
        ' x `node -e 0`',
      ),
    );
    row('`room info R`, ms', result.roomInfo);
  }

  if (wanted('flood')) {
    progress(`flood: ${FLOOD_NOTICES} crafted notices into a running listen`);
    const flood = await benchFlood(FLOOD_NOTICES);
    results.flood = flood;
    row(
      `listen peak RSS, MB, under ${flood.notices.toLocaleString('en')} crafted silent notices`,
      flood.peakMb,
      '',
      '',
      '',
      '',
      report.target('listen peak RSS under a flood, MB', flood.peakMb, '<', 150),
    );
    row(
      "another member's lines shown meanwhile",
      `${flood.shown} of ${flood.lines}`,
      '',
      '',
      '',
      '',
      report.check(
        'lines shown under a flood',
        flood.shown,
        `${flood.lines}`,
        flood.shown === flood.lines,
      ),
    );
    row('crafted notices per second taken by listen', flood.noticesPerSecond);
  }

  if (wanted('signing')) {
    progress('signing: seal and open, in process');
    const signing = benchSigning();
    results.signing = signing;
    row(
      'signed envelope, µs per MQTT message: seal / open, 1 line',
      `${signing.seal1Us} / ${signing.open1Us}`,
    );
    row(
      'signed envelope, µs per MQTT message: seal / open, a batch of 1,000 lines',
      `${signing.seal1000Us} / ${signing.open1000Us}`,
    );
    row('loading the identity (every `publish` and `listen`), ms', signing.loadIdentityMs);
  }

  if (wanted('memory')) {
    progress(`memory: ${MEMORY_MB} MB in 32 KiB lines through each producer`);
    const s = await producerMemory(peer.sunoye, MEMORY_MB, env);
    const m = await producerMemory(peer.mosquitto, MEMORY_MB, env);
    const q = await producerMemory(peer.mqttCli, MEMORY_MB, env);
    progress(`memory: each consumer after ${LISTEN_MESSAGES} messages`);
    const sl = await consumerMemory(peer.sunoye, LISTEN_MESSAGES, env);
    const pl = await consumerMemory(peer.sunoyePlain, LISTEN_MESSAGES, env);
    const ml = await consumerMemory(peer.mosquitto, LISTEN_MESSAGES, env);
    const ql = await consumerMemory(peer.mqttCli, LISTEN_MESSAGES, env);
    results.memory = {
      megabytes: MEMORY_MB,
      messages: LISTEN_MESSAGES,
      publish: s,
      mosquittoPub: m,
      mqttPub: q,
      listen: sl,
      listenPlain: pl,
      mosquittoSub: ml,
      mqttSub: ql,
    };
    row(
      `producer peak RSS, MB (${MEMORY_MB} MB of 32 KiB lines)`,
      s.peakMb,
      m.peakMb,
      ratio(s.peakMb, m.peakMb),
      q.peakMb,
      ratio(s.peakMb, q.peakMb),
      report.target('`publish` peak RSS, MB', s.peakMb, '<', 100),
    );
    row(
      'producer time for it, s',
      s.seconds,
      m.seconds,
      ratio(s.seconds, m.seconds),
      q.seconds,
      ratio(s.seconds, q.seconds),
    );
    for (const [label, l] of [
      ['encrypted room', sl],
      ['plain room', pl],
    ] as const) {
      row(
        `consumer peak RSS after ${LISTEN_MESSAGES} messages, MB (sunoye: ${label})`,
        l.peakMb,
        ml.peakMb,
        ratio(l.peakMb, ml.peakMb),
        ql.peakMb,
        ratio(l.peakMb, ql.peakMb),
        report.target(`\`listen\` peak RSS, ${label}, MB`, l.peakMb, '<', 80),
      );
    }
    const all = sl.received === LISTEN_MESSAGES && pl.received === LISTEN_MESSAGES;
    row(
      'messages the consumer received (sunoye: encrypted; plain)',
      `${sl.received}; ${pl.received}`,
      ml.received,
      '',
      ql.received,
      '',
      report.check('memory, messages received', all ? 'all' : 'lines lost', 'all', all),
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
          '',
          '',
          report.check(
            `registry ${r.backend} ${op} p99, ms`,
            r[op].p99,
            'p99 < 20',
            r[op].p99 < 20,
          ),
        );
      }
    }
    if (skipped) row('registry MySQL', 'skipped: unreachable');
    row('scrypt key derivation per create or join, ms (not in the rows above)', kdf);
  }

  if (wanted('scale')) {
    const scale: { rooms: number; sunoye: Pipe; mosquitto: Pipe }[] = [];
    for (const rooms of SCALE) {
      progress(`scale: ${rooms} room(s) at once, ${LINES} lines in all`);
      const perRoom = Math.floor(LINES / rooms);
      const s = await pipe(peer.sunoye, rooms, perRoom, env);
      const m = await pipe(peer.mosquitto, rooms, perRoom, env);
      scale.push({ rooms, sunoye: s, mosquitto: m });
      row(
        `scale: ${rooms} room(s) at once, msg/s (${perRoom} lines each); received`,
        `${s.messagesPerSecond}; ${s.received}`,
        `${m.messagesPerSecond}; ${m.received}`,
        ratio(s.messagesPerSecond, m.messagesPerSecond),
      );
    }
    results.scale = scale;
  }

  if (wanted('cluster')) {
    results.cluster = await benchCluster(report, {
      dir,
      runs: RUNS,
      lines: CLUSTER_LINES,
      peerLines: CLUSTER_PEER_LINES,
      failoverRate: FAILOVER_RATE,
      failoverSeconds: FAILOVER_SECONDS,
      progress,
    });
  }
  if (wanted('web')) {
    progress(`web: the room page in Chromium, ${WEB_LINES} lines, beside \`listen\``);
    const web = await benchWeb({ runs: RUNS, lines: WEB_LINES, progress });
    results.web = web;
    if ('skipped' in web) row('room page (`room serve --web`)', `skipped: ${web.skipped}`);
    else {
      const at = (key: Parameters<typeof enteringMedian>[1]): number =>
        enteringMedian(web.entering, key);
      row(
        `room page, \`goto\` to joined (typing and scrypt N=${web.kdfN} included); \`goto\` to the form; submitted to joined; of which deriving the key, ms (median of ${RUNS}, a fresh browser context each)`,
        `${at('totalMs')}; ${at('readyMs')}; ${at('submitToJoinedMs')}; ${at('derivingMs')}`,
      );
      const rates = (runs: Pipe[]): number[] => runs.map((r) => r.messagesPerSecond);
      const seconds = (runs: Pipe[]): number => median(runs.map((r) => r.seconds));
      const all = web.page.every((r) => r.received === WEB_LINES);
      row(
        `${WEB_LINES} lines piped into \`publish R\` (encrypted room), to the last one shown: in the room page; in a terminal \`listen R --json\` (x the page), msg/s; the same in s (median of ${RUNS})`,
        `${median(rates(web.page))}; ${median(rates(web.terminal))} (${pairedRatio(rates(web.terminal), rates(web.page))} x); ${seconds(web.page)}; ${seconds(web.terminal)}`,
        '',
        '',
        '',
        '',
        report.check(
          'web, every line shown in the page',
          web.page.map((r) => r.received).join(', '),
          `${WEB_LINES} each`,
          all,
        ),
      );
      row(
        `room page's files (${Object.keys(web.files).join(', ')}), bytes as served: gzipped (plain)`,
        `${web.gzippedBytes} (${web.plainBytes})`,
      );
    }
  }
} finally {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}

results.targets = report.targets;
writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${report.table()}\n`);
progress(report.summary());
