/** Registries a test can write to behind sunoye's back, as their operator could: SQLite, MySQL. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { requireMysql, scratchDatabase } from './mysql.js';
import type { KdfParams } from '../../src/protocol/kdf.js';
import { deriveRoomSecretWeb } from '../../src/protocol/web-crypto.js';

/** A registry URL, and raw SQL on its database. */
export interface Registry {
  url: string;
  write(sql: string, params: unknown[]): Promise<void>;
  drop(): Promise<void>;
}

/** Runs `sql` on the SQLite registry `file` behind sunoye's back, as its operator could. */
export function writeSqlite(file: string, sql: string, params: unknown[] = []): void {
  const db = new Database(file);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

/** Alters room `room`'s record in the SQLite registry `file`: each column of `changes` set. */
export function alterRoomRecord(
  file: string,
  room: string,
  changes: Record<string, unknown>,
): void {
  const columns = Object.keys(changes);
  if (columns.some((c) => !/^[a-z_]+$/.test(c))) throw new Error(`not a column: ${columns.join()}`);
  writeSqlite(
    file,
    `UPDATE rooms SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE number = ?`,
    [...Object.values(changes), room],
  );
}

/** Room `room`'s stored KDF parameters and verifier in the SQLite registry `file`, read behind sunoye's back. */
export function storedRoom(file: string, room: string): { kdf: KdfParams; verifier: Buffer } {
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare('SELECT kdf, verifier FROM rooms WHERE number = ?').get(room) as {
      kdf: string;
      verifier: Buffer;
    };
    return { kdf: JSON.parse(row.kdf) as KdfParams, verifier: row.verifier };
  } finally {
    db.close();
  }
}

/** Room `room`'s secret for `password`, derived as the page derives it, from its stored record. */
export function pageSecret(file: string, room: string, password: string): Uint8Array {
  return deriveRoomSecretWeb(password, storedRoom(file, room).kdf);
}

/** The SQLite registry `file` as a Registry (its URL, and raw SQL on it). */
export function sqliteRegistry(file: string): Registry {
  return {
    url: `sqlite:${file}`,
    write: (sql, params) => Promise.resolve(writeSqlite(file, sql, params)),
    drop: () => Promise.resolve(),
  };
}

/** Each backend: a new registry (a file in `dir`, or a scratch MySQL database). */
export const REGISTRIES: {
  name: string;
  open(ctx: Mocha.Context, dir: string): Promise<Registry>;
}[] = [
  {
    name: 'SQLite',
    open: (_ctx, dir) => Promise.resolve(sqliteRegistry(join(dir, 'registry.db'))),
  },
  {
    name: 'MySQL',
    open: async (ctx) => {
      await requireMysql(ctx);
      const db = await scratchDatabase();
      return {
        url: db.url,
        write: async (sql, params) => void (await db.query(sql, params)),
        drop: () => db.drop(),
      };
    },
  },
];
