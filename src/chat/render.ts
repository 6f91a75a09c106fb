/**
 * How a listener prints the conversation: one JSON object per line, or human lines with the
 * time, a colour per sender, dimmed notices and your own messages marked. Text from the network
 * never reaches the terminal with its control characters: they are shown as visible escapes.
 */
import type { Colour } from './colour.js';
import type { ChatPayload } from '../protocol/index.js';
import type { ShownWith } from './inbox.js';
import { AS_SENT, jsonText, visible, visibleName } from './sanitise.js';

export { visible } from './sanitise.js';

/** Text from the network made visible, its later lines indented under the first. */
function indented(text: string): string {
  return visible(text).replace(/\n/g, '\n         ');
}

const UNSIGNED: ShownWith = { sender: { trust: 'unsigned' }, late: false };

/** A last will: signed when its listener started, sent by the broker when that listener is lost. */
function isWill(payload: ChatPayload): boolean {
  return payload.type === 'notice' && payload.event === 'lost';
}

/**
 * The time a payload is about: when it was signed, except a last will's, which is signed when
 * its listener starts and is about the moment it arrives (the nearest a listener can know to the
 * moment that listener was lost).
 */
export function timeOf(payload: ChatPayload, receivedAt: Date): Date {
  return payload.ts === undefined || isWill(payload) ? receivedAt : new Date(payload.ts);
}

/**
 * The JSON line of a payload: type, room (a room number, or the raw topic), from, message or
 * notice, event, ts (the time it is about; `since` for a last will: when its listener started),
 * id, seq, the sender's key fingerprint and trust, `mine` (your own key under your name), and
 * `late` for a payload that came out of order. The text is shown as in human output (control
 * characters as visible escapes); when that changed it, `raw` holds it as sent.
 */
export function jsonLine(
  payload: ChatPayload,
  receivedAt: Date,
  how: ShownWith = UNSIGNED,
  room?: string,
): string {
  const out: Record<string, unknown> = { type: payload.type };
  if (room !== undefined) out.room = room;
  out.from = payload.from;
  const text = payload.type === 'message' ? payload.message : payload.notice;
  if (payload.type === 'message') out.message = text;
  else {
    out.notice = text;
    if (payload.event) out.event = payload.event;
  }
  out.ts = timeOf(payload, receivedAt).toISOString();
  if (isWill(payload) && payload.ts !== undefined) out.since = payload.ts;
  if (payload.id !== undefined) out.id = payload.id;
  if (payload.seq !== undefined) out.seq = payload.seq;
  if (how.sender.key !== undefined) out.key = how.sender.key;
  out.trust = how.sender.trust;
  out.mine = how.sender.trust === 'you';
  if (how.late) out.late = true;
  if (visible(text) !== text) out[AS_SENT] = text;
  return `${jsonText(out)}\n`;
}

/** A time as HH:MM:SS, with its date (YYYY-MM-DD) when it is not today. */
export function clockTime(time: Date, now: Date = new Date()): string {
  const clock = time.toTimeString().slice(0, 8);
  if (time.toDateString() === now.toDateString()) return clock;
  const date = `${time.getFullYear()}-${String(time.getMonth() + 1).padStart(2, '0')}-${String(time.getDate()).padStart(2, '0')}`;
  return `${date} ${clock}`;
}

/**
 * Name colours: none of them red or yellow, which mark warnings and impostors, so a name never
 * looks like an error.
 */
const SENDER_COLOURS = [
  'cyan',
  'green',
  'magenta',
  'blue',
  'cyanBright',
  'greenBright',
  'magentaBright',
  'blueBright',
] as const;

function quoted(name: string): string {
  return name.startsWith('"') ? name : `"${name}"`;
}

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
  const time = colour.gray(clockTime(timeOf(payload, receivedAt)));
  const { sender } = how;
  const impostor =
    sender.trust === 'changed'
      ? colour.red(`[key ${sender.key}, NOT the ${quoted(visibleName(payload.from))} you know]`)
      : '';
  const who = impostor || colour[colourOf(payload.from)](visibleName(payload.from));
  const firstSeen =
    sender.trust === 'new' && sender.key !== undefined
      ? colour.dim(` [key ${sender.key}, first seen]`)
      : '';
  // A will shown at the time it arrived: one that came before our join line was lost earlier.
  let marks = '';
  if (how.late)
    marks = isWill(payload)
      ? ' (signed when that listener started, before you joined: it may be old news)'
      : ' (late: sent before lines shown above)';
  else if (how.beforeJoin && isWill(payload)) marks = ' (before you joined)';
  const late = marks ? colour.yellow(marks) : '';
  if (payload.type === 'notice') {
    const key =
      payload.event === 'join' && sender.key !== undefined && sender.trust !== 'changed'
        ? ` [key ${sender.key}${sender.trust === 'new' ? ', first seen' : ''}]`
        : '';
    // A notice's text is the sender's, like a message's: its lines are indented, so it cannot
    // lay out a line of its own (someone else's message, or one marked "(you)"); words that are
    // not sunoye's own sentence for the event are shown as the sender's.
    if (how.ownWords)
      return `${time} ${colour.dim('--')} ${who}${firstSeen}: ${colour.dim(indented(payload.notice))}${late}\n`;
    const notice = colour.dim(`-- ${indented(payload.notice)}${key}`);
    return `${time} ${impostor ? `${impostor} ` : ''}${notice}${late}\n`;
  }
  const mark = sender.trust === 'you' ? colour.dim(' (you)') : '';
  const text = indented(payload.message);
  return `${time} ${who}${mark}${firstSeen}${late}: ${text}\n`;
}

