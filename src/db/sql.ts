/**
 * What the shared registry logic needs from a SQL backend. Both backends use `?` placeholders and
 * store times as milliseconds since the epoch (BIGINT), read from the database's own clock.
 */
import type { CloseOptions } from './store.js';

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;

/** Runs statements inside one transaction. */
export interface SqlTx {
  all(sql: string, params?: unknown[]): Promise<Row[]>;
  run(sql: string, params?: unknown[]): Promise<{ changes: number }>;
  /**
   * Reads the rows of a query one at a time, while `take` returns true; the rest are never read
   * (SQLite only: a MySQL result comes whole).
   */
  each?(sql: string, params: unknown[], take: (row: Row) => boolean): Promise<void>;
}

/** One database connection (or pool) with the dialect details the shared logic needs. */
export interface SqlDriver {
  readonly kind: 'sqlite' | 'mysql';
  readonly label: string;
  /** SQL expression for the database's current time in milliseconds since the epoch. */
  readonly nowSql: string;
  /** Suffix that locks the selected rows until the transaction ends (empty where the whole database is locked). */
  readonly lockRows: string;
  /** Suffix that keeps the selected rows from changing until the transaction ends (a shared lock). */
  readonly shareRows: string;
  /**
   * Runs `fn` in a read-write transaction, running it again (a bounded number of times) when it
   * failed for a passing reason: a deadlock, a lock wait timeout, a lost connection. `fn` must
   * therefore be safe to repeat, even after a commit whose answer was lost.
   * A networked backend gives up after `timeoutMs` (capped by its own timeout) with an
   * `UnavailableError`; a local one ignores it.
   */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>, timeoutMs?: number): Promise<T>;
  /** Whether an error is a primary-key collision. */
  isDuplicateKey(err: unknown): boolean;
  /** See \`RoomStore.close\`. */
  close(options?: CloseOptions): Promise<void>;
}
