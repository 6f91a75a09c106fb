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
