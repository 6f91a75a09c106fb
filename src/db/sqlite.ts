/**
 * The embedded backend: one SQLite file in WAL mode. Transactions are BEGIN IMMEDIATE, so a
 * writer holds the file's write lock from its first read; other processes wait (busy timeout),
 * and within this process transactions run one after another.
 */
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { RefusedError, UnavailableError } from '../errors.js';
import { applyMigrations, hasRooms, recordedVersion, SCHEMA_VERSION } from './schema.js';
import { RegistryNotFoundError, type CloseOptions } from './store.js';
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
  readonly shareRows = '';
  private readonly statements = new Map<string, Database.Statement>();
  /** Runs statements directly; used only before any transaction can be pending. */
  readonly direct: SqlTx = {
    all: (sql, params = []) => Promise.resolve(this.statement(sql).all(...params) as Row[]),
    run: (sql, params = []) =>
      Promise.resolve({ changes: this.statement(sql).run(...params).changes }),
    each: (sql, params, take) => {
      for (const row of this.statement(sql).iterate(...params) as IterableIterator<Row>)
        if (!take(row)) break;
      return Promise.resolve();
    },
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

  /**
   * Closes the file once the transactions under way are done; with \`exiting\`, only waits for
   * them (see \`RoomStore.close\`). A process that ends through \`process.exit\` lets go of the
   * file without a checkpoint (better-sqlite3 closes what is still open only at a natural end),
   * as a crash would: SQLite's log then holds the last transactions, committed, and the next
   * connection reads them from it.
   */
  close(options?: CloseOptions): Promise<void> {
    return (fileQueues.get(this.path) ?? Promise.resolve()).then(() => {
      if (!options?.exiting) this.db.close();
    });
  }
}

/**
 * Maps a busy or unopenable database to a clear, exit-4 error, and a file that is no database or
 * that this user may not open to an exit-3 refusal; other errors pass through.
 */
function sqliteError(err: unknown, label: string): unknown {
  const code = (err as { code?: string } | null)?.code ?? '';
  const refusal = refused(err, label);
  if (refusal) return refusal;
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
 * The refusal (exit 3) for a registry file this user may not read or write, or one that is not a
 * SQLite database at all; undefined for other failures.
 */
function refused(err: unknown, label: string): RefusedError | undefined {
  const code = (err as { code?: string } | null)?.code ?? '';
  const path = label.slice('sqlite:'.length);
  if (code === 'SQLITE_NOTADB')
    return new RefusedError(
      `${path} is not a sunoye registry (not a SQLite database); check --db (or SUNOYE_DB, "db" in config.json)`,
      { cause: err },
    );
  if (code === 'EACCES' || code === 'EPERM')
    return new RefusedError(
      `you may not read and write the registry ${path} (permission denied): ask its owner for access, ` +
        `or check its group and mode (ls -l ${path}): the people who share it need to be in its group, ` +
        'with mode 660, in a folder that group can write',
      { cause: err },
    );
  if (code === 'SQLITE_READONLY_DIRECTORY')
    return new RefusedError(
      `you may not write the folder ${dirname(path)} of the registry ${path}, where SQLite keeps its journal: ` +
        `ask its owner for access, or check the folder's group and mode (ls -ld ${dirname(path)}): ` +
        'the people who share the registry need to be in its group, with mode 2770',
      { cause: err },
    );
  return undefined;
}

/**
 * Makes a new registry file: readable and writable by its owner only (it holds password
 * verifiers), or by its group too where the folder is group-writable, as a folder set up for
 * sharing is (`install -d -m 2770 -g GROUP DIR`): who may write the folder may replace the file
 * anyway. Never readable by others. The mode is set past the umask; SQLite gives its journal and
 * WAL files the mode of the database file. An existing file is left as it is.
 */
function makeFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // There already: opened for writing, to learn now whether this user may.
    closeSync(openSync(path, 'a'));
    return;
  }
  try {
    const groupWritable = (statSync(dirname(path)).mode & 0o020) !== 0;
    fchmodSync(fd, groupWritable ? 0o660 : 0o600);
  } finally {
    closeSync(fd);
  }
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

/**
 * Opens the SQLite registry at `path` and brings its schema up to date; with `create`, makes its
 * folders and file where they are not, else refuses a file that is not there or holds no registry.
 */
export async function openSqliteStore(
  path: string,
  label: string,
  create = true,
): Promise<SqlRoomStore> {
  if (!create) {
    // Refused before opening, which would write to the file.
    let size: number | undefined;
    try {
      size = statSync(path).size;
    } catch (err) {
      // A folder this user may not enter hides the file: that is no typo.
      const refusal = refused(err, label);
      if (refusal) throw refusal;
    }
    if (size === undefined) throw new RegistryNotFoundError(label, 'no such file');
    if (size === 0) throw new RegistryNotFoundError(label, 'the file holds no registry');
  }
  let db: Database.Database;
  try {
    if (create) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    makeFile(path);
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS, nativeBinding: nativeBinding() });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // SQLite's own default page cache (2 MB), not the 16 MB better-sqlite3 builds in: a registry
    // is small and read once, and the larger cache was 14 MB of `publish`'s peak when it keeps a
    // pipe's history.
    db.pragma('cache_size = -2000');
  } catch (err) {
    const refusal = refused(err, label);
    if (refusal) throw refusal;
    const reason = (err as Error).message;
    throw new UnavailableError(`cannot open the database ${label}: ${reason}`, { cause: err });
  }
  const driver = new SqliteDriver(db, path, label);
  try {
    const version = await recordedVersion(driver.direct);
    // A file without sunoye's tables (an empty file, another program's database) is no registry.
    if (version === 0 && !create && !(await hasRooms(driver.direct)))
      throw new RegistryNotFoundError(label, 'the file holds no registry');
    if (version !== SCHEMA_VERSION) {
      await driver.transaction((tx) => applyMigrations(tx, 'sqlite'));
    }
  } catch (err) {
    db.close();
    throw sqliteError(err, label);
  }
  return new SqlRoomStore(driver);
}
