/** Opens the registry a database URL names, loading only the backend it needs. */
import type { RoomStore, StoreOptions } from './store.js';
import { parseDbUrl } from './url.js';

/**
 * Opens the registry at `url`, migrating an older schema; makes it where there is none unless
 * `options.create` is false, when a missing one is refused (`RegistryNotFoundError`).
 */
export async function openStore(url: string, options: StoreOptions = {}): Promise<RoomStore> {
  const target = parseDbUrl(url);
  const create = options.create ?? true;
  let store;
  if (target.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite.js');
    store = await openSqliteStore(target.path, target.label, create);
  } else {
    const { openMysqlStore } = await import('./mysql.js');
    store = await openMysqlStore(target, target.label, create);
  }
  if (options.clock) store.useClock(options.clock);
  return store;
}
