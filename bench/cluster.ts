/**
 * The cluster section of `npm run bench`: sunoye on a real 3-node NATS cluster (MQTT 3.1.1 over
 * JetStream, started on free ports by test/helpers/nats.ts).
 *
 * - Piped throughput, publishers on node 2 and consumers on node 1, beside mosquitto's clients and
 *   MQTT.js's CLI on the same cluster in the same run. Each line they send is a QoS 1 message and
 *   so a replicated JetStream write (sunoye seals many lines into one message): their line count
 *   is a setting of its own, as they take far longer, and fewer lines are compared as rates.
 * - Failover: a listener and a publisher given the whole list of nodes, both on its first; that
 *   node is killed mid-stream. Measured: the time from the kill to the next line the listener shows
 *   through another node, and whether every line sent is shown, once. A fresh cluster each run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { natsBinary, startNatsCluster, type NatsNode } from '../test/helpers/nats.js';
import { waitFor } from '../test/helpers/wait.js';
import { median, pairedRatio, pipe, round, run, type Pipe } from './measures.js';
import { peers, sunoyeBin, type Command } from './peers.js';
import type { Report } from './report.js';

type Env = Record<string, string>;

export interface ClusterOptions {
  /** A scratch folder of the run; the section works in a folder of its own under it. */
  dir: string;
  runs: number;
  /** Lines piped through sunoye in each throughput run. */
  lines: number;
  /** Lines piped through mosquitto's and MQTT.js's clients in each throughput run. */
  peerLines: number;
  /** Lines a second the publisher writes across a failover, for `failoverSeconds`. */
  failoverRate: number;
  /** How long the stream lasts; the node dies a third of the way through. */
  failoverSeconds: number;
  progress(what: string): void;
}

/** One failover run. */
export interface Failover {
  sent: number;
  /** Message lines the listener printed, and how many distinct lines of those sent. */
  shown: number;
  distinct: number;
  duplicates: number;
  missing: number;
  /** The first of the lines never shown (numbered from 1), for a run that lost some. */
  missingLines?: number[];
  publishExit: number | null;
  /** What a publisher that failed said on stderr; what the listener said, in a run that lost lines. */
  publishError?: string;
  listenerStderr?: string;
  /** From the kill to the listener saying it reconnected; to the next line it showed after that. */
  reconnectMs?: number;
  nextLineMs?: number;
  /** From the kill to the publisher saying it reconnected. */
  publisherReconnectMs?: number;
  /** The longest time between two lines shown, around the kill. */
  longestGapMs: number;
  /** Where the listener and the publisher said they reconnected. */
  listenerVia?: string;
  publisherVia?: string;
}

export interface ClusterResult {
  skipped?: string;
  throughput?: {
    lines: number;
    peerLines: number;
    runs: number;
    sunoye: Pipe[];
    mosquitto: Pipe[];
    mqttCli: Pipe[];
    ratios: { mosquitto: number; mqttCli: number };
  };
  failover?: { rate: number; seconds: number; runs: Failover[] };
}

const node = process.execPath;

/** The environment of sunoye's programs on the cluster. */
function clusterEnv(dir: string, broker: string): Env {
  return {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    SUNOYE_HOME: join(dir, 'home'),
    SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
    SUNOYE_BROKER: broker,
    // NATS speaks 3.1.1 only. Said once, as its users would: the one-time fallback from MQTT 5 is
    // not what is measured here.
    SUNOYE_MQTT_VERSION: '3.1.1',
  };
}

/** `room create --json [--plain]` on the cluster; returns the room's number. */
function newRoom(env: Env, plain = false): string {
  const args = [sunoyeBin('room'), 'create', '--json', ...(plain ? ['--plain'] : [])];
  return (JSON.parse(run([node, args], env)) as { room: string }).room;
}

const portOf = (n: NatsNode): number => Number(n.hostPort.split(':')[1]);

