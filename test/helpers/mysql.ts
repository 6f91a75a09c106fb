/**
 * The MySQL/MariaDB used by tests: `SUNOYE_TEST_MYSQL_URL` (default mysql://root@127.0.0.1:3306).
 * Each suite works in a database it creates and drops. Without a reachable server the suites are
 * skipped, loudly; with SUNOYE_REQUIRE_MYSQL=1 (CI) a missing server fails them instead.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

/** The server URL without a database. */
export const MYSQL_TEST_URL = (
  process.env.SUNOYE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
).replace(/\/+$/, '');
const required = process.env.SUNOYE_REQUIRE_MYSQL === '1';

let reachable: Promise<boolean> | undefined;

/** Whether the test server answers (probed once). */
export function mysqlReachable(): Promise<boolean> {
  reachable ??= (async () => {
    try {
      const conn = await mysql.createConnection({ uri: MYSQL_TEST_URL, connectTimeout: 3000 });
      await conn.end();
      return true;
    } catch {
      return false;
    }
  })();
  return reachable;
}

/** Skips the calling suite (loudly) when MySQL is unreachable, or fails it when it is required. */
export async function requireMysql(ctx: Mocha.Context): Promise<void> {
  if (await mysqlReachable()) return;
  if (required)
    throw new Error(`SUNOYE_REQUIRE_MYSQL=1 but MySQL is unreachable at ${MYSQL_TEST_URL}`);
  process.stderr.write(
    `\n  !!! SKIPPING MySQL tests: no server at ${MYSQL_TEST_URL} (set SUNOYE_TEST_MYSQL_URL, or SUNOYE_REQUIRE_MYSQL=1 to fail instead)\n\n`,
  );
  ctx.skip();
}

/** A scratch database: its URL, a raw query function, and a drop. */
export interface ScratchDatabase {
  url: string;
  name: string;
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Creates the database empty, as an older sunoye's would be before its tables are made. */
  create(): Promise<void>;
  drop(): Promise<void>;
}

/** Names a fresh database (not created: sunoye must create it itself). */
export async function scratchDatabase(): Promise<ScratchDatabase> {
  const name = `sunoye_test_${randomBytes(5).toString('hex')}`;
  const admin = await mysql.createConnection({ uri: MYSQL_TEST_URL, connectTimeout: 3000 });
  return {
    url: `${MYSQL_TEST_URL}/${name}`,
    name,
    async query(sql, params = []) {
      await admin.query(`USE ${mysql.escapeId(name)}`);
      const [result] = await admin.query(sql, params);
      return result as Record<string, unknown>[];
    },
    async create() {
      await admin.query(
        `CREATE DATABASE ${mysql.escapeId(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      );
    },
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
      await admin.end();
    },
  };
}
