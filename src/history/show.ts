/**
 * Showing a room's history before live, for a listener and for the page alike: what arrives live
 * meanwhile is held (by whoever reads), the history read and handed to the inbox, then read again
 * for what reached the registry meanwhile (the seam), and live goes on from there.
 */
import { withDeadline } from '../conversation/deadline.js';
import {
  alteredWarning,
  type HistoryLine,
  type HistoryRead,
  type HistoryRequest,
} from './lines.js';

/** What `--since`/`--last` (or a window's opening) ask of the room's history. */
export interface HistoryPlan {
  sinceMs: number | undefined;
  last: number | undefined;
}

/** The history asked for, and its first read (started as soon as the room is known). */
export interface AskedHistory {
  plan: HistoryPlan;
  /** What arrived live meanwhile, held until the history is shown (see HistoryRequest.live). */
  held: NonNullable<HistoryRequest['live']>;
  first: Promise<HistoryRead | Error>;
  /** When holding began (ms since the epoch). */
  startedAt: number;
}

/** How long the history may take to read, each time, before live goes on without it. */
const HISTORY_READ_MS = 15_000;

/** A read of the history within HISTORY_READ_MS: what it read, or why it could not. */
export function boundedReading(reading: Promise<HistoryRead>): Promise<HistoryRead | Error> {
  return withDeadline(
    reading,
    HISTORY_READ_MS,
    () => new Error(`no answer in ${HISTORY_READ_MS / 1000} s`),
  ).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
}
/**
 * The seam between history and live: a sender stores its lines once the broker acknowledged
 * them, in batches a moment later, so lines sent just before we subscribed may reach the
 * registry only after the first read. A second read this long after it takes them (what was
 * shown already, history or live, is dropped by the inbox).
 */
export const SEAM_WAIT_MS = 1500;
/** The second read takes rows written this long before the newest of the first (clock steps). */
const SEAM_OVERLAP_MS = 5000;
/**
 * How long a gap, or the catch-up after the broker lost a reader's session, waits before the
 * history is read: a sender stores what it sent once the broker acknowledged it, in batches
 * written within 200 ms (HISTORY_LIMITS.flushMs in writer.ts) when the registry keeps up; 2 s
 * leaves room for a busy registry, so by then what was sent before is there. Lines that were
 * only late (a cluster node passing them on out of order) arrive meanwhile and are not looked up.
 */
export const RECOVERY_WAIT_MS = 2000;
/**
 * After the broker lost a reader's session: the history stored since this long before the
 * connection was lost is read (the registry's clock may be a little behind ours).
 */
export const CATCH_UP_MARGIN_MS = 30_000;

/**
 * What the room said while a reader's session was lost (`away` says how, for the report), read
 * from its history and shown late, as recovered, through the inbox's checks; reports what it
 * found, or that it could not look.
 */
export async function catchUp(
  reading: Promise<HistoryRead | Error>,
  away: string,
  inbox: { catchUp(lines: HistoryLine[]): number },
  to: { over(): boolean; report(line: string): void },
): Promise<void> {
  const read = await reading;
  if (to.over()) return;
  if (read instanceof Error) {
    to.report(
      `${away}: messages sent meanwhile may be missing (could not read the room's history: ${read.message})`,
    );
    return;
  }
  if (read.altered.length > 0) to.report(alteredWarning(read.altered.length));
  const n = inbox.catchUp(read.lines);
  const cut = read.cut
    ? '; more was stored meanwhile than a reader reads at once: the oldest may be missing'
    : '';
  to.report(
    n > 0
      ? `${away}: ${n} line${n === 1 ? '' : 's'} sent meanwhile found in the room's history, shown late${cut}`
      : `${away}: the room's history holds nothing more of what was sent meanwhile${cut}`,
  );
}

/**
 * Reads the history and hands it to the inbox, then reads again what reached the registry
 * meanwhile; stops when live had to go on without it (`live`). Returns how many lines were shown.
 * `read` reads (bounded in time), `to.nextTurn` lets what the connection holds arrive first.
 */
export async function showHistory(
  asked: AskedHistory,
  room: string,
  read: (request: HistoryRequest) => Promise<HistoryRead | Error>,
  inbox: { receiveHistory(line: HistoryLine): boolean },
  to: {
    live(): boolean;
    warn(line: string): void;
    note(line: string): void;
    nextTurn(): Promise<void>;
  },
): Promise<number> {
  const altered = new Set<string>();
  let shown = 0;
  let hidden = 0;
  const shownOf = async (
    reading: Promise<HistoryRead | Error>,
  ): Promise<HistoryRead | undefined> => {
    const got = await reading;
    if (!(got instanceof Error)) return got;
    to.warn(`could not read the history of room ${room} (${got.message}): showing live messages`);
    return undefined;
  };
  const show = (found: HistoryRead): void => {
    for (const id of found.altered) altered.add(id);
    if (found.cut)
      to.warn(
        `the history of room ${room} is longer than a listener reads at once: its oldest lines are left out`,
      );
    hidden += found.hidden;
    for (const line of found.lines) if (inbox.receiveHistory(line)) shown += 1;
  };
  const { plan, startedAt } = asked;
  const first = await shownOf(asked.first);
  if (!first || to.live()) return shown;
  show(first);
  await new Promise((resolve) => setTimeout(resolve, SEAM_WAIT_MS));
  // What the socket holds by now is taken (and held) before the read, so that a line that came
  // live is known as live when its row is read.
  await to.nextTurn();
  // What the first read covered (from its oldest row on) it need not read again: only rows
  // written later, or committed after it though stamped a moment before its newest.
  const from = (first.newestMs ?? startedAt) - SEAM_OVERLAP_MS;
  const second = await shownOf(
    read({
      sinceMs: plan.sinceMs,
      writtenSinceMs: first.oldestMs === undefined ? from : Math.max(from, first.oldestMs + 1),
      skip: first.rows,
      live: asked.held,
    }),
  );
  if (second && !to.live()) show(second);
  if (altered.size > 0) to.warn(alteredWarning(altered.size));
  if (hidden > 0)
    to.note(
      `left out ${hidden} older join${hidden === 1 ? '' : 's'} and leave${hidden === 1 ? '' : 's'} of the history (--last ${plan.last} shows ${plan.last} at most; --since shows them all)`,
    );
  return shown;
}