/** Runs the section and adds its rows to `report`; returns what goes into bench-results.json. */
export async function benchCluster(
  report: Report,
  options: ClusterOptions,
): Promise<ClusterResult> {
  const binary = natsBinary();
  if (binary === undefined) {
    const skipped = 'no nats-server binary (apt-get install nats-server): cluster NOT measured';
    if (process.env.SUNOYE_REQUIRE_CLUSTER === '1')
      throw new Error(`SUNOYE_REQUIRE_CLUSTER=1 but ${skipped}`);
    options.progress(`!!! SKIPPING the cluster section: ${skipped}`);
    report.row('cluster (3 NATS nodes)', `SKIPPED: ${skipped}`);
    return { skipped };
  }
  const throughput = await clusterThroughput(binary, report, options);
  const runs: Failover[] = [];
  for (let i = 0; i < options.runs; i++) {
    options.progress(`cluster failover run ${i + 1} of ${options.runs}`);
    runs.push(await failover(binary, join(options.dir, `cluster-failover-${i + 1}`), options));
  }
  reportFailover(report, runs, options);
  return {
    throughput,
    failover: { rate: options.failoverRate, seconds: options.failoverSeconds, runs },
  };
}

async function clusterThroughput(
  binary: string,
  report: Report,
  options: ClusterOptions,
): Promise<ClusterResult['throughput']> {
  const dir = join(options.dir, 'cluster-throughput');
  const cluster = await startNatsCluster(binary, join(dir, 'nats'));
  try {
    const [n1, n2] = cluster.nodes as [NatsNode, NatsNode];
    // Rooms record the whole list; each program is then pointed at its one node.
    const env = clusterEnv(dir, cluster.list());
    const peer = peers({
      env: { ...env, SUNOYE_BROKER: n1.url },
      port: portOf(n1),
      publishPort: portOf(n2),
      // The cluster asks for no credentials; the clients' flags are given all the same.
      user: { name: 'bench', password: 'bench' },
      newRoom: (plain) => Promise.resolve(newRoom(env, plain)),
    });
    const publishEnv = { ...env, SUNOYE_BROKER: n2.url };
    const runs = { sunoye: [] as Pipe[], mosquitto: [] as Pipe[], mqttCli: [] as Pipe[] };
    for (let i = 0; i < options.runs; i++) {
      options.progress(`cluster throughput run ${i + 1} of ${options.runs}`);
      runs.sunoye.push(await pipe(peer.sunoye, 1, options.lines, publishEnv));
      runs.mosquitto.push(await pipe(peer.mosquitto, 1, options.peerLines, publishEnv));
      runs.mqttCli.push(await pipe(peer.mqttCli, 1, options.peerLines, publishEnv));
    }
    const rates = (t: keyof typeof runs): number[] => runs[t].map((r) => r.messagesPerSecond);
    const ratios = {
      mosquitto: pairedRatio(rates('sunoye'), rates('mosquitto')),
      mqttCli: pairedRatio(rates('sunoye'), rates('mqttCli')),
    };
    const received = (t: keyof typeof runs): string => runs[t].map((r) => r.received).join(', ');
    const all =
      runs.sunoye.every((r) => r.received === options.lines) &&
      [...runs.mosquitto, ...runs.mqttCli].every((r) => r.received === options.peerLines);
    // The others send each line as a QoS 1 message, a replicated write each.
    const sizes =
      options.lines === options.peerLines
        ? `${options.lines} lines each, sunoye in an encrypted room, the others at QoS 1`
        : `sunoye: encrypted room, ${options.lines} lines; the others: ${options.peerLines} lines ` +
          'at QoS 1; compared as rates';
    report.row(
      `cluster, 3 NATS nodes (MQTT 3.1.1 over JetStream): piped throughput, publisher on node 2 → ` +
        `consumer on node 1, msg/s (${sizes}; median of ${options.runs})`,
      median(rates('sunoye')),
      median(rates('mosquitto')),
      ratios.mosquitto,
      median(rates('mqttCli')),
      ratios.mqttCli,
      report.target('cluster throughput, x mosquitto', ratios.mosquitto, '≥', 1, ' x mosquitto'),
    );
    report.row(
      'cluster: seconds per run; lines received per run',
      `${runs.sunoye.map((r) => r.seconds).join(', ')}; ${received('sunoye')}`,
      `${runs.mosquitto.map((r) => r.seconds).join(', ')}; ${received('mosquitto')}`,
      '',
      `${runs.mqttCli.map((r) => r.seconds).join(', ')}; ${received('mqttCli')}`,
      '',
      report.check('cluster throughput, nothing lost', all ? 'all' : 'lines lost', 'all', all),
    );
    return {
      lines: options.lines,
      peerLines: options.peerLines,
      runs: options.runs,
      ...runs,
      ratios,
    };
  } finally {
    await cluster.stop();
  }
}

