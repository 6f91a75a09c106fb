/**
 * How a listener prints the conversation: one JSON object per line, or human lines with the
 * time, a colour per sender, dimmed notices and your own messages marked. Text from the network
 * never reaches the terminal with its control characters: they are shown as visible escapes.
 */
import type { Colour } from './colour.js';
import type { ChatPayload } from '../protocol/index.js';
import { visible } from './sanitise.js';

export { visible } from './sanitise.js';

/** The JSON line of a payload: type, from, message or notice, event, ts, id. */
export function jsonLine(payload: ChatPayload, receivedAt: Date): string {
  const out: Record<string, unknown> = { type: payload.type, from: payload.from };
  if (payload.type === 'message') out.message = payload.message;
  else {
    out.notice = payload.notice;
    if (payload.event) out.event = payload.event;
  }
  out.ts = payload.ts ?? receivedAt.toISOString();
  if (payload.id !== undefined) out.id = payload.id;
  if (payload.seq !== undefined) out.seq = payload.seq;
  return `${JSON.stringify(out)}\n`;
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

/** The human line of a payload. */
export function humanLine(
  payload: ChatPayload,
  me: string,
  colour: Colour,
  receivedAt: Date,
): string {
  const time = colour.gray(
    (payload.ts ? new Date(payload.ts) : receivedAt).toTimeString().slice(0, 8),
  );
  if (payload.type === 'notice') return `${time} ${colour.dim(`-- ${visible(payload.notice)}`)}\n`;
  const who = colour[colourOf(payload.from)](visible(payload.from));
  const mark = payload.from === me ? colour.dim(' (you)') : '';
  const text = visible(payload.message).replace(/\n/g, '\n         ');
  return `${time} ${who}${mark}: ${text}\n`;
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
