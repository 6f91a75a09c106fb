/**
 * The room window's own lines until the broker sends them back. A line entered is taken off the
 * screen and comes back, once, as a message of the conversation when the broker delivers it; so
 * the window knows which of its lines came back:
 *
 * - one that has not come back a moment after a reconnect is sent again, the same message (the
 *   same stream and number: every listener that has it drops the copy, silently);
 * - after a reconnect that found the broker without our session (it restarted, and forgot every
 *   session), what was sent while the connection was down or coming back goes once more when
 *   every other program has had time to be back and subscribed again;
 * - one the broker acknowledged and never sent back is reported as not delivered; in a room that
 *   keeps a history, one found there (stored once acknowledged) is reported as not sent back but
 *   kept: the others' listeners recover it from the history.
 */
import type { ChatPayload } from '../protocol/index.js';
import { MAX_BYTES_IN_FLIGHT } from './outbox.js';
import { visibleLine } from '../protocol/sanitise.js';

/** How long a line the broker acknowledged may take to come back, online, before it is reported. */
export const ECHO_TIMEOUT_MS = 10_000;
/** After a reconnect: a line sent before it and not back by then is sent again. */
export const RESEND_AFTER_MS = 2000;
/**
 * After a reconnect without our session: when what was sent meanwhile goes once more. Every
 * sunoye program tries to reconnect at least every RECONNECT_MAX_MS (8 s; not imported here, so
 * that MQTT.js loads only once the window connects), so by then the others are back too (a
 * listener that was not subscribed again yet missed what we sent).
 */
export const SETTLE_MS = 10_000;
/** How often the timers are looked at. */
const TICK_MS = 250;
/** Lines reported one by one at a time; more are counted. */
const REPORTED_LINES = 3;
/** How much of a line a report quotes. */
const QUOTED_CHARS = 60;

/** One MQTT message of ours (a line, or a batch of pasted lines). */
interface Sent {
  payload: string;
  /** What it holds (for whoever keeps what is sent again: the room's history). */
  payloads: ChatPayload[];
  /** Its lines that have not come back: id → text. */
  waiting: Map<string, string>;
  /** When it was last handed to the connection. */
  at: number;
  /** When the broker last acknowledged it; undefined: not yet. */
  ackedAt: number | undefined;
  /** Sent while the connection was down or coming back: goes once more at the settle. */
  meanwhile: boolean;
  /** Not back when the connection came back: sent again if still not back a moment later. */
  due: boolean;
}

/** The waits above (tests make them short). */
export interface EchoTiming {
  echoTimeoutMs: number;
  resendAfterMs: number;
  settleMs: number;
  tickMs: number;
}

/** Sends a message again (the same payload, holding `payloads`); `onAck` as for any publish. */
export type Resend = (
  payload: string,
  onAck: (err?: Error) => void,
  payloads: ChatPayload[],
) => void;

/** Which of our message ids the room's history holds (rejects when it cannot be read). */
export type InHistory = (ids: string[]) => Promise<Set<string>>;

/** Follows our own messages until they come back (see the top of this file). */
export class Echoes {
  private readonly sent = new Set<Sent>();
  private readonly byId = new Map<string, Sent>();
  private online = true;
  /** When the connection was last back (subscribed again). */
  private backAt = 0;
  /** When what was sent before the reconnect and is not back is sent again. */
  private resendAt: number | undefined;
  /** When what was sent meanwhile goes once more (after a reconnect without our session). */
  private settleAt: number | undefined;
  /** Bytes of messages that came back and are kept for the settle. */
  private keptBytes = 0;
  private readonly timer: NodeJS.Timeout;
  private waiters: (() => void)[] = [];

  private readonly timing: EchoTiming;

  constructor(
    private readonly resend: Resend,
    /** Tells the user (one line, no newline). */
    private readonly report: (line: string) => void,
    timing: Partial<EchoTiming> = {},
    /** The room's history, where lines not sent back are looked for before they are reported. */
    private readonly inHistory?: InHistory,
  ) {
    this.timing = {
      echoTimeoutMs: ECHO_TIMEOUT_MS,
      resendAfterMs: RESEND_AFTER_MS,
      settleMs: SETTLE_MS,
      tickMs: TICK_MS,
      ...timing,
    };
    this.timer = setInterval(() => this.tick(Date.now()), this.timing.tickMs).unref();
  }

  /**
   * A message of ours goes to the broker: follows its chat lines. Returns the callback for its
   * acknowledgement.
   */
  published(payload: string, payloads: ChatPayload[]): (err?: Error) => void {
    const waiting = new Map<string, string>();
    for (const p of payloads)
      if (p.type === 'message' && p.id !== undefined) waiting.set(p.id, p.message);
    if (waiting.size === 0) return () => undefined;
    const sent: Sent = {
      payload,
      payloads,
      waiting,
      at: Date.now(),
      ackedAt: undefined,
      meanwhile: !this.online || this.settleAt !== undefined,
      due: false,
    };
    this.sent.add(sent);
    for (const id of waiting.keys()) this.byId.set(id, sent);
    return (err) => {
      if (!err) sent.ackedAt = Date.now();
    };
  }

  /** A message of ours came back (shown in the window). */
  back(id: string): void {
    const sent = this.byId.get(id);
    if (!sent) return;
    this.byId.delete(id);
    sent.waiting.delete(id);
    if (sent.waiting.size > 0) return;
    if (sent.meanwhile) this.keep(sent);
    else this.sent.delete(sent);
    this.wake();
  }