function reportFailover(report: Report, runs: Failover[], options: ClusterOptions): void {
  const times = (pick: (r: Failover) => number | undefined): number[] =>
    runs.map(pick).filter((ms): ms is number => ms !== undefined);
  const next = times((r) => r.nextLineMs);
  const spread = (xs: number[]): string =>
    xs.length ? `${round(median(xs), 0)} / ${round(Math.max(...xs), 0)}` : 'none';
  const of = `median / max of ${runs.length}`;
  report.row(
    `cluster failover: the node that \`listen\` and \`publish\` both use (each given all three ` +
      `with --broker) killed under ${options.failoverRate} lines/s, ms from the kill to the next ` +
      `line shown via another node (${of}; runs with none: ${runs.length - next.length})`,
    spread(next),
  );
  report.row(
    `cluster failover: ms from the kill to "reconnected via" at the listener; at the publisher (${of})`,
    `${spread(times((r) => r.reconnectMs))}; ${spread(times((r) => r.publisherReconnectMs))}`,
  );
  const once = runs.every(
    (r) => r.shown === r.sent && r.distinct === r.sent && r.publishExit === 0,
  );
  report.row(
    'cluster failover: lines shown of sent, per run (duplicates; `publish` exit code)',
    runs.map((r) => `${r.shown} of ${r.sent} (${r.duplicates}; ${r.publishExit})`).join(', '),
    '',
    '',
    '',
    '',
    report.check(
      'cluster failover, every line shown once',
      once ? 'all once' : 'lines lost, repeated or publish failed',
      'all once, exit 0',
      once,
    ),
  );
}

/** A program whose stdout and stderr lines are kept with the time each was read. */
interface Watched {
  child: ChildProcess;
  out: { at: number; text: string }[];
  err: { at: number; text: string }[];
}

function watch([command, args]: Command, env: Env): Watched {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const watched: Watched = { child, out: [], err: [] };
  for (const [stream, into] of [
    [child.stdout, watched.out],
    [child.stderr, watched.err],
  ] as const) {
    let partial = '';
    stream.setEncoding('utf8').on('data', (c: string) => {
      const at = performance.now();
      const parts = (partial + c).split('\n');
      partial = parts.pop()!;
      for (const text of parts) into.push({ at, text });
    });
  }
  return watched;
}

const ended = async (p: ChildProcess): Promise<void> => {
  if (p.exitCode === null && p.signalCode === null) await once(p, 'close');
};

/** A message line of `listen --json`: its text, or undefined for any other line. */
function messageOf(line: string): string | undefined {
  try {
    const m = JSON.parse(line) as { type?: string; message?: string };
    return m.type === 'message' ? m.message : undefined;
  } catch {
    return undefined;
  }
}

