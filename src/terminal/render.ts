/**
 * How a listener prints the conversation: one JSON object per line, or human lines with the
 * time, a colour per sender, dimmed notices and your own messages marked. Text from the network
 * never reaches the terminal with its control characters: they are shown as visible escapes.
 */
import type { Colour } from './colour.js';
import type { ChatPayload } from '../protocol/index.js';
import type { ShownWith } from '../conversation/inbox.js';
import type { SenderView } from '../conversation/senders.js';
import { AS_SENT, jsonText, plainJsonString, visible, visibleName } from '../protocol/sanitise.js';

export { visible } from '../protocol/sanitise.js';

/** Text from the network made visible, its later lines indented under the first. */
function indented(text: string): string {
  return visible(text).replace(/\n/g, '\n         ');
}

const UNSIGNED: ShownWith = { sender: { trust: 'unsigned' }, late: false };

/**
 * An action (`/me waves`, as IRC clients send it): a message whose text starts with `/me ` and
 * goes on. It travels as that text, so an MQTT-Chat peer shows "/me waves", which its people
 * read as IRC's; sunoye shows it as "* bob waves", and `listen --json` adds `"action": true`.
 */
export const ACTION_PREFIX = '/me ';

/** What an action does (`waves` of `/me waves`), or undefined when the message is no action. */
export function actionOf(payload: ChatPayload): string | undefined {
  if (payload.type !== 'message' || !payload.message.startsWith(ACTION_PREFIX)) return undefined;
  const does = payload.message.slice(ACTION_PREFIX.length);
  return does.trim() === '' ? undefined : does;
}

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
 * id, seq, `action` (true for a `/me` message), the sender's key fingerprint and trust, `mine` (your own key under your name),
 * `late` for a payload that came out of order, `history` for one read from the room's history
 * (said before this listener came), and `recovered` (with `late`) for one that never arrived on
 * the wire and was found in the history. The text is shown as in human output (control
 * characters as visible escapes); when that changed it, `raw` holds it as sent.
 */
export function jsonLine(
  payload: ChatPayload,
  receivedAt: Date,
  how: ShownWith = UNSIGNED,
  room?: string,
): string {
  return (
    fastJsonLine(payload, receivedAt, how, room) ?? slowJsonLine(payload, receivedAt, how, room)
  );
}

/** The JSON text of the strings a line repeats (its sender, its room), the last ones asked. */
let lastFrom: string | undefined;
let lastFromJson = '';
let lastRoom: string | undefined;
let lastRoomJson = '';
/** The last `ts` written out, as sent and as written (`timeOf`'s ISO form). */
let lastTs: string | undefined;
let lastTsIso = '';

/**
 * `slowJsonLine`'s text, written out directly (no object; each string that came
 * from the network written once), for a message whose text and name have nothing to make visible or escape
 * (nearly all). Undefined for anything else: then the general way writes it, which makes the
 * same checks (`jsonText`'s test is run here on the same strings: the rest is this program's own
 * text, timestamps, ids of [A-Za-z0-9_-], numbers and key fingerprints, which never match it).
 */
function fastJsonLine(
  payload: ChatPayload,
  receivedAt: Date,
  how: ShownWith,
  room: string | undefined,
): string | undefined {
  if (payload.type !== 'message' || payload.ts === undefined) return undefined;
  const text = plainJsonString(payload.message);
  if (text === undefined) return undefined;
  if (payload.from !== lastFrom) {
    const from = plainJsonString(payload.from);
    if (from === undefined) return undefined;
    lastFrom = payload.from;
    lastFromJson = from;
  }
  let roomPart = '';
  if (room !== undefined) {
    if (room !== lastRoom) {
      const json = plainJsonString(room);
      if (json === undefined) return undefined;
      lastRoom = room;
      lastRoomJson = json;
    }
    roomPart = `,"room":${lastRoomJson}`;
  }
  let id = '';
  if (payload.id !== undefined) {
    const json = plainJsonString(payload.id);
    if (json === undefined) return undefined;
    id = `,"id":${json}`;
  }
  if (payload.ts !== lastTs) {
    lastTsIso = timeOf(payload, receivedAt).toISOString();
    lastTs = payload.ts;
  }
  const action = actionOf(payload) !== undefined ? ',"action":true' : '';
  const seq = payload.seq !== undefined ? `,"seq":${payload.seq}` : '';
  const { sender } = how;
  // A key is this program's fingerprint of it: hex digits and dashes.
  const key = sender.key !== undefined ? `,"key":"${sender.key}"` : '';
  const marks =
    (how.late || how.recovered ? ',"late":true' : '') +
    (how.recovered ? ',"recovered":true' : '') +
    (how.history ? ',"history":true' : '');
  return `{"type":"message"${roomPart},"from":${lastFromJson},"message":${text}${action},"ts":"${lastTsIso}"${id}${seq}${key},"trust":"${sender.trust}","mine":${sender.trust === 'you'}${marks}}\n`;
}

