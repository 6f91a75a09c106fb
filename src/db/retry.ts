/**
 * Which MySQL/MariaDB failures are worth another try, and how long to wait before it. A
 * transaction that failed for one of these was rolled back (or its connection is gone, and the
 * server rolls back a closed session), so the registry's operations, written to be idempotent,
 * may run again.
 */

/** Server errors that pass: deadlock or Galera certification failure, lock wait timeout, ... */
const TRANSIENT_ERRNOS = new Set([
  1213, // ER_LOCK_DEADLOCK: a deadlock, or a write set that failed certification on a cluster
  1205, // ER_LOCK_WAIT_TIMEOUT
  1047, // ER_UNKNOWN_COM_ERROR: a Galera node not (yet) part of the primary component
  1927, // ER_CONNECTION_KILLED
  1053, // ER_SERVER_SHUTDOWN
  1317, // ER_QUERY_INTERRUPTED: a Galera node aborting a statement for a replicated one (DDL)
]);

/** A connection lost under a statement; the next one may reach the server (or another node). */
const LOST_CONNECTION_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);

/** How many times an operation is tried in all. */
export const MAX_ATTEMPTS = 8;
/** The longest wait between two tries, in milliseconds. */
const MAX_BACKOFF_MS = 500;

/** Whether a failed operation may succeed if run again. */
export function isTransient(err: unknown): boolean {
  const e = err as { errno?: number; code?: string } | null;
  return TRANSIENT_ERRNOS.has(e?.errno ?? 0) || LOST_CONNECTION_CODES.has(e?.code ?? '');
}

/** The wait before try `attempt + 1` (random, growing with each try, so racers spread out). */
export function backoffMs(attempt: number): number {
  return Math.random() * Math.min(MAX_BACKOFF_MS, 10 * 2 ** attempt);
}
