// The room-store contract on the embedded SQLite backend, in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { roomStoreContract } from './store-contract.js';

roomStoreContract('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-store-'));
  const path = join(dir, 'nested', 'registry.db');
  return Promise.resolve({
    url: `sqlite:${path}`,
    raw: (sql: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return Promise.resolve(db.prepare(sql).all() as Record<string, unknown>[]);
      } finally {
        db.close();
      }
    },
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
});