async function failover(binary: string, dir: string, options: ClusterOptions): Promise<Failover> {
  const cluster = await startNatsCluster(binary, join(dir, 'nats'));
  const running: Watched[] = [];
  try {
    const env = clusterEnv(dir, cluster.list());
    const room = newRoom(env);
    const total = options.failoverRate * options.failoverSeconds;
    const sent = Array.from({ length: total }, (_, i) => `failover line ${i + 1}`);
    const listener = watch(
      [node, [sunoyeBin('listen'), room, '--json', '--count', String(total)]],
      env,
    );
    running.push(listener);
    await waitFor(
      'the join notice',
      () => listener.out.some((l) => l.text.includes('"event":"join"')),
      30_000,
    );
    const publisher = watch([node, [sunoyeBin('publish'), room, '--timeout', '60']], env);
    running.push(publisher);
    // A publisher that gives up early shows in its exit code, not as a crash of the bench.
    publisher.child.stdin!.on('error', () => undefined);
    const killAt = Math.floor(total / 3);
    let killedAt = 0;
    let killed: Promise<void> | undefined;
    const t0 = performance.now();
    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        if (killed === undefined && next >= killAt) {
          killedAt = performance.now();
          killed = cluster.nodes[0]!.kill();
        }
        const due = Math.min(
          total,
          Math.floor(((performance.now() - t0) * options.failoverRate) / 1000),
        );
        const upTo = killed === undefined ? Math.min(due, killAt) : due;
        if (next < upTo) publisher.child.stdin!.write(`${sent.slice(next, upTo).join('\n')}\n`);
        next = Math.max(next, upTo);
        if (next < total) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    publisher.child.stdin!.end();
    await killed;
    const deadline = setTimeout(() => publisher.child.kill('SIGTERM'), 120_000);
    await ended(publisher.child);
    clearTimeout(deadline);
    // All lines, or nothing new for 5 s once the publisher has ended.
    const shownCount = (): number =>
      listener.out.filter((l) => messageOf(l.text) !== undefined).length;
    let seen = -1;
    while (listener.child.exitCode === null && shownCount() !== seen) {
      seen = shownCount();
      await Promise.race([ended(listener.child), new Promise((r) => setTimeout(r, 5000))]);
    }
    listener.child.kill('SIGTERM');
    await ended(listener.child);

    const shown = listener.out
      .map((l) => ({ at: l.at, message: messageOf(l.text) }))
      .filter((l): l is { at: number; message: string } => l.message !== undefined);
    const wanted = new Set(sent);
    const shownSet = new Set(shown.map((l) => l.message).filter((m) => wanted.has(m)));
    const distinct = shownSet.size;
    const missingLines = sent.flatMap((m, i) => (shownSet.has(m) ? [] : [i + 1])).slice(0, 20);
    const via = (w: Watched): { at: number; node: string } | undefined => {
      const found = w.err.find((l) => l.at >= killedAt && /reconnected via \S+/.test(l.text));
      return found && { at: found.at, node: /reconnected via (\S+)/.exec(found.text)![1]! };
    };
    const listenerVia = via(listener);
    const publisherVia = via(publisher);
    const after = listenerVia && shown.find((l) => l.at >= listenerVia.at);
    let longestGapMs = 0;
    for (let i = 1; i < shown.length; i++)
      longestGapMs = Math.max(longestGapMs, shown[i]!.at - shown[i - 1]!.at);
    return {
      sent: total,
      shown: shown.length,
      distinct,
      duplicates: shown.length - distinct,
      missing: total - distinct,
      ...(missingLines.length
        ? { missingLines, listenerStderr: listener.err.map((l) => l.text).join('\n') }
        : {}),
      publishExit: publisher.child.exitCode,
      ...(publisher.child.exitCode === 0
        ? {}
        : { publishError: publisher.err.map((l) => l.text).join('\n') }),
      reconnectMs: listenerVia && round(listenerVia.at - killedAt, 0),
      nextLineMs: after && round(after.at - killedAt, 0),
      publisherReconnectMs: publisherVia && round(publisherVia.at - killedAt, 0),
      longestGapMs: round(longestGapMs, 0),
      listenerVia: listenerVia?.node,
      publisherVia: publisherVia?.node,
    };
  } finally {
    for (const w of running) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(running.map((w) => ended(w.child)));
    await cluster.stop();
  }
}
