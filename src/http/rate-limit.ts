/**
 * The limit on wrong password checks of `room serve --web`: a client address may fail so many
 * times in a window, then waits for the window to end. The table of addresses is bounded, its
 * oldest entry dropped first, so a flood of addresses costs a fixed amount of memory.
 */

/** How many failures an address may have in one window, how long a window is, how many addresses are kept. */
export interface FailureLimits {
  failures: number;
  windowMs: number;
  addresses: number;
}

/** Ten failures a minute, for at most 4096 addresses at once. */
export const CHECK_LIMITS: FailureLimits = { failures: 10, windowMs: 60_000, addresses: 4096 };

/** Counts failures per address, each address in a window that starts at its first failure. */
export class FailureLimiter {
  /** Per address: when its window started and its failures in it; oldest first (Map order). */
  private readonly table = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limits: FailureLimits = CHECK_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `address` may try again; 0 when it may now. */
  waitMs(address: string): number {
    const entry = this.current(address);
    if (!entry || entry.count < this.limits.failures) return 0;
    return entry.start + this.limits.windowMs - this.now();
  }

  /** Notes a failure of `address`. */
  fail(address: string): void {
    const entry = this.current(address);
    if (entry) {
      entry.count++;
      return;
    }
    if (this.table.size >= this.limits.addresses) {
      const oldest = this.table.keys().next();
      if (!oldest.done) this.table.delete(oldest.value);
    }
    this.table.set(address, { start: this.now(), count: 1 });
  }

  /** How many addresses the table holds. */
  get size(): number {
    return this.table.size;
  }

  /** The address's entry while its window lasts; an ended window is dropped. */
  private current(address: string): { start: number; count: number } | undefined {
    const entry = this.table.get(address);
    if (entry && this.now() - entry.start >= this.limits.windowMs) {
      this.table.delete(address);
      return undefined;
    }
    return entry;
  }
}
