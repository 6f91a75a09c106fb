/**
 * A real broker cluster for tests: three `nats-server` nodes on free ports of 127.0.0.1, routed to
 * one another, each with JetStream (which NATS's MQTT needs) and an MQTT listener (MQTT 3.1.1
 * only). Without the binary the calling suite is skipped loudly; with SUNOYE_REQUIRE_CLUSTER=1
 * (CI) that is a failure instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { freePort } from './brokers.js';
import { waitFor } from './wait.js';

const NATS = process.env.SUNOYE_TEST_NATS ?? 'nats-server';
/** Where Debian puts it, off the PATH of an ordinary user. */
const NATS_SBIN = '/usr/sbin/nats-server';

/** The nats-server binary to run (SUNOYE_TEST_NATS, the PATH's or Debian's); undefined without one. */
export function natsBinary(): string | undefined {
  for (const candidate of [NATS, NATS_SBIN])
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  return undefined;
}

/** Skips the calling suite (loudly) without nats-server, or fails it when a cluster is required. */
export function requireNats(ctx: Mocha.Context): string {
  const binary = natsBinary();
  if (binary !== undefined) return binary;
  if (process.env.SUNOYE_REQUIRE_CLUSTER === '1')
    throw new Error('SUNOYE_REQUIRE_CLUSTER=1 but no nats-server binary was found');
  process.stderr.write(
    '\n  !!! SKIPPING broker cluster tests: no nats-server binary (apt-get install nats-server)\n\n',
  );
  ctx.skip();
}

/** One node of the cluster. */
export interface NatsNode {
  name: string;
  /** Its MQTT listener: mqtt://127.0.0.1:PORT. */
  url: string;
  /** `127.0.0.1:PORT`, as sunoye names the node it reconnected via. */
  hostPort: string;
  /** Ends the process with SIGKILL, as a crash would; resolves once it has gone. */
  kill(): Promise<void>;
}

/** A running cluster. */
export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's URL, comma-separated: a broker list. */
  list(order?: number[]): string;
  /** Stops every node still running. */
  stop(): Promise<void>;
}

/**
 * A QoS 1 message from node `from` reaches a subscriber on node `to` (MQTT 3.1.1), within 5 s: a
 * node whose JetStream is not ready yet may never acknowledge a subscription or a message, and a
 * check that waits on it would hang the whole wait instead of being tried again.
 */
async function roundTrip(from: string, to: string): Promise<boolean> {
  const topic = `sunoye-test/ready/${Math.random().toString(36).slice(2)}`;
  const options = { protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 2000 };
  const clients: MqttClient[] = [];
  const attempt = async (): Promise<boolean> => {
    const subscriber = await connectAsync(to, options);
    clients.push(subscriber);
    await subscriber.subscribeAsync(topic, { qos: 1 });
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      subscriber.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    const publisher = await connectAsync(from, options);
    clients.push(publisher);
    await publisher.publishAsync(topic, 'ready', { qos: 1 });
    return await got;
  };
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 5000);
  });
  try {
    return await Promise.race([attempt().catch(() => false), bound]);
  } finally {
    clearTimeout(timer);
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

/**
 * Starts a 3-node cluster in `dir` and returns once every node takes MQTT: a QoS 1 message from
 * each node reaches a subscriber on the next (JetStream has its meta leader by then).
 */
export async function startNatsCluster(binary: string, dir: string): Promise<NatsCluster> {
  // A cluster that has not formed in time (a JetStream meta leader not elected, under load) is
  // started once more, afresh, on new ports.
  try {
    return await startNatsClusterOnce(binary, join(dir, 'first'));
  } catch (err) {
    process.stderr.write(`    (a NATS cluster did not form, started again: ${String(err)})\n`);
    return await startNatsClusterOnce(binary, join(dir, 'again'));
  }
}

async function startNatsClusterOnce(binary: string, dir: string): Promise<NatsCluster> {
  const count = 3;
  const ports = await Promise.all(
    Array.from({ length: count }, async () => ({
      client: await freePort(),
      mqtt: await freePort(),
      cluster: await freePort(),
    })),
  );
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.cluster}`).join(', ');
  const processes: (ChildProcess | undefined)[] = [];
  const exits: Promise<void>[] = [];
  const nodes: NatsNode[] = ports.map((p, i) => {
    const name = `n${i + 1}`;
    const store = join(dir, name);
    mkdirSync(store, { recursive: true });
    const conf = join(dir, `${name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${p.client}`,
        `jetstream { store_dir: "${store}" }`,
        `mqtt { listen: 127.0.0.1:${p.mqtt} }`,
        `cluster { name: sunoye-test, listen: 127.0.0.1:${p.cluster}, routes: [${routes}] }`,
        '',
      ].join('\n'),
    );
    const proc = spawn(binary, ['-c', conf], { stdio: 'ignore' });
    processes.push(proc);
    exits.push(new Promise((resolve) => proc.once('exit', () => resolve())));
    return {
      name,
      url: `mqtt://127.0.0.1:${p.mqtt}`,
      hostPort: `127.0.0.1:${p.mqtt}`,
      kill: async () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        await exits[i];
      },
    };
  });
  const cluster: NatsCluster = {
    nodes,
    list: (order = nodes.map((_, i) => i)) => order.map((i) => nodes[i]!.url).join(','),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.kill()));
    },
  };
  try {
    for (let i = 0; i < count; i += 1) {
      const from = nodes[i]!.url;
      const to = nodes[(i + 1) % count]!.url;
      await waitFor(
        `an MQTT round trip ${nodes[i]!.name} to the next node`,
        () => roundTrip(from, to).catch(() => false),
        20_000,
        200,
      );
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
