/**
 * The page's room documents (pins, shown sequences) in the browser's storage: one entry per
 * room and kind, merged on write as the terminal programs' room files are.
 */
import type { RoomDocument } from '../home/room-files.js';

/** The little of the Storage interface a room document needs (localStorage has it). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The document of `kind` for `room` in `store`. */
export function storageDocument(store: KeyValueStore, kind: string, room: string): RoomDocument {
  const name = `sunoye/${kind}/${room}`;
  const read = (): unknown => {
    try {
      const text = store.getItem(name);
      return text === null ? undefined : (JSON.parse(text) as unknown);
    } catch {
      return undefined;
    }
  };
  return {
    name: `the browser's storage (${name})`,
    read,
    update: (merge) => store.setItem(name, JSON.stringify(merge(read()))),
    problem: (err) => (err instanceof Error ? err.message : String(err)),
  };
}
