/**
 * The registry's schema, as numbered migrations per dialect. Each backend applies the ones the
 * database has not recorded yet, under a lock where it has one; every step is also idempotent,
 * so the nodes of a multi-primary cluster (where a lock holds on one node only) may all run it
 * at the same moment.
 */
import { MAX_RECORDED_BROKER_CHARS } from '../broker-url.js';
import { ExitCode, SunoyeError } from '../errors.js';

/** One schema step: its version and the statements for each dialect. */
export interface Migration {
  version: number;
  sqlite: string[];
  mysql: string[];
}

const MYSQL_TABLE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS rooms (
        number TEXT NOT NULL PRIMARY KEY,
        creator TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
        mode TEXT NOT NULL CHECK (mode IN ('encrypted', 'plain')),
        idle_seconds INTEGER NOT NULL,
        kdf TEXT NOT NULL,
        verifier BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        closed_at INTEGER,
        active_at INTEGER NOT NULL
      ) STRICT`,
      `CREATE TABLE IF NOT EXISTS members (
        id TEXT NOT NULL PRIMARY KEY,
        room TEXT NOT NULL REFERENCES rooms (number),
        name TEXT NOT NULL,
        joined_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        lease_ms INTEGER NOT NULL
      ) STRICT`,
      'CREATE INDEX IF NOT EXISTS members_room ON members (room)',
    ],
    mysql: [
      `CREATE TABLE IF NOT EXISTS rooms (
        number CHAR(6) NOT NULL PRIMARY KEY,
        creator VARCHAR(64) NOT NULL,
        state ENUM('open', 'closed') NOT NULL,
        mode ENUM('encrypted', 'plain') NOT NULL,
        idle_seconds INT NOT NULL,
        kdf VARCHAR(255) NOT NULL,
        verifier VARBINARY(64) NOT NULL,
        created_at BIGINT NOT NULL,
        closed_at BIGINT NULL,
        active_at BIGINT NOT NULL
      ) ${MYSQL_TABLE}`,
      `CREATE TABLE IF NOT EXISTS members (
        id CHAR(32) NOT NULL PRIMARY KEY,
        room CHAR(6) NOT NULL,
        name VARCHAR(64) NOT NULL,
        joined_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL,
        lease_ms INT NOT NULL,
        KEY members_room (room),
        CONSTRAINT members_room_fk FOREIGN KEY (room) REFERENCES rooms (number)
      ) ${MYSQL_TABLE}`,
    ],
  },
  {
    // The broker a room was created on (scheme://host:port), so that commands using another
    // one can say so. Rooms from before keep NULL: nobody knows theirs.
    version: 2,
    sqlite: ['ALTER TABLE rooms ADD COLUMN broker TEXT'],
    mysql: [`ALTER TABLE rooms ADD COLUMN broker VARCHAR(${MAX_RECORDED_BROKER_CHARS}) NULL`],
  },
  {
    // A member's Ed25519 public key and its signature of the membership (room, key, name, join
    // time), so that a row proves who joined. Rows from before, and from listeners of an older
    // sunoye, keep NULL: they still count as members, shown as unverified.
    version: 3,
    sqlite: [
      'ALTER TABLE members ADD COLUMN public_key BLOB',
      'ALTER TABLE members ADD COLUMN signature BLOB',
    ],
    mysql: [
      'ALTER TABLE members ADD COLUMN public_key VARBINARY(32) NULL',
      'ALTER TABLE members ADD COLUMN signature VARBINARY(64) NULL',
    ],
  },
  {
    // Each room's sealed history: the MQTT payloads its senders stored once the broker took them,
    // and how much of it the room keeps. Rooms from before keep none (0 seconds, 0 bytes).
    // Two indexes keep reading, pruning and counting off the payloads: one in the order rows
    // are read (time, then stream and sequence), one by signing key (its bytes and oldest rows);
    // both end with the bytes column, so sums and counts read the index alone. A row's seal
    // (src/history/seal.ts) vouches for it and the rows before it.
    version: 4,
    sqlite: [
      'ALTER TABLE rooms ADD COLUMN history_seconds INTEGER NOT NULL DEFAULT 0',
      'ALTER TABLE rooms ADD COLUMN history_bytes INTEGER NOT NULL DEFAULT 0',
      `CREATE TABLE IF NOT EXISTS room_history (
        room TEXT NOT NULL REFERENCES rooms (number),
        signer BLOB NOT NULL,
        sender TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        sent_at INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        payload BLOB NOT NULL,
        seal BLOB,
        PRIMARY KEY (room, signer, sender, first_seq)
      ) STRICT`,
      'CREATE INDEX IF NOT EXISTS room_history_sent ON room_history (room, sent_at, signer, sender, first_seq, bytes)',
      'CREATE INDEX IF NOT EXISTS room_history_signer ON room_history (room, signer, sent_at, bytes)',
    ],
    mysql: [
      'ALTER TABLE rooms ADD COLUMN history_seconds INT NOT NULL DEFAULT 0',
      'ALTER TABLE rooms ADD COLUMN history_bytes BIGINT NOT NULL DEFAULT 0',
      `CREATE TABLE IF NOT EXISTS room_history (
        room CHAR(6) NOT NULL,
        signer VARBINARY(32) NOT NULL,
        sender VARCHAR(32) NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        sent_at BIGINT NOT NULL,
        bytes INT NOT NULL,
        payload MEDIUMBLOB NOT NULL,
        seal VARBINARY(128) NULL,
        PRIMARY KEY (room, signer, sender, first_seq),
        KEY room_history_sent (room, sent_at, signer, sender, first_seq, bytes),
        KEY room_history_signer (room, signer, sent_at, bytes),
        CONSTRAINT room_history_room_fk FOREIGN KEY (room) REFERENCES rooms (number)
      ) ${MYSQL_TABLE}`,
    ],
  },
];

/** The newest schema version this build knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The table that records which migrations were applied. */
export const SCHEMA_TABLE = 'sunoye_schema';

/** What running migrations needs: a way to run statements while the caller holds the schema lock. */
export interface MigrationRunner {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  run(sql: string, params?: unknown[]): Promise<unknown>;
}

/** Reads the recorded schema version; 0 when the schema table does not exist yet. */
export async function recordedVersion(db: MigrationRunner): Promise<number> {
  try {
    const rows = await db.all(`SELECT MAX(version) AS version FROM ${SCHEMA_TABLE}`);
    return Number(rows[0]?.version ?? 0);
  } catch (err) {
    const e = err as { errno?: number; message?: string };
    if (e.errno === 1146 || /no such table/.test(e.message ?? '')) return 0;
    throw err;
  }
}

/** Whether the database has a rooms table: a registry, however old its schema. */
export async function hasRooms(db: MigrationRunner): Promise<boolean> {
  try {
    await db.all('SELECT 1 FROM rooms LIMIT 1');
    return true;
  } catch (err) {
    const e = err as { errno?: number; message?: string };
    if (e.errno === 1146 || /no such table/.test(e.message ?? '')) return false;
    throw err;
  }
}

/**
 * Whether a statement failed because the column it adds is there already: MySQL commits a schema
 * change at once, so a process stopped between a step's `ALTER TABLE` and the record of its
 * version leaves the column without the version. The step is then done; it is recorded.
 */
function columnExists(err: unknown): boolean {
  const e = err as { errno?: number; message?: string } | null;
  return e?.errno === 1060 || /duplicate column name/i.test(e?.message ?? '');
}

/**
 * Whether a statement failed because its row is there already: another process recorded the same
 * schema version at the same moment (two nodes of a cluster, each under its own node's lock).
 */
function alreadyRecorded(err: unknown): boolean {
  const e = err as { errno?: number; code?: string } | null;
  return e?.errno === 1062 || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Applies the migrations the database lacks, in place: tables are altered, never rebuilt, so
 * rooms and members stay. Safe to run twice at once: each step is done or found done, and each
 * version is recorded once.
 */
export async function applyMigrations(
  db: MigrationRunner,
  dialect: 'sqlite' | 'mysql',
): Promise<void> {
  await db.run(
    `CREATE TABLE IF NOT EXISTS ${SCHEMA_TABLE} (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)`,
  );
  const current = await recordedVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new SunoyeError(
      `the database has schema version ${current}, newer than this sunoye understands (${SCHEMA_VERSION}); upgrade sunoye`,
      ExitCode.other,
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    for (const statement of migration[dialect]) {
      try {
        await db.run(statement);
      } catch (err) {
        if (!columnExists(err)) throw err;
      }
    }
    try {
      await db.run(`INSERT INTO ${SCHEMA_TABLE} (version, applied_at) VALUES (?, ?)`, [
        migration.version,
        Date.now(),
      ]);
    } catch (err) {
      if (!alreadyRecorded(err)) throw err;
    }
  }
}
