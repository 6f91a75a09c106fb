/**
 * The shared backend: MySQL or MariaDB through mysql2. Transactions lock the room's row
 * (SELECT ... FOR UPDATE) and are retried, a bounded number of times, on deadlock or cluster
 * certification failure, lock wait timeout and a lost connection; the schema is migrated under a
 * named lock where the server has one, and every step of it is idempotent where it has not.
 * Nothing waits on the server without a bound: connecting and every statement time out (the
 * URL's `?timeout=`), a connection that timed out is destroyed rather than reused, and `close`
 * cuts what does not say goodbye in time, so a server that stops answering cannot hang us.
 * A URL may list the nodes of a cluster: mysql2's PoolCluster keeps a pool per node, uses the
 * first node that accepts, passes over one that failed for a while, and a transaction tried
 * again goes round the nodes, so a lease is renewed through any live node.
 */
import { connect, type Socket } from 'node:net';
import mysql from 'mysql2/promise';
import { RefusedError, UnavailableError } from '../errors.js';
import { backoffMs, isTransient, MAX_ATTEMPTS } from './retry.js';
import {
  applyMigrations,
  hasRooms,
  recordedVersion,
  SCHEMA_VERSION,
  type MigrationRunner,
} from './schema.js';
import type { Row, SqlDriver, SqlTx } from './sql.js';
import { SqlRoomStore } from './sql-store.js';
import { RegistryNotFoundError } from './store.js';
import type { MysqlTarget } from './url.js';

/** How long `close` lets connections say goodbye before cutting them. */
const CLOSE_GRACE_MS = 250;
/** How long a node of a list that failed to connect is passed over before it is tried again. */
const RESTORE_NODE_MS = 10_000;
/** The least time a node of a list gets to accept a connection. */
const MIN_NODE_CONNECT_MS = 500;
/** How long the schema lock may be held by another sunoye setting up the database, in seconds. */
const SCHEMA_LOCK_SECONDS = 30;
const TIMEOUT = 'PROTOCOL_SEQUENCE_TIMEOUT'; // mysql2's code for a statement that timed out
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  TIMEOUT,
  'PROTOCOL_CONNECTION_LOST',
  'ER_ACCESS_DENIED_ERROR',
  // 1698: a user the server authenticates otherwise (MariaDB's unix_socket, for one).
  'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_COLUMNACCESS_DENIED_ERROR',
  'ER_SPECIFIC_ACCESS_DENIED_ERROR',
  'ER_CON_COUNT_ERROR',
  // A Galera node outside its cluster's primary component, still so after the retries: most of
  // the cluster is down or cut off, which no other try of ours can change.
  'ER_UNKNOWN_COM_ERROR',
  'POOL_NONEONLINE', // every node of a list failed to connect within the last RESTORE_NODE_MS
]);

/** Runs one statement with a timeout; gives mysql2's rows or result header. */
type Query = (sql: string, values: unknown[], timeoutMs: number) => Promise<unknown>;

/** A connection's statements as a Query. */
const on =
  (conn: mysql.PoolConnection): Query =>
  async (sql, values, timeout) =>
    (await conn.query({ sql, values, timeout }))[0];

/** The moment by which an operation must be done. */
class Deadline {
  private readonly end: number;
  constructor(readonly ms: number) {
    this.end = Date.now() + ms;
  }
  /** Milliseconds left, at least 1 (mysql2 reads 0 as "no timeout"). */
  left(): number {
    return Math.max(1, this.end - Date.now());
  }
}

/** The error of an operation the server did not answer in time. */
function timedOut(ms: number, cause?: unknown): Error {
  return Object.assign(new Error(`no answer within ${ms / 1000} s`, { cause }), { code: TIMEOUT });
}

const isTimeout = (err: unknown): boolean => (err as { code?: string } | null)?.code === TIMEOUT;

/** Runs statements through `query`, each with a timeout of what is left of `deadline`. */
function runner(query: Query, deadline: () => Deadline): SqlTx & MigrationRunner {
  return {
    all: async (sql, params = []) => (await query(sql, params, deadline().left())) as Row[],
    run: async (sql, params = []) => {
      const result = await query(sql, params, deadline().left());
      return { changes: (result as mysql.ResultSetHeader).affectedRows };
    },
  };
}

