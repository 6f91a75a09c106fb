/**
 * Brokers for tests, each on a free port: the embedded aedes broker in this process, and a real
 * mosquitto process started from the repository's mosquitto.conf. Without a mosquitto binary its
 * suites are skipped loudly; with SUNOYE_REQUIRE_MOSQUITTO=1 (CI) that is a failure instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from '../../src/mqtt/broker.js';
import { secretsGiven } from './cli.js';
import { waitFor } from './wait.js';

/** A broker a test can use and stop. */
export interface TestBroker {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The embedded aedes broker on a free port of 127.0.0.1 (`websockets`: a ws:// one as well). */
export async function startAedes(
  options: { websockets?: boolean } = {},
): Promise<TestBroker & { ws?: { url: string } }> {
  const broker = await startBroker('127.0.0.1', 0, options.websockets ? 0 : undefined);
  return {
    url: broker.url,
    port: broker.port,
    ...(broker.ws ? { ws: { url: broker.ws.url } } : {}),
    stop: () => broker.close(),
  };
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
  /** Ends the process with SIGKILL, as a crash would (no persistence file written); resolves once it has gone. */
  crash(): Promise<void>;
  /** The running process's id (changes with a restart). */
  readonly pid: number;
  /** The ordinary user the repository's ACL confines to sunoye/room/#. */
  user: { name: string; password: string };
  /** A user allowed everything (for raw observers in tests). */
  admin: { name: string; password: string };
  /** With `tls`: the mqtts:// URL and the CA that signed the server's certificate. */
  tls?: { url: string; ca: string; wrongCa: string };
  /** With `websockets`: the ws:// URL of a WebSockets listener (same users and ACL). */
  ws?: { url: string };
}

const repoFile = (name: string): string =>
  fileURLToPath(new URL(`../../../${name}`, import.meta.url));

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA (made now). */
function makeCertificates(dir: string): { ca: string; cert: string; key: string; wrongCa: string } {
  const f = (name: string): string => join(dir, name);
  for (const ca of ['ca', 'wrong-ca']) {
    run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=sunoye test ${ca}`,
      '-keyout',
      f(`${ca}.key`),
      '-out',
      f(`${ca}.crt`),
    ]);
  }
  run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  ]);
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('san.ext'),
    '-out',
    f('server.crt'),
  ]);
  return {
    ca: f('ca.crt'),
    cert: f('server.crt'),
    key: f('server.key'),
    wrongCa: f('wrong-ca.crt'),
  };
}

/**
 * Starts mosquitto with the repository's mosquitto.conf and ACL, on free ports, with a password
 * file (and, with `tls`, certificates) made for the test, and its data in `dir`.
 */
export async function startMosquitto(
  dir: string,
  options: {
    tls?: boolean;
    maxPacketSize?: number;
    websockets?: boolean;
    /** Lets clients with no login in as well, under the same ACL (the room page has no login). */
    anonymous?: boolean;
    /** Changes the configuration last, before it is written (e.g. other persistence settings). */
    edit?: (conf: string) => string;
  } = {},
): Promise<MosquittoBroker> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const user = { name: 'sunoye-test', password: randomBytes(12).toString('base64url') };
  const admin = { name: 'sunoye-admin', password: randomBytes(12).toString('base64url') };
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, '');
  secretsGiven.add(user.password).add(admin.password);
  run('mosquitto_passwd', ['-b', passwd, user.name, user.password]);
  run('mosquitto_passwd', ['-b', passwd, admin.name, admin.password]);
  const acl = join(dir, 'acl');
  writeFileSync(
    acl,
    `${readFileSync(repoFile('mosquitto.acl'), 'utf8')}\nuser ${admin.name}\ntopic readwrite #\n`,
  );
  let conf = readFileSync(repoFile('mosquitto.conf'), 'utf8')
    .replace(/^listener 1883 127\.0\.0\.1$/m, `listener ${port} 127.0.0.1`)
    .replace(/^password_file .*$/m, `password_file ${passwd}`)
    .replace(/^acl_file .*$/m, `acl_file ${acl}`)
    .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`);
  if (options.maxPacketSize !== undefined)
    conf = conf.replace(/^max_packet_size .*$/m, `max_packet_size ${options.maxPacketSize}`);
  if (options.anonymous) conf = conf.replace(/^allow_anonymous false$/m, 'allow_anonymous true');
  let tls: MosquittoBroker['tls'];
  if (options.tls) {
    const certs = makeCertificates(dir);
    const tlsPort = await freePort();
    conf = conf
      .replace(/^#listener 8883$/m, `listener ${tlsPort} 127.0.0.1`)
      .replace(/^#certfile .*$/m, `certfile ${certs.cert}`)
      .replace(/^#keyfile .*$/m, `keyfile ${certs.key}`)
      .replace(/^#cafile .*$/m, `cafile ${certs.ca}`);
    tls = { url: `mqtts://127.0.0.1:${tlsPort}`, ca: certs.ca, wrongCa: certs.wrongCa };
  }
  let ws: MosquittoBroker['ws'];
  if (options.websockets) {
    const wsPort = await freePort();
    conf += `\nlistener ${wsPort} 127.0.0.1\nprotocol websockets\n`;
    ws = { url: `ws://127.0.0.1:${wsPort}` };
  }
  // Started as root, mosquitto drops to its own user, which cannot read or write the test's folder.
  if (process.getuid?.() === 0) conf += '\nuser root\n';
  if (options.edit) conf = options.edit(conf);
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
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM'); // a clean stop writes the persistence file
    await exited;
  };
  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid ?? 0;
    },
    user,
    admin,
    ...(tls ? { tls } : {}),
    ...(ws ? { ws } : {}),
    stop: halt,
    crash: async () => {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
    restart: async () => {
      await halt();
      await launch();
    },
  };
}

/** The environment that points sunoye at `broker`, with the ordinary user's login on mosquitto. */
export function brokerEnv(broker: TestBroker | MosquittoBroker): Record<string, string> {
  const env: Record<string, string> = { SUNOYE_BROKER: broker.url };
  if ('user' in broker) {
    env.SUNOYE_BROKER_USER = broker.user.name;
    env.SUNOYE_BROKER_PASSWORD = broker.user.password;
  }
  return env;
}

/** A suite's mosquitto (see startMosquitto) with a scratch home and SQLite registry beside it. */
export interface MosquittoFixture {
  broker: MosquittoBroker;
  /** The programs' environment: HOME, SUNOYE_DB and the broker's URL and credentials. */
  env: Record<string, string>;
  /** Stops the broker and removes the scratch folder. */
  stop(): Promise<void>;
}

/** For a suite's `before`: skips (or fails) without mosquitto, else starts one in a temp folder. */
export async function mosquittoFixture(
  ctx: Mocha.Context,
  prefix: string,
  options: Parameters<typeof startMosquitto>[1] = {},
): Promise<MosquittoFixture> {
  requireMosquitto(ctx);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const broker = await startMosquitto(join(dir, 'mosquitto'), options);
    return {
      broker,
      env: { HOME: dir, SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`, ...brokerEnv(broker) },
      async stop() {
        await broker.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
