/**
 * The embedded backend: one SQLite file in WAL mode. Transactions are BEGIN IMMEDIATE, so a
 * writer holds the file's write lock from its first read; other processes wait (busy timeout),
 * and within this process transactions run one after another.
 */
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { UnavailableError } from '../errors.js';
import { applyMigrations, recordedVersion, SCHEMA_VERSION } from './schema.js';
import type { Row, SqlDriver, SqlTx } from './sql.js';
import { SqlRoomStore } from './sql-store.js';

const BUSY_TIMEOUT_MS = 10_000;

/**
 * Transactions on one file run one after another within this process, whichever connection they
 * use: better-sqlite3 waits for a lock synchronously, so a second connection of the same process
 * waiting inside BEGIN IMMEDIATE would block the very event loop the first one needs to commit.
 * Other processes are kept apart by the file lock and the busy timeout.
 */
const fileQueues = new Map<string, Promise<unknown>>();

class SqliteDriver implements SqlDriver {
  readonly kind = 'sqlite' as const;
  readonly nowSql = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";
  readonly lockRows = '';
  private readonly statements = new Map<string, Database.Statement>();
  /** Runs statements directly; used only before any transaction can be pending. */
  readonly direct: SqlTx = {
    all: (sql, params = []) => Promise.resolve(this.statement(sql).all(...params) as Row[]),
    run: (sql, params = []) =>
      Promise.resolve({ changes: this.statement(sql).run(...params).changes }),
  };

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    readonly label: string,
  ) {}

  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const queue = fileQueues.get(this.path) ?? Promise.resolve();
    const result = queue.then(() => this.runTransaction(fn));
    fileQueues.set(
      this.path,
      result.catch(() => undefined),
    );
    return result;
  }

  private async runTransaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      throw sqliteError(err, this.label);
    }
    try {
      const result = await fn(this.direct);
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw sqliteError(err, this.label);
    }
  }

  isDuplicateKey(err: unknown): boolean {
    return (err as { code?: string } | null)?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  }

  close(): Promise<void> {
    return (fileQueues.get(this.path) ?? Promise.resolve()).then(() => {
      this.db.close();
    });
  }
}

/** Maps a busy or unopenable database to a clear, exit-4 error; other errors pass through. */
function sqliteError(err: unknown, label: string): unknown {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new UnavailableError(
      `the database ${label} stayed locked by another process for ${BUSY_TIMEOUT_MS / 1000} s; try again`,
      { cause: err },
    );
  }
  if (/^SQLITE_(CANTOPEN|READONLY|IOERR|NOTADB|CORRUPT|PERM|FULL)/.test(code)) {
    return new UnavailableError(`cannot use the database ${label}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return err;
}

/**
 * The compiled addon, found directly: better-sqlite3's own lookup (the `bindings` package) probes
 * a dozen paths on every start. Undefined (its own lookup) when the usual build is not there.
 */
function nativeBinding(): string | undefined {
  try {
    const path = createRequire(import.meta.url).resolve(
      'better-sqlite3/build/Release/better_sqlite3.node',
    );
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Opens (creating if needed) the SQLite registry at `path` and brings its schema up to date. */
export async function openSqliteStore(path: string, label: string): Promise<SqlRoomStore> {
  let db: Database.Database;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Create the file readable by its owner only: it holds password verifiers.
    closeSync(openSync(path, 'a', 0o600));
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS, nativeBinding: nativeBinding() });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    const reason = (err as Error).message;
    throw new UnavailableError(`cannot open the database ${label}: ${reason}`, { cause: err });
  }
  const driver = new SqliteDriver(db, path, label);
  try {
    if ((await recordedVersion(driver.direct)) !== SCHEMA_VERSION) {
      await driver.transaction((tx) => applyMigrations(tx, 'sqlite'));
    }
  } catch (err) {
    db.close();
    throw sqliteError(err, label);
  }
  return new SqlRoomStore(driver);
}
