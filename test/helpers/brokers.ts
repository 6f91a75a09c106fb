/**
 * Brokers for tests, each on a free port: the embedded aedes broker in this process, and a real
 * mosquitto process started from the repository's mosquitto.conf. Without a mosquitto binary its
 * suites are skipped loudly; with SUNOYE_REQUIRE_MOSQUITTO=1 (CI) that is a failure instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from '../../src/commands/serve.js';
import { waitFor } from './wait.js';

/** A broker a test can use and stop. */
export interface TestBroker {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The embedded aedes broker on a free port of 127.0.0.1. */
export async function startAedes(): Promise<TestBroker> {
  const broker = await startBroker('127.0.0.1', 0);
  return { url: broker.url, port: broker.port, stop: () => broker.close() };
}

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it right away). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const MOSQUITTO = process.env.SUNOYE_TEST_MOSQUITTO ?? 'mosquitto';

/** Whether a mosquitto binary can be run. */
export function mosquittoInstalled(): boolean {
  return spawnSync(MOSQUITTO, ['-h'], { stdio: 'ignore' }).error === undefined;
}

/** Skips the calling suite (loudly) without mosquitto, or fails it when it is required. */
export function requireMosquitto(ctx: Mocha.Context): void {
  if (mosquittoInstalled()) return;
  if (process.env.SUNOYE_REQUIRE_MOSQUITTO === '1') {
    throw new Error('SUNOYE_REQUIRE_MOSQUITTO=1 but no mosquitto binary was found');
  }
  process.stderr.write(
    '\n  !!! SKIPPING mosquitto tests: no mosquitto binary (apt-get install mosquitto)\n\n',
  );
  ctx.skip();
}

/** A mosquitto process the test controls: it can be restarted on the same port. */
export interface MosquittoBroker extends TestBroker {
  restart(): Promise<void>;
}

const repoConf = fileURLToPath(new URL('../../../mosquitto.conf', import.meta.url));

/** Starts mosquitto with the repository's configuration, on a free port, data in `dir`. */
export async function startMosquitto(dir: string): Promise<MosquittoBroker> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = readFileSync(repoConf, 'utf8')
    .replace(/^listener 1883 127\.0\.0\.1$/m, `listener ${port} 127.0.0.1`)
    .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`)
    // Started as root, mosquitto drops to its own user, which cannot write the test's folder.
    .concat(process.getuid?.() === 0 ? '\nuser root\n' : '\n');
  const confPath = join(dir, 'mosquitto.conf');
  writeFileSync(confPath, conf);
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn(MOSQUITTO, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    child = proc;
    await waitFor(`mosquitto to listen on ${port}`, async () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${log}`);
      return accepts(port);
    });
  };
  const halt = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM'); // a clean stop writes the persistence file
    await exited;
  };
  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: halt,
    restart: async () => {
      await halt();
      await launch();
    },
  };
}
