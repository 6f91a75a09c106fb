/**
 * How a sender learns that its room was closed while it sends: at once from the `closed` notice
 * on the room's topic (which anyone can send, so the registry has the last word), and from a look
 * at the registry every few seconds for a notice the broker never carried.
 */
import type { RoomStore } from '../db/index.js';
import type { ChatConnection } from '../mqtt/connection.js';
import type { RoomCodec } from '../protocol/index.js';

/** How often the registry is asked whether the room is still open. */
export const CLOSED_POLL_MS = 3000;

/** What the watch reports. */
export interface ClosureHandlers {
  /** The registry says the room is closed (or gone): called once. */
  closed(): void;
  /** A warning (one line, no newline): a forged notice, a database that does not answer. */
  warn(message: string): void;
}

/** The room a sender sends to, and where its notices travel. */
export interface WatchedRoom {
  room: string;
  topic: string;
  codec: RoomCodec;
}

/**
 * Watches `room` on `connection` (which must take no other messages) and in `store` until the
 * returned function is called. Messages are taken, and dropped, from the moment it starts.
 */
export function watchClosure(
  connection: ChatConnection,
  store: RoomStore,
  watched: WatchedRoom,
  handlers: ClosureHandlers,
  pollMs = CLOSED_POLL_MS,
): () => void {
  let done = false;
  let running = false;
  /** A check asked for while one ran (after a notice, or not), run when it ends. */
  let again: { afterNotice: boolean } | undefined;
  let failing = false;
  const check = async (afterNotice: boolean): Promise<void> => {
    if (done) return;
    if (running) {
      again = { afterNotice: afterNotice || again?.afterNotice === true };
      return;
    }
    running = true;
    try {
      const status = await store.status(watched.room);
      failing = false;
      if (done) return;
      if (!status || status.room.state === 'closed') {
        done = true;
        handlers.closed();
      } else if (afterNotice) {
        handlers.warn(`ignored a "closed" notice for room ${watched.room}, which is still open`);
      }
    } catch (err) {
      if (!failing && !done)
        handlers.warn(
          `cannot ask the database whether room ${watched.room} is still open (${(err as Error).message}); sending goes on`,
        );
      failing = true;
    } finally {
      running = false;
    }
    const next = again;
    again = undefined;
    if (next) await check(next.afterNotice);
  };
  // Every message is taken (a message nobody takes would hold up the acknowledgements behind it).
  connection.onMessage = (_topic, raw) => {
    if (done) return;
    const decoded = watched.codec.decodeAll(raw);
    if (!decoded.ok) return;
    if (decoded.payloads.some((p) => p.type === 'notice' && p.event === 'closed')) void check(true);
  };
  // A refused subscription leaves the registry to tell.
  connection.subscribe(watched.topic, { noLocal: true }).catch(() => undefined);
  const timer = setInterval(() => void check(false), pollMs);
  timer.unref();
  return () => {
    done = true;
    clearInterval(timer);
  };
}