/** The socket under a pooled connection (mysql2 keeps it as the connection's `stream`). */
function socketOf(conn: mysql.PoolConnection): Socket | undefined {
  return (conn.connection as unknown as { stream?: Socket }).stream;
}

/**
 * Takes a connection out of service for good. mysql2 leaves a connection whose statement timed
 * out open with that statement still first in its queue, so it would block whoever reused it;
 * and a polite close waits for a server that may never answer. Cutting the socket fails
 * whatever was queued on it at once and drops it from the pool.
 */
function discard(conn: mysql.PoolConnection, err: Error): void {
  const stream = socketOf(conn);
  conn.destroy();
  stream?.destroy(err);
}

/** What `pending` gives, or a timeout error when it does not come before `deadline`. */
async function within(
  pending: Promise<mysql.PoolConnection>,
  deadline: Deadline,
): Promise<mysql.PoolConnection> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      pending,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(timedOut(deadline.ms)), deadline.left());
      }),
    ]);
  } catch (err) {
    // One that comes too late goes back to the pool (a failed one is the pool's business).
    pending.then((conn) => conn.release()).catch(() => undefined);
    // A connect timeout (mysql2's connectTimeout, or the system's) is the same silence.
    throw (err as { code?: string }).code === 'ETIMEDOUT' ? timedOut(deadline.ms, err) : err;
  } finally {
    clearTimeout(timer);
  }
}

/** A server message without the user name it may quote (`user 'bob'@'host'` -> `user ***@'host'`). */
function withoutUser(message: string): string {
  return message.replace(/'(?:[^'\\]|\\.)*'@'/g, "***@'");
}

/**
 * Turns a connection-level failure or a refusal into a clear exit-4 error naming the database by
 * its label; neither says the user name or password.
 */
function mysqlError(err: unknown, label: string): unknown {
  const e = err as {
    code?: string;
    fatal?: boolean;
    message?: string;
    address?: string;
    port?: number;
    hostname?: string;
  } | null;
  if (e && (NETWORK_CODES.has(e.code ?? '') || e.fatal === true)) {
    // Worded as for the broker (src/mqtt/failure.ts), with the address that failed.
    if (e.code === 'ECONNREFUSED')
      return new UnavailableError(
        `cannot reach the database ${label}: connection refused` +
          `${e.address === undefined ? '' : ` at ${e.address.includes(':') ? `[${e.address}]` : e.address}${e.port === undefined ? '' : `:${e.port}`}`}; ` +
          'is MySQL/MariaDB running there?',
        { cause: err },
      );
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN')
      return new UnavailableError(
        `cannot reach the database ${label}: unknown host${e.hostname === undefined ? '' : ` ${e.hostname}`}; check the host name in --db`,
        { cause: err },
      );
    const hint =
      e.code === 'ER_ACCESS_DENIED_ERROR' || e.code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR'
        ? ' (check the user name and password in the database URL)'
        : e.code === 'ER_UNKNOWN_COM_ERROR'
          ? ' (a cluster node that is not in the primary component: more than half of the cluster must be running and connected)'
          : '';
    const verb = e.code?.startsWith('ER_') ? 'use' : 'reach';
    const what =
      e.code === 'POOL_NONEONLINE'
        ? `none of its nodes accepted a connection in the last ${RESTORE_NODE_MS / 1000} s`
        : withoutUser(e.message ?? e.code ?? '');
    return new UnavailableError(`cannot ${verb} the database ${label}: ${what}${hint}`, {
      cause: err,
    });
  }
  return err;
}

/**
 * The refusal (exit 3) for a database this user may not use (ER_DBACCESS_DENIED_ERROR, 1044): what
 * a user with rights on their own databases gets for one that is not there, misspelt or not theirs.
 */
function deniedDatabase(target: MysqlTarget, create: boolean, cause: unknown): RefusedError {
  const at = `${target.database} at ${target.hosts.map((h) => `${h.host}:${h.port}`).join(',')}`;
  return new RefusedError(
    create
      ? `this database user may not create or use the database ${at}: check the database name in --db, ` +
          "or ask the database's admin to create it and give this user access to it"
      : `this database user may not use the database ${at}: check the database name in --db ` +
          "(a misspelt name reads the same), or ask the database's admin for access",
    { cause },
  );
}

