/**
 * The room window's folding of bursts: a sender that sends lines faster than anyone reads them
 * (`seq 1 100000 | publish R`) would push the whole conversation out of the terminal's scrollback.
 * A burst is the messages of one sender stream that each come within `BURST_GAP_MS` of the one
 * before; the window shows a burst's first screenful and then counts the rest, and says how many
 * it did not show once the burst ends: `… 99,979 more lines from bob (listen shows them)`. Other
 * senders' lines are shown as ever, in between. Only what is shown is folded: the inbox has already
 * numbered, deduplicated and counted every message (loss reports and `--count` are unchanged).
 */
import type { Colour } from './colour.js';
import type { ShownWith } from '../conversation/inbox.js';
import { senderName } from './render.js';
import { senderOf } from '../conversation/tracker.js';
import type { ChatPayload } from '../protocol/index.js';

/** A sender quiet this long has ended its burst (its next line starts a new one). */
export const BURST_GAP_MS = 2000;
/** Bursts followed at once; a sender past that many is shown unfolded. */
const MAX_BURSTS = 1024;

interface Burst {
  /** The sender as its lines show it. */
  name: string;
  /** Lines of the burst so far. */
  lines: number;
  /** Lines of the burst not shown. */
  folded: number;
  timer: NodeJS.Timeout;
}

/** Folds each sender's bursts after `shown()` lines; says what it folded with `say` (a line). */
export class BurstFolder {
  private readonly bursts = new Map<string, Burst>();

  constructor(
    /** How many lines of a burst are shown: about a screenful. */
    private readonly shown: () => number,
    private readonly say: (line: string) => void,
    private readonly colour: Colour,
    private readonly gapMs = BURST_GAP_MS,
  ) {}

  /**
   * What the window shows instead of a message: undefined for the message itself, '' for nothing
   * (folded), or the line that says the burst is being folded (at its first folded message).
   */
  fold(payload: ChatPayload, how: ShownWith): string | undefined {
    if (payload.type !== 'message') return undefined;
    // One stream: one signing key and one sender id (or, without ids, one name).
    const id = payload.id === undefined ? `:${payload.from}` : senderOf(payload.id);
    const stream = `${how.sender.key ?? ''} ${id}`;
    let burst = this.bursts.get(stream);
    if (!burst) {
      if (this.bursts.size >= MAX_BURSTS) return undefined;
      const timer = setTimeout(() => this.end(stream), this.gapMs);
      timer.unref();
      const name = senderName(payload.from, how.sender, this.colour);
      burst = { name, lines: 0, folded: 0, timer };
      this.bursts.set(stream, burst);
    } else burst.timer.refresh();
    burst.lines += 1;
    if (burst.lines <= this.shown()) return undefined;
    burst.folded += 1;
    if (burst.folded > 1) return '';
    const { dim } = this.colour;
    return `${dim('…')} ${burst.name}${dim(' is sending many lines: the window counts the rest (listen shows them)')}\n`;
  }

  /** Says what every burst still going has folded so far (on the way out). */
  flush(): void {
    for (const stream of [...this.bursts.keys()]) this.end(stream);
  }

  private end(stream: string): void {
    const burst = this.bursts.get(stream);
    if (!burst) return;
    clearTimeout(burst.timer);
    this.bursts.delete(stream);
    const n = burst.folded;
    if (n === 0) return;
    const { dim } = this.colour;
    const lines = `${n.toLocaleString('en-US')} more line${n === 1 ? '' : 's'}`;
    this.say(`${dim(`… ${lines} from`)} ${burst.name}${dim(' (listen shows them)')}\n`);
  }
}