  /** The connection was lost: what is not back yet goes again once it is back. */
  offline(): void {
    this.online = false;
    for (const s of this.sent) if (s.waiting.size > 0) s.meanwhile = true;
  }

  /**
   * The connection is back and subscribed again; `sessionLost`: the broker had no session of
   * ours (nor, most likely, of anyone: the others are coming back as well).
   */
  reconnected(sessionLost: boolean): void {
    const now = Date.now();
    this.online = true;
    this.backAt = now;
    this.resendAt = now + this.timing.resendAfterMs;
    for (const s of this.sent) s.due = s.waiting.size > 0;
    if (sessionLost) this.settleAt = now + this.timing.settleMs;
    else if (this.settleAt === undefined) this.settled();
  }

  /** Resolves once every line the broker acknowledged has come back. */
  allBack(): Promise<void> {
    if (![...this.sent].some((s) => s.waiting.size > 0)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops following; reports the lines the broker acknowledged and did not send back. */
  stop(): void {
    clearInterval(this.timer);
    // On the way out there is no time for a lookup: reported as not delivered.
    this.notDelivered(
      [...this.sent].filter((s) => s.ackedAt !== undefined),
      false,
    );
  }

  private tick(now: number): void {
    if (!this.online) return;
    if (this.resendAt !== undefined && now >= this.resendAt) {
      this.resendAt = undefined;
      for (const s of this.sent) {
        if (s.due && s.waiting.size > 0) this.again(s);
        s.due = false;
      }
    }
    if (this.settleAt !== undefined && now >= this.settleAt) {
      for (const s of this.sent) if (s.meanwhile) this.again(s);
      this.settled();
    }
    const late = [...this.sent].filter(
      (s) =>
        s.waiting.size > 0 &&
        s.ackedAt !== undefined &&
        now - Math.max(s.ackedAt, s.at, this.backAt) > this.timing.echoTimeoutMs,
    );
    this.notDelivered(late);
  }

  /** Nothing more to send once more: what came back is forgotten. */
  private settled(): void {
    this.settleAt = undefined;
    for (const s of this.sent) {
      s.meanwhile = false;
      if (s.waiting.size === 0) this.sent.delete(s);
    }
    this.keptBytes = 0;
  }

  /** Keeps a message that came back, for the settle, within a bound (the oldest go first). */
  private keep(sent: Sent): void {
    this.keptBytes += sent.payload.length;
    for (const s of this.sent) {
      if (this.keptBytes <= MAX_BYTES_IN_FLIGHT) break;
      if (s.waiting.size > 0) continue;
      this.sent.delete(s);
      this.keptBytes -= s.payload.length;
    }
  }

  private again(sent: Sent): void {
    sent.at = Date.now();
    this.resend(
      sent.payload,
      (err) => {
        if (!err) sent.ackedAt = Date.now();
      },
      sent.payloads,
    );
  }

  /**
   * Reports the lines of `sent` that did not come back, and forgets them; with the room's
   * history (`lookUp`), those found there are reported as kept instead.
   */
  private notDelivered(sent: Sent[], lookUp = true): void {
    const lines: [string, string][] = [];
    for (const s of sent) {
      this.sent.delete(s);
      for (const [id, text] of s.waiting) {
        this.byId.delete(id);
        lines.push([id, text]);
      }
    }
    if (lines.length === 0) return;
    this.wake();
    if (!lookUp || !this.inHistory) {
      this.tell(
        lines.map(([, text]) => text),
        'lost',
      );
      return;
    }
    this.inHistory(lines.map(([id]) => id)).then(
      (found) => {
        this.tell(
          lines.filter(([id]) => found.has(id)).map(([, text]) => text),
          'kept',
        );
        this.tell(
          lines.filter(([id]) => !found.has(id)).map(([, text]) => text),
          'lost',
        );
      },
      () =>
        this.tell(
          lines.map(([, text]) => text),
          'lost',
        ),
    );
  }

  /** Tells the user about lines that did not come back: lost, or kept in the room's history. */
  private tell(lines: string[], how: 'lost' | 'kept'): void {
    const what = how === 'lost' ? 'not delivered' : 'not sent back';
    const why = (one: boolean): string =>
      `the broker did not send ${one ? 'it' : 'them'} back` +
      (how === 'kept'
        ? `; ${one ? 'it is' : 'they are'} in the room's history, where the others' listeners find ${one ? 'it' : 'them'}`
        : '');
    for (const text of lines.slice(0, REPORTED_LINES)) {
      // Cut by characters, not UTF-16 units: never half an emoji.
      const chars = [...visibleLine(text)];
      const quoted =
        chars.length > QUOTED_CHARS ? `${chars.slice(0, QUOTED_CHARS).join('')}…` : chars.join('');
      this.report(`${what}: "${quoted}" (${why(true)})`);
    }
    const more = lines.length - REPORTED_LINES;
    if (more > 0) this.report(`${what}: ${more} more line${more === 1 ? '' : 's'} (${why(false)})`);
  }

  /** Wakes those waiting for every line to be back, once they are. */
  private wake(): void {
    if (this.waiters.length === 0 || [...this.sent].some((s) => s.waiting.size > 0)) return;
    for (const w of this.waiters.splice(0)) w();
  }
}
