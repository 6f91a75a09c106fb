/** Opens the registry a database URL names, loading only the backend it needs. */
import type { RoomStore, StoreOptions } from './store.js';
import { parseDbUrl } from './url.js';

/** Opens (and if needed creates and migrates) the registry at `url`. */
export async function openStore(url: string, options: StoreOptions = {}): Promise<RoomStore> {
  const target = parseDbUrl(url);
  let store;
  if (target.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite.js');
    store = await openSqliteStore(target.path, target.label);
  } else {
    const { openMysqlStore } = await import('./mysql.js');
    store = await openMysqlStore(target, target.label);
  }
  if (options.clock) store.useClock(options.clock);
  return store;
}