/** A node's name in the PoolCluster: its place in the URL's list, from 1. */
const nodeId = (index: number): string => `node${index + 1}`;

/**
 * The connections: mysql2's PoolCluster, with a pool per server of the URL, whose every socket is
 * its own, so that closing can cut the ones that hang. With one server, its error is the answer;
 * with a list, a node that fails to connect is passed over for a while and the next tried at once.
 */
class Pool {
  private readonly cluster: mysql.PoolCluster;
  /**
   * Of a list: the same nodes, none ever passed over, asked in turn when `cluster` passes over
   * every node (it would fail each call at once until a node's 10 s are up, and mysql2 has no way
   * to end them sooner), as a single server is asked again on each call.
   */
  private readonly fallback: mysql.PoolCluster | undefined;
  /** Each node's own sockets, by node (of a list: a node that stops answering has all cut). */
  private readonly nodeSockets: Set<Socket>[] = [];
  /** The connections whose session is set up (mysql2's own connection objects). */
  private readonly ready = new WeakSet<object>();

  constructor(
    target: MysqlTarget,
    database: string | undefined,
    readonly timeoutMs: number,
  ) {
    const many = target.hosts.length > 1;
    this.cluster = mysql.createPoolCluster(
      many
        ? {
            canRetry: true,
            removeNodeErrorCount: 1,
            restoreNodeTimeout: RESTORE_NODE_MS,
            defaultSelector: 'ORDER',
          }
        : { canRetry: false, removeNodeErrorCount: Number.MAX_SAFE_INTEGER },
    );
    this.fallback = many
      ? mysql.createPoolCluster({ canRetry: false, removeNodeErrorCount: Number.MAX_SAFE_INTEGER })
      : undefined;
    // Each node of a list gets its share of the time to accept, so that one which never answers
    // leaves time to try the others.
    const connectTimeout = many
      ? Math.max(MIN_NODE_CONNECT_MS, Math.floor(timeoutMs / target.hosts.length))
      : timeoutMs;
    for (const [i, { host, port }] of target.hosts.entries()) {
      const own = new Set<Socket>();
      this.nodeSockets.push(own);
      const id = nodeId(i);
      const options: mysql.PoolOptions = {
        // mysql2 connects through this instead of opening the socket itself.
        stream: () => {
          const socket = connect(port, host).setNoDelay(true).setKeepAlive(true);
          own.add(socket);
          socket.once('close', () => own.delete(socket));
          return socket;
        },
        user: target.user,
        password: target.password,
        database,
        connectTimeout,
        connectionLimit: 8,
        supportBigNumbers: true,
        bigNumberStrings: false,
        ...target.options,
      };
      this.cluster.add(id, options);
      this.fallback?.add(id, options);
    }
  }

  /**
   * A connection from the first node of the list that accepts (or the next in turn); when every
   * node failed in the last 10 s, from any that accepts now.
   */
  private async connection(deadline: Deadline, roundRobin: boolean): Promise<mysql.PoolConnection> {
    try {
      return await within(this.cluster.getConnection('*', roundRobin ? 'RR' : 'ORDER'), deadline);
    } catch (err) {
      if (!this.fallback || (err as { code?: string }).code !== 'POOL_NONEONLINE') throw err;
      let last = err;
      for (let i = 0; i < this.nodeSockets.length; i++) {
        if (deadline.left() <= 0) break;
        try {
          return await within(this.fallback.getConnection(nodeId(i)), deadline);
        } catch (failed) {
          last = failed;
        }
      }
      throw last;
    }
  }

  /**
   * Takes `conn` out of service after `err` (see `discard`). On a list, when `err` is silence,
   * every other connection to the same node goes too: the pool would hand each out in turn, each
   * to wait the whole timeout for the same silence, where a new connection to a silent node is
   * passed over within the node's share of it.
   */
  discard(conn: mysql.PoolConnection, err: Error): void {
    const stream = socketOf(conn);
    const node =
      this.nodeSockets.length > 1 && isTimeout(err)
        ? this.nodeSockets.find((own) => stream && own.has(stream))
        : undefined;
    discard(conn, err);
    for (const socket of node ?? []) socket.destroy(err);
  }

