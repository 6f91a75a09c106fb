/** Opens the registry a database URL names, loading only the backend it needs. */
import type { RoomStore } from './store.js';
import { parseDbUrl } from './url.js';

/** Opens (and if needed creates and migrates) the registry at `url`. */
export async function openStore(url: string): Promise<RoomStore> {
  const target = parseDbUrl(url);
  if (target.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite.js');
    return openSqliteStore(target.path, target.label);
  }
  const { openMysqlStore } = await import('./mysql.js');
  return openMysqlStore(target, target.label);
}