/** What a presence notice says in the room window, in the words people use. */
function presenceWords(event: string | undefined, name: string, room: string): string | undefined {
  switch (event) {
    case 'join':
      return `${name} joined`;
    case 'leave':
      return `${name} left`;
    case 'lost':
      return `${name} lost connection`;
    case 'closed':
      // On a raw topic there is no room to close: the notice is shown in its sender's words.
      return room === '' ? undefined : `room ${room} closed by ${name}`;
    default:
      return undefined;
  }
}

/**
 * The room window's line for a payload: messages as `listen` shows them, presence in words
 * ("bob joined", "bob left", "bob lost connection", "room closed by alice"), with the same marks
 * of who sent it. The end of a sender's stream is not shown (it is bookkeeping): an empty string.
 */
export function windowLine(
  payload: ChatPayload,
  colour: Colour,
  receivedAt: Date,
  how: ShownWith = UNSIGNED,
  room = '',
): string {
  if (payload.type === 'message' || how.ownWords)
    return humanLine(payload, colour, receivedAt, how);
  if (payload.event === 'end') return '';
  const { sender } = how;
  const name = visibleName(payload.from);
  const plain = presenceWords(payload.event, name, room);
  if (plain === undefined) return humanLine(payload, colour, receivedAt, how);
  const time = colour.gray(clockTime(timeOf(payload, receivedAt)));
  if (sender.trust === 'changed') {
    const impostor = colour.red(`[key ${sender.key}, NOT the ${quoted(name)} you know]`);
    return `${time} ${impostor} ${colour.dim(`says: ${plain}`)}\n`;
  }
  const words = presenceWords(payload.event, colour[colourOf(payload.from)](name), room)!;
  const you = sender.trust === 'you' ? ' (you)' : '';
  const key =
    payload.event === 'join' && sender.key !== undefined && sender.trust !== 'you'
      ? ` [key ${sender.key}${sender.trust === 'new' ? ', first seen' : ''}]`
      : '';
  const late = how.late
    ? colour.yellow(isWill(payload) ? ' (signed before you joined: it may be old news)' : ' (late)')
    : how.beforeJoin && isWill(payload)
      ? colour.yellow(' (before you joined)')
      : '';
  return `${time} ${colour.dim('--')} ${words}${colour.dim(`${you}${key}`)}${late}\n`;
}

/** Rate-limits warnings: at most one line per interval; what was held back is summed up after it. */
export class WarningLimiter {
  private lastAt = -Infinity;
  // Only the last warning held back is printed, with a count of the others: a flood of
  // warnings holds one string, never a list of them.
  private held: string | undefined;
  private others = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(message: string): void {
    const t = this.now();
    if (t - this.lastAt < this.intervalMs) {
      if (this.held !== undefined) this.others += 1;
      this.held = message;
      this.timer ??= setTimeout(() => this.flush(), this.intervalMs - (t - this.lastAt)).unref();
      return;
    }
    this.lastAt = t;
    this.write(`warning: ${visible(message)}\n`);
  }

  /**
   * A warning that must never be summed up into another (a loss report): anyone who can send
   * garbage to the topic could otherwise hide it behind a "similar" warning. Printed at once,
   * after what was held back (so the order stays).
   */
  report(message: string): void {
    this.flush();
    this.lastAt = this.now();
    this.write(`warning: ${visible(message)}\n`);
  }

  /** Prints the last held-back warning and how many others there were. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const last = this.held;
    if (last === undefined) return;
    const others = this.others;
    this.held = undefined;
    this.others = 0;
    this.lastAt = this.now();
    const more =
      others > 0 ? ` (and ${others} similar warning${others === 1 ? '' : 's'} before it)` : '';
    this.write(`warning: ${visible(last)}${more}\n`);
  }
}
