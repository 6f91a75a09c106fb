/** Registries a test can write to behind sunoye's back, as their operator could: SQLite, MySQL. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { requireMysql, scratchDatabase } from './mysql.js';

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
