/**
 * What a listener remembers about what it has seen: message ids (so a redelivered message is
 * shown once) and, per sender, the last `seq` (so a gap can be reported).
 */

/** A set of recently seen ids with a fixed capacity (oldest forgotten first). */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = 20_000) {}

  /** Records `id`; false when it was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next();
      if (!oldest.done) this.ids.delete(oldest.value);
    }
    return true;
  }
}

/**
 * Which of each sender's sequence numbers were seen, exactly, whatever the volume: everything up
 * to a watermark, plus the numbers seen above it (out of order, after a redelivery). A broker
 * may redeliver a whole window of batches after a restart, so dedupe by a fixed number of recent
 * ids is not enough. Numbers above the watermark are capped; past the cap the oldest gap is given
 * up as lost, and the sender as a whole is forgotten (oldest first) past `senders`.
 */
export class SeenSequences {
  private readonly bySender = new Map<string, { upTo: number; above: Set<number> }>();

  constructor(
    private readonly senders = 10_000,
    private readonly maxAbove = 10_000,
  ) {}

  /** Forgets everything about `sender`. */
  forget(sender: string): void {
    this.bySender.delete(sender);
  }

  /** Records `seq` from `sender`; false when it was seen before. */
  add(sender: string, seq: number): boolean {
    let s = this.bySender.get(sender);
    if (!s) {
      // Numbering starts at 1; what a sender sent before we came is simply not seen yet (a last
      // will is numbered before the join notice that is usually seen first).
      s = { upTo: 0, above: new Set() };
      this.bySender.set(sender, s);
      if (this.bySender.size > this.senders)
        this.bySender.delete(this.bySender.keys().next().value!);
    }
    if (seq <= s.upTo || s.above.has(seq)) return false;
    if (seq === s.upTo + 1) {
      s.upTo = seq;
      while (s.above.delete(s.upTo + 1)) s.upTo += 1;
    } else {
      s.above.add(seq);
      if (s.above.size > this.maxAbove) {
        // Give up the oldest gap: move the watermark to the lowest number seen above it.
        let lowest = Infinity;
        for (const n of s.above) if (n < lowest) lowest = n;
        s.upTo = lowest;
        s.above.delete(lowest);
        while (s.above.delete(s.upTo + 1)) s.upTo += 1;
      }
    }
    return true;
  }
}

/** A gap in one sender's sequence: messages `from`..`to` never arrived (yet). */
export interface Gap {
  sender: string;
  from: number;
  to: number;
}

/** Tracks each sender's highest `seq` and reports jumps. */
export class SequenceTracker {
  private readonly last = new Map<string, number>();

  constructor(private readonly capacity = 10_000) {}

  /** Forgets `sender`. */
  forget(sender: string): void {
    this.last.delete(sender);
  }

  /** The highest `seq` noted from `sender`, if any. */
  highest(sender: string): number | undefined {
    return this.last.get(sender);
  }

  /** Notes `seq` from `sender` (the id's prefix); returns the gap it reveals, if any. */
  note(sender: string, seq: number): Gap | undefined {
    const previous = this.last.get(sender);
    if (previous !== undefined && seq <= previous) return undefined; // late or redelivered
    this.last.delete(sender);
    this.last.set(sender, seq);
    if (this.last.size > this.capacity) this.last.delete(this.last.keys().next().value!);
    if (previous !== undefined && seq > previous + 1)
      return { sender, from: previous + 1, to: seq - 1 };
    return undefined;
  }
}

/** The sender part of a sunoye message id `<sender>-<seq>`. */
export function senderOf(id: string): string {
  const dash = id.lastIndexOf('-');
  return dash > 0 ? id.slice(0, dash) : id;
}
