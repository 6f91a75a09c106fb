/**
 * Listener client ids: random, per terminal and room, remembered in `$SUNOYE_HOME/clients/` so
 * that a listener restarted in the same terminal after a crash resumes its session on the broker
 * and is given what was sent while it was away. An id reveals nothing (no name, no terminal). A
 * lock file holds an id while its listener runs: a second listener in the same terminal and room
 * gets a fresh id of its own, so neither takes the other's session over.
 */
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readRoomFile, roomFilePath, updateRoomFile } from './room-files.js';

/** A client id claimed for one listener. */
export interface ClaimedId {
  id: string;
  /** When the session kept under this id began (ms since the epoch): now, for a fresh id. */
  since: number;
  /** The session began now: forget an older `since`. */
  restart(now: number): void;
  /** Lets the next listener in this terminal and room take the id. */
  release(): void;
}

/** A listener's client id as `randomClientId('l')` makes it (src/mqtt/connection.ts). */
const LISTENER_ID = /^sunoyel[0-9a-f]{16}$/;

/** How long a broker keeps a listener's session after it is gone (its MQTT 5 session expiry). */
const SESSION_KEPT_MS = 3_600_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock at `path` for this process; false when a running process holds it. */
function lock(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      // gone meanwhile: try again
    }
    if (Number.isInteger(holder) && holder > 0 && alive(holder)) return false;
    // Left by a listener that crashed. Moved aside rather than deleted: of two listeners that
    // both found it stale, the second would otherwise delete the lock the first just took.
    const aside = `${path}.${process.pid}.stale`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // another listener moved it first: try to take the lock anew
    }
    let moved = '';
    try {
      moved = readFileSync(aside, 'utf8');
    } catch {
      // unreadable: treated as not the stale lock
    }
    if (moved !== String(holder)) {
      // What was moved is a live lock another listener took meanwhile: put it back, give way.
      try {
        linkSync(aside, path);
      } catch {
        // a third took the place: it holds the lock
      }
      unlinkSync(aside);
      return false;
    }
    unlinkSync(aside);
  }
  return false;
}

/**
 * Claims the remembered client id of `terminal` (a tty path) in a room, or a fresh one from
 * `fresh()` when there is no terminal or another listener holds it.
 */
export function claimListenerId(
  home: string,
  store: string,
  room: string,
  terminal: string | undefined,
  fresh: () => string,
  now: number = Date.now(),
): ClaimedId {
  const unremembered = (): ClaimedId => ({
    id: fresh(),
    since: now,
    restart: () => undefined,
    release: () => undefined,
  });
  if (terminal === undefined) return unremembered();
  const tty = createHash('sha256').update(terminal).digest('hex').slice(0, 12);
  const path = roomFilePath(home, 'clients', store, `${room}-${tty}`);
  const lockPath = `${path}.lock`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (!lock(lockPath)) return unremembered();
  } catch {
    return unremembered(); // a read-only or full SUNOYE_HOME: a fresh id, remembered nowhere
  }
  const kept = readRoomFile(path) as { id?: unknown; since?: unknown } | undefined;
  // Only an id as sunoye makes them (64 random bits) is reused: whoever knows or guesses a
  // listener's id can take its session on the broker.
  let id = typeof kept?.id === 'string' && LISTENER_ID.test(kept.id) ? kept.id : '';
  let since =
    typeof kept?.since === 'number' && now - kept.since < SESSION_KEPT_MS ? kept.since : now;
  if (id === '') {
    id = fresh();
    since = now;
  }
  const write = (s: number): void => {
    try {
      updateRoomFile(path, () => ({ id, since: s }));
    } catch {
      // not remembered: a listener restarted here later takes a fresh id
    }
  };
  write(since);
  return {
    id,
    since,
    restart(at) {
      this.since = at;
      write(at);
    },
    release() {
      try {
        if (readFileSync(lockPath, 'utf8') === String(process.pid)) unlinkSync(lockPath);
      } catch {
        // already gone
      }
    },
  };
}
