/**
 * Small per-room JSON files in `$SUNOYE_HOME` (the keys pinned for a room's members, what a
 * listener has shown): one file per room and registry, readable by the user only, replaced
 * atomically, and merged on write so concurrent programs never lose each other's entries.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileProblem } from '../file-problem.js';
import { storeKey } from './remembered.js';

/**
 * A small JSON document a listener keeps per room for its user (the keys pinned for the room's
 * members, what it has shown): a room file here, the browser's storage for the page. Writes
 * merge with what is there, so two programs of one user never lose each other's entries.
 */
export interface RoomDocument {
  /** Where it is kept, for warnings: a file's path, a storage key. */
  readonly name: string;
  /** Its parsed content, or undefined when it is missing or unreadable. */
  read(): unknown;
  /** Replaces it with `merge(current)`; throws when it cannot be written. */
  update(merge: (current: unknown) => unknown): void;
  /** Why an update failed, for a warning. */
  problem(err: unknown): string;
}

/** The file of `kind` (a folder name) for room `room` of registry `store`. */
export function roomFilePath(home: string, kind: string, store: string, room: string): string {
  return join(home, kind, `${room}-${storeKey(store)}.json`);
}

/** The parsed content of a room file, or undefined when it is missing or unreadable. */
export function readRoomFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Replaces a room file with `merge(current)`, where `current` is what the file holds now (so a
 * concurrent writer's entries are kept). The file is created with mode 0600.
 */
export function updateRoomFile(path: string, merge: (current: unknown) => unknown): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const next = merge(readRoomFile(path));
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(next)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  } catch (err) {
    // A full or read-only disk: leave no half-written temporary file behind.
    rmSync(temp, { force: true });
    throw err;
  }
}

/** The reason an error of the file system gives, for a warning. */
export { fileProblem };

/** A room file as a room document. */
export function roomFile(path: string): RoomDocument {
  return {
    name: path,
    read: () => readRoomFile(path),
    update: (merge) => updateRoomFile(path, merge),
    problem: fileProblem,
  };
}

/** Where a room's pins are kept. */
export function pinsPath(home: string, store: string, room: string): string {
  return roomFilePath(home, 'pins', store, room);
}

/** Where a room's shown sequences are kept. */
export function seenPath(home: string, store: string, room: string): string {
  return roomFilePath(home, 'seen', store, room);
}
