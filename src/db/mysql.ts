/**
 * The shared backend: MySQL or MariaDB through mysql2. Transactions lock the room's row
 * (SELECT ... FOR UPDATE) and are retried on deadlock; the schema is migrated under a named lock.
 */
import mysql from 'mysql2/promise';
import { UnavailableError } from '../errors.js';
import {
  applyMigrations,
  recordedVersion,
  SCHEMA_VERSION,
  type MigrationRunner,
} from './schema.js';
import type { Row, SqlDriver, SqlTx } from './sql.js';
import { SqlRoomStore } from './sql-store.js';
import type { MysqlTarget } from './url.js';

const RETRYABLE = new Set([1213 /* deadlock */, 1205 /* lock wait timeout */]);
const MAX_ATTEMPTS = 8;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_CON_COUNT_ERROR',
]);

type Queryable = Pick<mysql.Connection, 'query'>;

function runner(conn: Queryable): SqlTx & MigrationRunner {
  return {
    all: async (sql, params = []) => {
      const [rows] = await conn.query(sql, params);
      return rows as Row[];
    },
    run: async (sql, params = []) => {
      const [result] = await conn.query(sql, params);
      return { changes: (result as mysql.ResultSetHeader).affectedRows };
    },
  };
}

/** Turns a connection-level failure into a clear exit-4 error naming the (password-free) URL. */
function mysqlError(err: unknown, label: string): unknown {
  const e = err as { code?: string; fatal?: boolean; message?: string } | null;
  if (e && (NETWORK_CODES.has(e.code ?? '') || e.fatal === true)) {
    const hint = e.code === 'ECONNREFUSED' ? ' (is MySQL/MariaDB running?)' : '';
    const verb = e.code?.startsWith('ER_') ? 'use' : 'reach';
    return new UnavailableError(
      `cannot ${verb} the database ${label}: ${e.message ?? e.code}${hint}`,
      {
        cause: err,
      },
    );
  }
  return err;
}

class MysqlDriver implements SqlDriver {
  readonly kind = 'mysql' as const;
  readonly nowSql = 'CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)';
  readonly lockRows = ' FOR UPDATE';

  constructor(
    private readonly pool: mysql.Pool,
    readonly label: string,
  ) {}

  async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let conn: mysql.PoolConnection;
      try {
        conn = await this.pool.getConnection();
      } catch (err) {
        throw mysqlError(err, this.label);
      }
      try {
        await conn.query('START TRANSACTION');
        const result = await fn(runner(conn));
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        const errno = (err as { errno?: number } | null)?.errno ?? 0;
        if (!RETRYABLE.has(errno) || attempt >= MAX_ATTEMPTS) throw mysqlError(err, this.label);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      } finally {
        conn.release();
      }
    }
  }

  isDuplicateKey(err: unknown): boolean {
    return (err as { errno?: number } | null)?.errno === 1062;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

function createPool(target: MysqlTarget, database: string | undefined): mysql.Pool {
  const pool = mysql.createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database,
    connectTimeout: 5000,
    connectionLimit: 8,
    supportBigNumbers: true,
    bigNumberStrings: false,
    ...target.options,
  });
  // Times are epoch milliseconds computed from NOW(3): a fixed-offset session keeps them exact.
  pool.pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  return pool;
}

/** Creates the database if it does not exist, with a pool that names no database. */
async function ensureDatabase(target: MysqlTarget): Promise<void> {
  const pool = createPool(target, undefined);
  try {
    await pool.query(
      `CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(target.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
    );
  } finally {
    await pool.end();
  }
}

/** Brings the schema up to date under a named lock, so concurrent first starts are safe. */
async function migrate(pool: mysql.Pool): Promise<void> {
  if ((await recordedVersion(runner(pool))) === SCHEMA_VERSION) return;
  const conn = await pool.getConnection();
  try {
    const [rows] = await conn.query(
      "SELECT GET_LOCK(CONCAT('sunoye_schema:', DATABASE()), 30) AS got",
    );
    if ((rows as Row[])[0]?.got !== 1)
      throw new UnavailableError(
        'timed out waiting for another sunoye to set up the database schema',
      );
    try {
      await applyMigrations(runner(conn), 'mysql');
    } finally {
      await conn.query("SELECT RELEASE_LOCK(CONCAT('sunoye_schema:', DATABASE()))");
    }
  } finally {
    conn.release();
  }
}

/** Connects to a MySQL/MariaDB registry, creating its database and schema if needed. */
export async function openMysqlStore(target: MysqlTarget, label: string): Promise<SqlRoomStore> {
  let pool = createPool(target, target.database);
  try {
    try {
      await migrate(pool);
    } catch (err) {
      if ((err as { errno?: number }).errno !== 1049 /* unknown database */) throw err;
      await pool.end();
      await ensureDatabase(target);
      pool = createPool(target, target.database);
      await migrate(pool);
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw mysqlError(err, label);
  }
  return new SqlRoomStore(new MysqlDriver(pool, label));
}