  /**
   * A connection with its session set up, or a timeout error when none comes before `deadline`.
   * The first node of the list that accepts, or (`roundRobin`, for a try after a failure) the
   * next node in turn, so that a node that fails statements is not the only one tried.
   */
  async checkout(deadline: Deadline, roundRobin = false): Promise<mysql.PoolConnection> {
    const take = () => this.connection(deadline, roundRobin);
    let conn = await take();
    // A connection whose socket was just cut (see `discard`) may still be idle in its pool until
    // mysql2 hears of it: it goes, and another is taken.
    while (socketOf(conn)?.destroyed) {
      conn.destroy();
      conn = await take();
    }
    if (this.ready.has(conn.connection)) return conn;
    try {
      // Times are epoch milliseconds computed from NOW(3): a fixed-offset session keeps them exact.
      await conn.query({ sql: "SET time_zone = '+00:00'", timeout: deadline.left() });
      // On a Galera cluster a read first waits for this node to apply what the others committed
      // before it, so a room made through one node is found through any other. MariaDB without
      // a cluster ignores the setting; MySQL does not know it (1193), which is as good.
      await conn
        .query({ sql: 'SET SESSION wsrep_sync_wait = 1', timeout: deadline.left() })
        .catch((err: { errno?: number }) => {
          if (err.errno !== 1193) throw err;
        });
      this.ready.add(conn.connection);
      return conn;
    } catch (err) {
      this.discard(conn, err as Error);
      conn.release();
      throw isTimeout(err) ? timedOut(deadline.ms, err) : err;
    }
  }

  /** Runs statements outside a transaction, each on a connection of its own, within the timeout. */
  direct(): SqlTx & MigrationRunner {
    const query: Query = async (sql, values) => {
      const deadline = new Deadline(this.timeoutMs);
      const conn = await this.checkout(deadline);
      try {
        return await on(conn)(sql, values, deadline.left());
      } catch (err) {
        if (isTimeout(err)) this.discard(conn, err as Error);
        throw err;
      } finally {
        conn.release();
      }
    };
    return runner(query, () => new Deadline(this.timeoutMs));
  }

