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

/** Each backend: a new registry (a file in `dir`, or a scratch MySQL database). */
export const REGISTRIES: {
  name: string;
  open(ctx: Mocha.Context, dir: string): Promise<Registry>;
}[] = [
  {
    name: 'SQLite',
    open: (_ctx, dir) => {
      const path = join(dir, 'registry.db');
      return Promise.resolve({
        url: `sqlite:${path}`,
        write: (sql, params) => {
          const db = new Database(path);
          try {
            db.prepare(sql).run(...params);
          } finally {
            db.close();
          }
          return Promise.resolve();
        },
        drop: () => Promise.resolve(),
      });
    },
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
