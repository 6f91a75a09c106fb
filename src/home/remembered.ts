/**
 * Remembered rooms: after `room create` or `room join`, the room's facts and its derived secret
 * (never the password) are kept in `$SUNOYE_HOME/rooms/`, one file per room, readable by the user
 * only, so `listen`, `publish` and `room close` need no password. One file per room means
 * concurrent commands never lose each other's writes.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ExitCode, SunoyeError } from '../errors.js';
import type { RoomMode } from '../protocol/index.js';

/** What is remembered about one room. */
export interface RememberedRoom {
  room: string;
  /** The registry the room lives in, as a label without credentials (older ones show the user). */
  store: string;
  mode: RoomMode;
  /** The room secret (scrypt output), base64: it derives the message key and the verifier. */
  secret: string;
  /**
   * The registry's URL as the room was joined or created with it, without its password (a MySQL
   * URL keeps its user name); absent in rooms remembered by older versions.
   */
  db?: string | undefined;
  /** Whether that URL had a password, left out here: it must come from --db, SUNOYE_DB or config. */
  dbPassword?: boolean | undefined;
  /** The broker it was joined or created with, when one was given (no user name or password). */
  broker?: string | undefined;
  rememberedAt: string;
}

const FORMAT = 1;

function roomsDir(home: string): string {
  return join(home, 'rooms');
}

/** The registry's identity: its label without user name, so the same database is one store. */
export function storeKey(store: string): string {
  const identity = store.replace(/^(mysql:\/\/)[^@/]*@/, '$1');
  return createHash('sha256').update(identity).digest('hex').slice(0, 12);
}

/** Whether two registry labels name the same registry (whatever user name an older label shows). */
export function sameStore(a: string, b: string): boolean {
  return storeKey(a) === storeKey(b);
}

function roomFile(home: string, store: string, room: string): string {
  return join(roomsDir(home), `${room}-${storeKey(store)}.json`);
}

/** Refuses a file that other users could read: it holds a room secret. */
/** Refuses a secret-holding file that other users could read; `advice` says what to do then. */
export function checkPrivate(path: string, advice = "consider the room's password exposed"): void {
  const mode = statSync(path).mode;
  if ((mode & 0o077) !== 0) {
    throw new SunoyeError(
      `${path} can be read by other users; run \`chmod 600 ${path}\` (and ${advice})`,
      ExitCode.other,
    );
  }
}

function parse(path: string): RememberedRoom | undefined {
  checkPrivate(path);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  const v = value as Partial<RememberedRoom> & { format?: number };
  if (
    v?.format !== FORMAT ||
    typeof v.room !== 'string' ||
    typeof v.store !== 'string' ||
    (v.mode !== 'encrypted' && v.mode !== 'plain') ||
    typeof v.secret !== 'string' ||
    Buffer.from(v.secret, 'base64').length !== 32
  ) {
    return undefined;
  }
  return {
    room: v.room,
    store: v.store,
    mode: v.mode,
    secret: v.secret,
    ...(typeof v.db === 'string' ? { db: v.db, dbPassword: v.dbPassword === true } : {}),
    ...(typeof v.broker === 'string' ? { broker: v.broker } : {}),
    rememberedAt: String(v.rememberedAt),
  };
}

/**
 * The URL to open a remembered room's registry with: the one it was joined with, or for rooms
 * remembered by older versions the label, where it is one (a SQLite file, a MySQL URL without
 * user name); undefined when there is none.
 */
export function registryUrl(entry: RememberedRoom): string | undefined {
  if (entry.db !== undefined) return entry.db;
  return entry.store.startsWith('sqlite:') || !entry.store.includes('@') ? entry.store : undefined;
}

/** Saves a room, replacing what was remembered about it. The file is created with mode 0600. */
export function rememberRoom(
  home: string,
  entry: Omit<RememberedRoom, 'rememberedAt'>,
): RememberedRoom {
  const dir = roomsDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const full: RememberedRoom = { ...entry, rememberedAt: new Date().toISOString() };
  const path = roomFile(home, entry.store, entry.room);
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ format: FORMAT, ...full }, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  chmodSync(temp, 0o600); // in case the umask or file system widened it
  renameSync(temp, path);
  return full;
}

/** The remembered room `room` of registry `store`, if any. */
export function findRemembered(
  home: string,
  store: string,
  room: string,
): RememberedRoom | undefined {
  const path = roomFile(home, store, room);
  try {
    statSync(path);
  } catch {
    return undefined;
  }
  return parse(path);
}

/** Every remembered room, of every registry, by room number. */
export function listRemembered(home: string): RememberedRoom[] {
  let names: string[];
  try {
    names = readdirSync(roomsDir(home));
  } catch {
    return [];
  }
  return names
    .filter((name) => /^\d{6}-[0-9a-f]{12}\.json$/.test(name))
    .map((name) => parse(join(roomsDir(home), name)))
    .filter((entry): entry is RememberedRoom => entry !== undefined)
    .sort((a, b) => a.room.localeCompare(b.room) || a.store.localeCompare(b.store));
}

/** Forgets a room of registry `store`; false when it was not remembered. */
export function forgetRoom(home: string, store: string, room: string): boolean {
  try {
    unlinkSync(roomFile(home, store, room));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