  /** Ends the pool: a polite goodbye if the server answers soon, else every socket is cut. */
  async end(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const polite = await Promise.race([
      Promise.all([this.cluster.end(), this.fallback?.end()]).then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (!polite) for (const own of this.nodeSockets) for (const socket of own) socket.destroy();
  }
}

class MysqlDriver implements SqlDriver {
  readonly kind = 'mysql' as const;
  readonly nowSql = 'CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)';
  readonly lockRows = ' FOR UPDATE';
  readonly shareRows = ' LOCK IN SHARE MODE';

  constructor(
    private readonly pool: Pool,
    readonly label: string,
  ) {}

  async transaction<T>(fn: (tx: SqlTx) => Promise<T>, timeoutMs?: number): Promise<T> {
    const deadline = new Deadline(Math.min(timeoutMs ?? Infinity, this.pool.timeoutMs));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(fn, deadline, attempt);
      } catch (err) {
        const wait = backoffMs(attempt);
        if (!isTransient(err) || attempt >= MAX_ATTEMPTS || wait >= deadline.left())
          throw mysqlError(err, this.label);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Runs `fn` once in a transaction on a connection of its own (try number `attempt`). */
  private async attempt<T>(
    fn: (tx: SqlTx) => Promise<T>,
    deadline: Deadline,
    attempt: number,
  ): Promise<T> {
    const conn = await this.pool.checkout(deadline, attempt > 1);
    const tx = runner(on(conn), () => deadline);
    try {
      await tx.run('START TRANSACTION');
      const result = await fn(tx);
      await tx.run('COMMIT');
      return result;
    } catch (err) {
      if (isTimeout(err)) {
        this.pool.discard(conn, err as Error);
        throw timedOut(deadline.ms, err);
      }
      // What cannot be rolled back in time is cut: the server rolls back a closed session.
      await tx.run('ROLLBACK').catch((late: unknown) => discard(conn, late as Error));
      throw err;
    } finally {
      conn.release();
    }
  }

  isDuplicateKey(err: unknown): boolean {
    return (err as { errno?: number } | null)?.errno === 1062;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Creates the database if it does not exist, with a pool that names no database. */
async function ensureDatabase(target: MysqlTarget): Promise<void> {
  const pool = new Pool(target, undefined, target.timeoutMs);
  try {
    await pool
      .direct()
      .run(
        `CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(target.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      );
  } finally {
    await pool.end();
  }
}

/**
 * Brings the schema up to date under a named lock, so concurrent first starts are safe. On a
 * multi-primary cluster the lock holds on one node only (and a server may refuse it): the
 * migrations are idempotent, so nodes that run them at the same moment, or a server without the
 * lock, are safe too. Retried, as a whole, on the same passing failures as any transaction.
 */
async function migrate(pool: Pool, create: boolean, label: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(pool, create, label);
    } catch (err) {
      if (!isTransient(err) || attempt >= MAX_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
    }
  }
}

/** Takes the schema lock: true when held, false when the server has no such lock. */
async function schemaLock(conn: mysql.PoolConnection, timeoutMs: number): Promise<boolean> {
  let rows: Row[];
  try {
    [rows] = (await conn.query({
      sql: `SELECT GET_LOCK(CONCAT('sunoye_schema:', DATABASE()), ${SCHEMA_LOCK_SECONDS}) AS got`,
      timeout: SCHEMA_LOCK_SECONDS * 1000 + timeoutMs,
    })) as [Row[], unknown];
  } catch (err) {
    if ((err as { errno?: number }).errno === 1235 /* ER_NOT_SUPPORTED_YET */) return false;
    throw err;
  }
  if (rows[0]?.got !== 1)
    throw new UnavailableError(
      'timed out waiting for another sunoye to set up the database schema',
    );
  return true;
}

async function migrateOnce(pool: Pool, create: boolean, label: string): Promise<void> {
  const version = await recordedVersion(pool.direct());
  if (version === SCHEMA_VERSION) return;
  // A database without sunoye's tables (another program's, or an empty one) is no registry.
  if (version === 0 && !create && !(await hasRooms(pool.direct())))
    throw new RegistryNotFoundError(label, 'the database holds no registry');
  const conn = await pool.checkout(new Deadline(pool.timeoutMs));
  // Each statement gets the full timeout; waiting for the lock gets its wait on top.
  const tx = runner(on(conn), () => new Deadline(pool.timeoutMs));
  try {
    const locked = await schemaLock(conn, pool.timeoutMs);
    try {
      await applyMigrations(tx, 'mysql');
    } finally {
      // A session cut for not answering has lost its lock with it.
      if (locked)
        await tx
          .all("SELECT RELEASE_LOCK(CONCAT('sunoye_schema:', DATABASE()))")
          .catch((late: unknown) => discard(conn, late as Error));
    }
  } catch (err) {
    if (isTimeout(err)) discard(conn, err as Error);
    throw err;
  } finally {
    conn.release();
  }
}

/**
 * Connects to a MySQL/MariaDB registry and brings its schema up to date; with `create`, makes its
 * database and tables where they are not, else refuses a database that is not there or holds none.
 */
export async function openMysqlStore(
  target: MysqlTarget,
  label: string,
  create = true,
): Promise<SqlRoomStore> {
  let pool = new Pool(target, target.database, target.timeoutMs);
  try {
    try {
      await migrate(pool, create, label);
    } catch (err) {
      if ((err as { errno?: number }).errno !== 1049 /* unknown database */) throw err;
      if (!create)
        throw new RegistryNotFoundError(label, `no database ${target.database} on that server`);
      await pool.end();
      await ensureDatabase(target);
      pool = new Pool(target, target.database, target.timeoutMs);
      await migrate(pool, create, label);
    }
  } catch (err) {
    await pool.end();
    if ((err as { errno?: number }).errno === 1044 /* ER_DBACCESS_DENIED_ERROR */)
      throw deniedDatabase(target, create, err);
    throw mysqlError(isTimeout(err) ? timedOut(target.timeoutMs, err) : err, label);
  }
  return new SqlRoomStore(new MysqlDriver(pool, label));
}
