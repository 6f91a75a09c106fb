/**
 * What a listener remembers about what it has seen of one sender: message ids (so a redelivered
 * message is shown once) and which sequence numbers arrived, as a watermark and sorted ranges
 * above it, so that its size depends on the gaps, never on how many numbers were sent.
 */

/** A set of recently seen ids with a fixed capacity (oldest forgotten first). */
export class RecentIds {
  private readonly ids = new Set<string>();

  /** How many are kept (it may be raised later: the oldest beyond it go at the next add). */
  constructor(public capacity = 20_000) {}

  /** Records `id`; false when it was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    while (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
    return true;
  }
}

/**
 * Which of one sender's sequence numbers were seen, exactly, whatever the volume: everything up
 * to a watermark, plus the runs of numbers seen above it (out of order, after a redelivery), kept
 * sorted and merged. A broker may redeliver a whole window of batches after a restart, so dedupe
 * by a fixed number of recent ids is not enough. Past `maxRuns` runs the lowest gap is given up
 * as lost (the watermark moves over it), so numbers sent in any order cost at most `maxRuns`
 * pairs of numbers.
 */
export class SeqRanges {
  /** Every number up to here was seen (numbering starts at 1). */
  private upTo = 0;
  /** Runs above the watermark, `[first, last, first, last, ...]`, sorted, apart by a gap. */
  private readonly runs: number[] = [];

  /** The runs above the watermark (for tests and bounds). */
  get size(): number {
    return this.runs.length / 2;
  }

  /** Whether `seq` was seen. */
  has(seq: number): boolean {
    if (seq <= this.upTo) return true;
    for (let i = 0; i < this.runs.length && this.runs[i]! <= seq; i += 2)
      if (seq <= this.runs[i + 1]!) return true;
    return false;
  }

  /**
   * The runs of numbers in `from..to` that were not seen, lowest first (at most one more than
   * the runs kept, whatever the span).
   */
  unseen(from: number, to: number): [number, number][] {
    const out: [number, number][] = [];
    let at = Math.max(from, this.upTo + 1);
    for (let i = 0; i < this.runs.length && at <= to; i += 2) {
      const first = this.runs[i]!;
      const last = this.runs[i + 1]!;
      if (last < at) continue;
      if (first > at) out.push([at, Math.min(first - 1, to)]);
      at = last + 1;
    }
    if (at <= to) out.push([at, to]);
    return out;
  }

  /** Records `seq`; false when it was seen before. `maxRuns` bounds the runs kept above the watermark. */
  add(seq: number, maxRuns: number): boolean {
    if (seq <= this.upTo) return false;
    const runs = this.runs;
    // The first run that ends at or after seq - 1 (it may hold seq or touch it from below).
    let lo = 0;
    let hi = runs.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (runs[2 * mid + 1]! < seq - 1) lo = mid + 1;
      else hi = mid;
    }
    const i = 2 * lo;
    if (i < runs.length && runs[i]! <= seq && seq <= runs[i + 1]!) return false;
    const joinsBelow = i < runs.length && runs[i + 1] === seq - 1;
    const next = joinsBelow ? i + 2 : i;
    const joinsAbove = next < runs.length && runs[next] === seq + 1;
    if (joinsBelow && joinsAbove)
      runs.splice(i + 1, 2); // seq fills the gap between two runs
    else if (joinsBelow) runs[i + 1] = seq;
    else if (joinsAbove) runs[next] = seq;
    else if (seq === this.upTo + 1) this.upTo = seq;
    else runs.splice(i, 0, seq, seq);
    this.lift();
    while (runs.length > 2 * maxRuns) {
      // Give up the lowest gap: the watermark moves to the end of the lowest run.
      this.upTo = runs[1]!;
      runs.splice(0, 2);
      this.lift();
    }
    return true;
  }

  /** Folds a run that starts right after the watermark into it. */
  private lift(): void {
    if (this.runs.length > 0 && this.runs[0] === this.upTo + 1) {
      this.upTo = this.runs[1]!;
      this.runs.splice(0, 2);
    }
  }
}

/** The sender part of a sunoye message id `<sender>-<seq>`. */
export function senderOf(id: string): string {
  const dash = id.lastIndexOf('-');
  return dash > 0 ? id.slice(0, dash) : id;
}
