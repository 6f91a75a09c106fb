/**
 * How a listener prints the conversation: one JSON object per line, or human lines with the
 * time, a colour per sender, dimmed notices and your own messages marked. Text from the network
 * never reaches the terminal with its control characters: they are shown as visible escapes.
 */
import type { Colour } from './colour.js';
import type { ChatPayload } from '../protocol/index.js';
import type { ShownWith } from './inbox.js';
import { visible } from './sanitise.js';

export { visible } from './sanitise.js';

const UNSIGNED: ShownWith = { sender: { trust: 'unsigned' }, late: false };

/**
 * The JSON line of a payload: type, from, message or notice, event, ts, id, seq, the sender's
 * key fingerprint and trust, and `late` for a payload that came out of order.
 */
export function jsonLine(
  payload: ChatPayload,
  receivedAt: Date,
  how: ShownWith = UNSIGNED,
): string {
  const out: Record<string, unknown> = { type: payload.type, from: payload.from };
  if (payload.type === 'message') out.message = payload.message;
  else {
    out.notice = payload.notice;
    if (payload.event) out.event = payload.event;
  }
  out.ts = payload.ts ?? receivedAt.toISOString();
  if (payload.id !== undefined) out.id = payload.id;
  if (payload.seq !== undefined) out.seq = payload.seq;
  if (how.sender.key !== undefined) out.key = how.sender.key;
  out.trust = how.sender.trust;
  if (how.late) out.late = true;
  return `${JSON.stringify(out)}\n`;
}

/** A time as HH:MM:SS, with its date (YYYY-MM-DD) when it is not today. */
export function clockTime(time: Date, now: Date = new Date()): string {
  const clock = time.toTimeString().slice(0, 8);
  if (time.toDateString() === now.toDateString()) return clock;
  const date = `${time.getFullYear()}-${String(time.getMonth() + 1).padStart(2, '0')}-${String(time.getDate()).padStart(2, '0')}`;
  return `${date} ${clock}`;
}

const SENDER_COLOURS = [
  'cyan',
  'green',
  'yellow',
  'magenta',
  'blue',
  'red',
  'cyanBright',
  'greenBright',
] as const;

function colourOf(name: string): (typeof SENDER_COLOURS)[number] {
  let hash = 0;
  for (const c of name) hash = (hash * 31 + c.codePointAt(0)!) >>> 0;
  return SENDER_COLOURS[hash % SENDER_COLOURS.length]!;
}

/**
 * The human line of a payload. A known name under another key is never shown as that person: the
 * line names the key and says whose name it claims. Only our own key under our name is "(you)".
 */
export function humanLine(
  payload: ChatPayload,
  colour: Colour,
  receivedAt: Date,
  how: ShownWith = UNSIGNED,
): string {
  const time = colour.gray(clockTime(payload.ts ? new Date(payload.ts) : receivedAt));
  const { sender } = how;
  const impostor =
    sender.trust === 'changed'
      ? colour.red(`[key ${sender.key}, NOT the "${visible(payload.from)}" you know]`)
      : '';
  const late = how.late ? colour.yellow(' (late: sent before lines shown above)') : '';
  if (payload.type === 'notice') {
    const key =
      payload.event === 'join' && sender.key !== undefined && sender.trust !== 'changed'
        ? ` [key ${sender.key}${sender.trust === 'new' ? ', first seen' : ''}]`
        : '';
    const notice = colour.dim(`-- ${visible(payload.notice)}${key}`);
    return `${time} ${impostor ? `${impostor} ` : ''}${notice}${late}\n`;
  }
  const who = impostor || colour[colourOf(payload.from)](visible(payload.from));
  const mark = sender.trust === 'you' ? colour.dim(' (you)') : '';
  const text = visible(payload.message).replace(/\n/g, '\n         ');
  return `${time} ${who}${mark}${late}: ${text}\n`;
}

/** Rate-limits warnings: at most one line per interval; what was held back is summed up after it. */
export class WarningLimiter {
  private lastAt = -Infinity;
  private held: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(message: string): void {
    const t = this.now();
    if (t - this.lastAt < this.intervalMs) {
      this.held.push(message);
      this.timer ??= setTimeout(() => this.flush(), this.intervalMs - (t - this.lastAt)).unref();
      return;
    }
    this.lastAt = t;
    this.write(`warning: ${visible(message)}\n`);
  }

  /** Prints the last held-back warning and how many others there were. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const last = this.held.at(-1);
    if (last === undefined) return;
    const others = this.held.length - 1;
    this.held = [];
    this.lastAt = this.now();
    const more =
      others > 0 ? ` (and ${others} similar warning${others === 1 ? '' : 's'} before it)` : '';
    this.write(`warning: ${visible(last)}${more}\n`);
  }
}
