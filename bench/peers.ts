/**
 * The programs `npm run bench` compares, each as a peer: a producer that publishes every line of
 * its stdin, a consumer that prints what arrives, and a one-message publish for cold start.
 * sunoye (an encrypted and a plain room), mosquitto's clients, and MQTT.js's own command-line
 * client from the installed `mqtt` package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A program and its arguments. */
export type Command = [string, string[]];

/** What the peers need from the run: the broker's account and a way to make rooms. */
export interface PeerContext {
  env: Record<string, string>;
  port: number;
  /** Where producers connect, when not `port`: on a cluster, another node than the consumers'. */
  publishPort?: number;
  user: { name: string; password: string };
  /** Creates a room (as `room create [--plain]` does) and returns its number. */
  newRoom(plain: boolean): Promise<string>;
}

/** Counts the message lines a consumer prints and resolves waits on them. */
export class Consumer {
  readonly child: ChildProcess;
  messages = 0;
  ready = false;
  /** `process.hrtime.bigint()` when the last message line was printed. */
  lastMessageAt = 0n;
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(
    [command, args]: Command,
    env: Record<string, string>,
    options: {
      isMessage: (l: string) => boolean;
      isReady?: (l: string) => boolean;
      onLine?: (l: string) => void;
      /** Ends the consumer after this many messages (for clients that cannot stop by themselves). */
      stopAfter?: number;
    },
  ) {
    this.child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      const parts = (partial + c).split('\n');
      partial = parts.pop()!;
      for (const p of parts) {
        if (options.isMessage(p)) {
          this.messages += 1;
          this.lastMessageAt = process.hrtime.bigint();
        } else if (options.isReady?.(p)) this.ready = true;
        options.onLine?.(p);
      }
      if (this.messages >= (options.stopAfter ?? Infinity) && !this.child.killed) {
        this.child.kill('SIGTERM');
      }
      this.wake();
    });
    this.child.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `test` holds; rejects if the consumer ends before it does. */
  async until(test: (c: Consumer) => boolean): Promise<void> {
    while (!test(this)) {
      if (this.closed) throw new Error(`${this.child.spawnargs.join(' ')} ended early`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async exit(): Promise<void> {
    if (!this.closed) await once(this.child, 'close');
  }
}

/** One of the compared programs. */
export interface Peer {
  /** A fresh room number or topic to measure on. */
  target(): Promise<string>;
  /** A consumer of `target` that ends after `count` messages; `onLine` sees every line. */
  consumer(target: string, count: number, onLine?: (l: string) => void): Consumer;
  /** Resolves once the consumer receives whatever is published from now on. */
  ready(consumer: Consumer, target: string): Promise<void>;
  /** Publishes each line of its stdin to `target`, at QoS 1. */
  producer(target: string): Command;
  /** Publishes one message "hi" to `target` and exits. */
  publishOne(target: string): Command;
}

/** Where MQTT.js's command-line client (`mqtt pub`, `mqtt sub`) is, from the package's "bin". */
export function mqttCliPath(): string {
  const manifest = createRequire(import.meta.url).resolve('mqtt/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: Record<string, string> };
  if (!bin?.mqtt) throw new Error(`${manifest} declares no "mqtt" bin`);
  return join(dirname(manifest), bin.mqtt);
}

/** The path of one of sunoye's built programs (`room`, `listen`, `publish`). */
export const sunoyeBin = (p: string): string =>
  fileURLToPath(new URL(`../bin/${p}.js`, import.meta.url));

/** What a probe publishes to learn that a consumer receives (mosquitto_sub, `mqtt sub`). */
export const PROBE = 'bench-ready';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The four peers, on the broker of `ctx`. */
export function peers(ctx: PeerContext): {
  sunoye: Peer;
  sunoyePlain: Peer;
  mosquitto: Peer;
  mqttCli: Peer;
} {
  const node = process.execPath;
  // mosquitto's clients and MQTT.js's take the same connection flags. The address is given, as
  // the broker listens on 127.0.0.1 only and `localhost` may resolve to ::1 first.
  const { name, password } = ctx.user;
  const credentials = ['-u', name, '-P', password];
  const auth = ['-h', '127.0.0.1', '-p', String(ctx.port), ...credentials];
  const publishAuth = [
    '-h',
    '127.0.0.1',
    '-p',
    String(ctx.publishPort ?? ctx.port),
    ...credentials,
  ];
  const topic = (): Promise<string> =>
    Promise.resolve(`sunoye/room/bench-${randomBytes(4).toString('hex')}`);
  const mosquittoPub = (t: string, ...rest: string[]): Command => [
    'mosquitto_pub',
    [...publishAuth, '-q', '1', '-t', t, ...rest],
  ];
  const isLine = (l: string): boolean => l.length > 0 && l !== PROBE;
  // mosquitto_sub and `mqtt sub` say nothing once subscribed: probes are published until one is
  // printed.
  const probed = async (c: Consumer, t: string, what: string): Promise<void> => {
    const deadline = performance.now() + 20_000;
    while (!c.ready) {
      if (performance.now() > deadline) throw new Error(`${what} not subscribed in 20 s`);
      const [command, args] = mosquittoPub(t, '-m', PROBE);
      await once(spawn(command, args, { env: ctx.env, stdio: 'ignore' }), 'close');
      await Promise.race([c.until((x) => x.ready), sleep(100)]);
    }
  };

  const sunoyeIn = (plain: boolean): Peer => ({
    target: () => ctx.newRoom(plain),
    consumer: (room, count, onLine) =>
      new Consumer(
        [node, [sunoyeBin('listen'), room, '--json', '--count', String(count)]],
        ctx.env,
        {
          isMessage: (l) => l.includes('"type":"message"'),
          isReady: (l) => l.includes('"event":"join"'),
          onLine,
        },
      ),
    ready: (c) => c.until((x) => x.ready),
    producer: (room) => [node, [sunoyeBin('publish'), room]],
    publishOne: (room) => [node, [sunoyeBin('publish'), room, '-m', 'hi']],
  });

  const mqtt = mqttCliPath();
  return {
    sunoye: sunoyeIn(false),
    sunoyePlain: sunoyeIn(true),
    mosquitto: {
      target: topic,
      // Ended after `count` messages rather than by -C, which would count the probe too.
      consumer: (t, count, onLine) =>
        new Consumer(['mosquitto_sub', [...auth, '-q', '1', '-t', t]], ctx.env, {
          isMessage: isLine,
          isReady: (l) => l === PROBE,
          onLine,
          stopAfter: count,
        }),
      // On one mosquitto it subscribes at once; on a cluster the subscription is a replicated
      // write that can take longer than a producer's start.
      ready: (c, t) => probed(c, t, 'mosquitto_sub'),
      producer: (t) => mosquittoPub(t, '-l'),
      publishOne: (t) => mosquittoPub(t, '-m', 'hi'),
    },
    mqttCli: {
      target: topic,
      // `mqtt sub` prints each payload on a line (no -v: without the topic) and never stops by
      // itself; it is ended after `count` messages.
      consumer: (t, count, onLine) =>
        new Consumer([node, [mqtt, 'sub', ...auth, '-q', '1', '-t', t]], ctx.env, {
          isMessage: isLine,
          isReady: (l) => l === PROBE,
          onLine,
          stopAfter: count,
        }),
      ready: (c, t) => probed(c, t, '`mqtt sub`'),
      // -s -M (--stdin --multiline): one message per line of stdin. (-l is --protocol here.)
      producer: (t) => [node, [mqtt, 'pub', ...publishAuth, '-q', '1', '-t', t, '-s', '-M']],
      publishOne: (t) => [node, [mqtt, 'pub', ...publishAuth, '-q', '1', '-t', t, '-m', 'hi']],
    },
  };
}

/** Starts a producer with its stdin piped; its output is not read. */
export function startProducer([command, args]: Command, env: Record<string, string>): ChildProcess {
  return spawn(command, args, { env, stdio: ['pipe', 'ignore', 'ignore'] });
}
