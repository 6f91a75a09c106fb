// The room-store contract on the embedded SQLite backend, in a temporary directory.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { roomStoreContract, type StoreFixture } from './store-contract.js';

/** A registry file at `path` (made by the first to open it) and raw SQL on it. */
function sqliteFixture(dir: string, path: string, cleanup: () => void): StoreFixture {
  return {
    url: `sqlite:${path}`,
    raw: (sql, params = []) => {
      mkdirSync(join(path, '..'), { recursive: true });
      const db = new Database(path);
      try {
        const statement = db.prepare(sql);
        if (statement.reader)
          return Promise.resolve(statement.all(...params) as Record<string, unknown>[]);
        statement.run(...params);
        return Promise.resolve([]);
      } finally {
        db.close();
      }
    },
    another: () => {
      const other = mkdtempSync(join(dir, 'another-'));
      return Promise.resolve(
        sqliteFixture(other, join(other, 'registry.db'), () =>
          rmSync(other, { recursive: true, force: true }),
        ),
      );
    },
    cleanup: () => {
      cleanup();
      return Promise.resolve();
    },
  };
}

roomStoreContract('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-store-'));
  return Promise.resolve(
    sqliteFixture(dir, join(dir, 'nested', 'registry.db'), () =>
      rmSync(dir, { recursive: true, force: true }),
    ),
  );
});