/** The JSON line of any payload, through an object and `jsonText`. */
function slowJsonLine(
  payload: ChatPayload,
  receivedAt: Date,
  how: ShownWith,
  room: string | undefined,
): string {
  const out: Record<string, unknown> = { type: payload.type };
  if (room !== undefined) out.room = room;
  out.from = payload.from;
  const text = payload.type === 'message' ? payload.message : payload.notice;
  if (payload.type === 'message') {
    out.message = text;
    if (actionOf(payload) !== undefined) out.action = true;
  } else {
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
  if (how.late || how.recovered) out.late = true;
  if (how.recovered) out.recovered = true;
  if (how.history) out.history = true;
  if (visible(text) !== text) out[AS_SENT] = text;
  return `${jsonText(out)}\n`;
}

/** What marks a line read from the room's history, after its time: said earlier, not now. */
export const HISTORY_MARK = '(earlier)';
/** The line under the history a room window (a terminal's, the page) opens with. */
export const HISTORY_DIVIDER = '── earlier messages above ──';
/** What marks a line that never arrived on the wire and was found in the room's history. */
const RECOVERED_MARK = " (late: found in the room's history)";

/** A line's time, and for a line of history, the mark that says it is earlier. */
function lineTime(payload: ChatPayload, receivedAt: Date, how: ShownWith, colour: Colour): string {
  const time = colour.gray(clockTime(timeOf(payload, receivedAt)));
  return how.history ? `${time} ${colour.dim(HISTORY_MARK)}` : time;
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

/** A name as an action line shows it: in quotes when it has a blank (`* "bob waves" at you`). */
function actorName(name: string): string {
  const shown = visibleName(name);
  return !shown.startsWith('"') && /\s/u.test(shown) ? quoted(shown) : shown;
}

function colourOf(name: string): (typeof SENDER_COLOURS)[number] {
  let hash = 0;
  for (const c of name) hash = (hash * 31 + c.codePointAt(0)!) >>> 0;
  return SENDER_COLOURS[hash % SENDER_COLOURS.length]!;
}

/**
 * A sender as lines show it: its name in its colour, or, under a key that is not the one this
 * user knows the name by, only that key and the name it claims.
 */
export function senderName(from: string, sender: SenderView, colour: Colour): string {
  if (sender.trust === 'changed')
    return colour.red(`[key ${sender.key}, NOT the ${quoted(visibleName(from))} you know]`);
  return colour[colourOf(from)](visibleName(from));
}

/**
 * The human line of a payload. A line of history carries its signing time (with the date when it
 * is not today) and the mark `(earlier)`; a line found in the history after it never arrived is
 * marked late. A known name under another key is never shown as that person: the
 * line names the key and says whose name it claims. Only our own key under our name is "(you)".
 */
export function humanLine(
  payload: ChatPayload,
  colour: Colour,
  receivedAt: Date,
  how: ShownWith = UNSIGNED,
): string {
  const time = lineTime(payload, receivedAt, how, colour);
  const { sender } = how;
  const impostor = sender.trust === 'changed' ? senderName(payload.from, sender, colour) : '';
  const who = impostor || senderName(payload.from, sender, colour);
  const firstSeen =
    sender.trust === 'new' && sender.key !== undefined
      ? colour.dim(` [key ${sender.key}, first seen]`)
      : '';
  // A will shown at the time it arrived: one that came before our join line was lost earlier.
  let marks = '';
  if (how.recovered) marks = RECOVERED_MARK;
  else if (how.late)
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
  const does = actionOf(payload);
  if (does !== undefined) {
    // "* bob waves": a name with a blank in it is quoted, so no name passes for a name and a deed.
    const actor = impostor || colour[colourOf(payload.from)](actorName(payload.from));
    return `${time} * ${actor}${mark}${firstSeen}${late} ${indented(does)}\n`;
  }
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
  const time = lineTime(payload, receivedAt, how, colour);
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
  const late = how.recovered
    ? colour.yellow(RECOVERED_MARK)
    : how.late
      ? colour.yellow(
          isWill(payload) ? ' (signed before you joined: it may be old news)' : ' (late)',
        )
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
    // One held back already is printed by its timer, with this one: were this one printed at
    // once because the interval has just passed, the timer (due now, or a little late) would
    // print the older one right after it, two lines together and out of order.
    if (t - this.lastAt < this.intervalMs || this.held !== undefined) {
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
