/**
 * A real 3-node MariaDB Galera cluster for tests, on free ports of 127.0.0.1: the first node is
 * bootstrapped (--wsrep-new-cluster), the others join it by rsync state transfer. Run as root,
 * the nodes run as the `mysql` user (as rsync transfer wants); otherwise as the test's own user.
 * Without mariadbd or the Galera library the suites are skipped loudly; with
 * SUNOYE_REQUIRE_CLUSTER=1 (CI) that is a failure instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './brokers.js';
import { waitFor } from './wait.js';

const MARIADBD = process.env.SUNOYE_TEST_MARIADBD ?? 'mariadbd';
const INSTALL_DB = 'mariadb-install-db';
const LIBRARIES = ['/usr/lib/galera/libgalera_smm.so', '/usr/lib/libgalera_smm.so'];

/** The Galera library, if installed (`dpkg -L galera-4 | grep libgalera`). */
function galeraLibrary(): string | undefined {
  const given = process.env.SUNOYE_TEST_GALERA_LIBRARY;
  return [...(given ? [given] : []), ...LIBRARIES].find((path) => existsSync(path));
}

/** What is missing to run a cluster, or undefined when nothing is. */
function missing(): string | undefined {
  if (spawnSync(MARIADBD, ['--version'], { stdio: 'ignore' }).error) return 'mariadbd';
  if (spawnSync(INSTALL_DB, ['--help'], { stdio: 'ignore' }).error) return INSTALL_DB;
  if (!galeraLibrary()) return 'the Galera library (galera-4)';
  if (spawnSync('rsync', ['--version'], { stdio: 'ignore' }).error) return 'rsync';
  return undefined;
}

/** Skips the calling suite (loudly) without the binaries, or fails it when clusters are required. */
export function requireGalera(ctx: Mocha.Context): void {
  const lacking = missing();
  if (!lacking) return;
  if (process.env.SUNOYE_REQUIRE_CLUSTER === '1')
    throw new Error(`SUNOYE_REQUIRE_CLUSTER=1 but ${lacking} was not found`);
  process.stderr.write(
    `\n  !!! SKIPPING Galera cluster tests: ${lacking} not found (install mariadb-server, galera-4 and rsync, or set SUNOYE_REQUIRE_CLUSTER=1 to fail instead)\n\n`,
  );
  ctx.skip();
}

/** A running cluster: each node's server URL (no database), and a stop that ends every node. */
export interface GaleraCluster {
  urls: string[];
  /** Each node's `127.0.0.1:PORT`, for a URL's list of hosts. */
  hosts: string[];
  /** Kills node `index` (0-based) with SIGKILL, as a crash would, and waits until it is gone. */
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

interface Node {
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

/** Waits until the node at `port` is synced with its cluster (or fails after `timeoutMs`). */
async function synced(node: Node, log: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `the Galera node on port ${node.port} to be synced (see ${log})`,
    async () => {
      if (node.child.exitCode !== null) throw new Error(`it exited (${node.child.exitCode})`);
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: node.port,
        user: 'root',
        connectTimeout: 1000,
      });
      try {
        const [rows] = await conn.query("SHOW STATUS LIKE 'wsrep_local_state_comment'");
        return (rows as { Value: string }[])[0]?.Value === 'Synced';
      } finally {
        await conn.end();
      }
    },
    timeoutMs,
    200,
  );
}

/** Ends a node: SIGTERM, then SIGKILL if it has not stopped within 10 s. */
async function end(node: Node): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    node.exited,
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        node.child.kill('SIGKILL');
        resolve(node.exited);
      }, 10_000);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * A node's environment: its temporary files go in its own data directory, which its user owns
 * (the run's temporary folder, TMPDIR, is root's and others may only pass through it).
 */
function nodeEnv(data: string): NodeJS.ProcessEnv {
  return { ...process.env, TMPDIR: data };
}

/** Starts a cluster of `size` nodes; each waits for the one before to be synced. */
export async function startGalera(size = 3): Promise<GaleraCluster> {
  const library = galeraLibrary()!;
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-galera-'));
  chmodSync(dir, 0o755); // the nodes' user must reach its data directory
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({
      sql: await freePort(),
      gcomm: await freePort(),
      sst: await freePort(),
      ist: await freePort(),
    })),
  );
  const cluster = ports.map((p) => `127.0.0.1:${p.gcomm}`).join(',');
  const nodes: Node[] = [];
  const endAll = async (): Promise<void> => {
    for (const node of nodes.splice(0).reverse()) await end(node);
  };
  try {
    for (const [i, p] of ports.entries()) {
      const data = join(dir, `node${i + 1}`);
      mkdirSync(data);
      const user = asRoot ? ['--user=mysql'] : [];
      if (asRoot) {
        const mysqlUser = spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' });
        const gid = spawnSync('id', ['-g', 'mysql'], { encoding: 'utf8' });
        chownSync(data, Number(mysqlUser.stdout), Number(gid.stdout));
      }
      if (i === 0) {
        const installed = spawnSync(
          INSTALL_DB,
          [
            '--no-defaults',
            ...user,
            `--datadir=${data}`,
            '--auth-root-authentication-method=normal',
            '--skip-test-db',
          ],
          { encoding: 'utf8', env: nodeEnv(data) },
        );
        if (installed.status !== 0)
          throw new Error(`${INSTALL_DB} failed: ${installed.stderr}${installed.stdout}`);
      }
      const log = join(data, 'error.log');
      const child = spawn(
        MARIADBD,
        [
          '--no-defaults',
          ...user,
          `--datadir=${data}`,
          `--socket=${join(data, 'mysqld.sock')}`,
          `--pid-file=${join(data, 'mysqld.pid')}`,
          `--log-error=${log}`,
          `--port=${p.sql}`,
          '--bind-address=127.0.0.1',
          '--innodb-buffer-pool-size=32M',
          '--innodb-log-file-size=8M',
          '--binlog-format=ROW',
          '--default-storage-engine=InnoDB',
          '--innodb-autoinc-lock-mode=2',
          '--wsrep-on=ON',
          `--wsrep-provider=${library}`,
          '--wsrep-cluster-name=sunoye_test',
          `--wsrep-cluster-address=gcomm://${cluster}`,
          `--wsrep-node-name=node${i + 1}`,
          `--wsrep-node-address=127.0.0.1:${p.gcomm}`,
          `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${p.gcomm};ist.recv_addr=127.0.0.1:${p.ist}`,
          '--wsrep-sst-method=rsync',
          `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`,
          ...(i === 0 ? ['--wsrep-new-cluster'] : []),
        ],
        { stdio: 'ignore', env: nodeEnv(data) },
      );
      const node: Node = {
        port: p.sql,
        child,
        exited: new Promise((resolve) => child.once('close', () => resolve())),
      };
      nodes.push(node);
      await synced(node, log, 30_000);
    }
  } catch (err) {
    await endAll(); // the folder stays, with each node's error.log
    throw err;
  }
  const started = [...nodes];
  return {
    urls: ports.map((p) => `mysql://root@127.0.0.1:${p.sql}`),
    hosts: ports.map((p) => `127.0.0.1:${p.sql}`),
    kill: async (index) => {
      const node = started[index]!;
      if (node.child.exitCode === null && node.child.signalCode === null)
        node.child.kill('SIGKILL');
      await node.exited;
    },
    stop: async () => {
      await endAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
