/**
 * The burst row of `npm run bench` (BENCH_ONLY=burst): on a stock mosquitto (a configuration
 * that says only where to listen, so its defaults hold: 20 QoS 1 messages in flight to a client,
 * 1,000 queued, what comes beyond dropped), `mosquitto_pub -l` sends a burst of MQTT-Chat JSON
 * lines to a raw topic, and to a plain room, read at the same time by `listen` and by
 * `mosquitto_sub`. Each run counts the lines each printed, and the broker's own count of the
 * messages it dropped (`$SYS/broker/publish/messages/dropped`, mosquitto 2.0).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/helpers/brokers.js';
import { waitFor } from '../test/helpers/wait.js';
import { Consumer, sunoyeBin } from './peers.js';

/** One burst: the lines each consumer printed, and what the broker says it dropped meanwhile. */
export interface Burst {
  target: 'topic' | 'room';
  lines: number;
  listen: number;
  mosquittoSub: number;
  dropped: number;
  /** How long mosquitto_pub took to send the burst, ms. */
  publishMs: number;
}

const PROBE = 'bench-burst-ready';
const MARK = ' the quick brown fox';

/** A mosquitto with its defaults (anonymous clients on 127.0.0.1; $SYS every second). */
async function stockMosquitto(dir: string): Promise<{ port: number; stop(): Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'stock.conf');
  // Only where to listen, and anonymous clients; $SYS each second so the count is read at once.
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'sys_interval 1'];
  if (process.getuid?.() === 0) lines.push('user root');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  await waitFor('the stock mosquitto', () => sysValue(port, 'version') !== undefined, 10_000);
  return {
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** One $SYS value of the broker on `port` (`$SYS/broker/<name>`), as it is published. */
function sysValue(port: number, name: string): string | undefined {
  const r = spawnSync(
    'mosquitto_sub',
    ['-p', String(port), '-t', `$SYS/broker/${name}`, '-C', '1', '-W', '3'],
    { encoding: 'utf8' },
  );
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const dropped = (port: number): number => Number(sysValue(port, 'publish/messages/dropped') ?? NaN);

/** `count` MQTT-Chat JSON lines, as MQTT-Chat's client sends them. */
function burstLines(count: number): string {
  let text = '';
  for (let i = 0; i < count; i++)
    text += `${JSON.stringify({ type: 'message', from: 'bob', message: `${String(i).padStart(8, '0')}${MARK} jumps over the lazy dog` })}\n`;
  return text;
}

async function closed(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'close');
}

/**
 * `runs` bursts of `lines` lines on a raw topic, and (with `room`, a plain room of the registry
 * in `env`) in that room, on a stock mosquitto started for it.
 */
export async function benchBurst(
  dir: string,
  env: Record<string, string>,
  options: {
    runs: number;
    lines: number;
    room?: (() => Promise<{ room: string; topic: string }>) | undefined;
    progress: (what: string) => void;
  },
): Promise<Burst[]> {
  const broker = await stockMosquitto(join(dir, 'stock-mosquitto'));
  const { port } = broker;
  // The programs' environment, on this broker (anonymous: no user or password).
  const own: Record<string, string> = { ...env, SUNOYE_BROKER: `mqtt://127.0.0.1:${port}` };
  delete own.SUNOYE_BROKER_USER;
  delete own.SUNOYE_BROKER_PASSWORD;
  const text = burstLines(options.lines);
  const results: Burst[] = [];
  const mosquittoPub = (topic: string, ...rest: string[]): [string, string[]] => [
    'mosquitto_pub',
    ['-p', String(port), '-q', '1', '-t', topic, ...rest],
  ];
  try {
    for (let i = 0; i < options.runs; i++) {
      const targets: { target: Burst['target']; topic: string; args: string[] }[] = [];
      const topic = `sunoye/room/burst-${randomBytes(4).toString('hex')}`;
      targets.push({ target: 'topic', topic, args: ['--topic', topic, '--plain'] });
      if (options.room) {
        const { room, topic: roomTopic } = await options.room();
        targets.push({ target: 'room', topic: roomTopic, args: [room] });
      }
      for (const t of targets) {
        options.progress(`burst run ${i + 1} of ${options.runs}: ${t.target}`);
        const consumer = (command: [string, string[]]): Consumer =>
          new Consumer(command, own, {
            isMessage: (l) => l.includes(MARK),
            isReady: (l) => l.includes(PROBE),
          });
        const listen = consumer([process.execPath, [sunoyeBin('listen'), ...t.args]]);
        const sub = consumer(['mosquitto_sub', ['-p', String(port), '-q', '1', '-t', t.topic]]);
        const deadline = Date.now() + 20_000;
        while (!listen.ready || !sub.ready) {
          if (Date.now() > deadline) throw new Error('burst: consumers not subscribed in 20 s');
          const probe = JSON.stringify({ type: 'notice', from: 'bench', notice: PROBE });
          const [command, args] = mosquittoPub(t.topic, '-m', probe);
          await closed(spawn(command, args, { stdio: 'ignore' }));
          await new Promise((r) => setTimeout(r, 100));
        }
        const before = dropped(port);
        const started = performance.now();
        const [command, args] = mosquittoPub(t.topic, '-l');
        const pub = spawn(command, args, { stdio: ['pipe', 'ignore', 'ignore'] });
        pub.stdin.end(text);
        await closed(pub);
        const publishMs = Math.round(performance.now() - started);
        // Done when both have everything, or when neither printed more for 2 s.
        let seen = -1;
        while (listen.messages + sub.messages !== seen) {
          seen = listen.messages + sub.messages;
          if (seen === 2 * options.lines) break;
          await new Promise((r) => setTimeout(r, 2000));
        }
        // The broker publishes its count every second.
        await new Promise((r) => setTimeout(r, 1500));
        results.push({
          target: t.target,
          lines: options.lines,
          listen: listen.messages,
          mosquittoSub: sub.messages,
          dropped: dropped(port) - before,
          publishMs,
        });
        listen.child.kill('SIGINT');
        sub.child.kill('SIGTERM');
        await Promise.all([listen.exit(), sub.exit()]);
      }
    }
  } finally {
    await broker.stop();
  }
  return results;
}
