/**
 * What one sending process stamps on its payloads: a random sender id, a per-sender counter
 * (`seq`), a message id `<sender>-<seq>` that is unique across the room, and the time.
 */
import type { ChatMessage, ChatNotice, NoticeEvent } from '../protocol/index.js';

/** `bytes` random bytes as base64url (WebCrypto's generator: in Node and in a page). */
function randomId(bytes: number): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString(
    'base64url',
  );
}

/** Stamps payloads for one sender (one process, one name). */
export class Sender {
  private seq = 0;
  readonly id = randomId(6);
  /**
   * This sender's connection: carried by its join notice and by the last will made with it, so
   * a will counts as live only for the connection a listener heard join.
   */
  readonly connection = randomId(9);
  /** When the first payload was stamped. */
  private since: string | undefined;

  constructor(readonly name: string) {}

  /** The time stamped last, in ms and as text: the lines of a pipe share their millisecond. */
  private lastMs = NaN;
  private lastTs = '';

  /** The time now, as a payload's `ts`. */
  private now(): string {
    const ms = Date.now();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTs = new Date(ms).toISOString();
    }
    this.since ??= this.lastTs;
    return this.lastTs;
  }

  private stamp(): { id: string; seq: number; ts: string } {
    this.seq += 1;
    const ts = this.now();
    return { id: `${this.id}-${this.seq}`, seq: this.seq, ts };
  }

  /**
   * The signed end of this sender's stream: its number is one past the last payload's, so a
   * listener knows how many there were and reports those that never arrived.
   */
  end(): ChatNotice {
    const stamp = this.stamp();
    const sent = stamp.seq - 1;
    return {
      type: 'notice',
      from: this.name,
      notice: `User ${this.name} finished sending (${sent} message${sent === 1 ? '' : 's'}).`,
      event: 'end',
      ...stamp,
      since: this.since!,
    };
  }

  /** Takes back the last `n` numbers, for payloads made and never sent (so no gap shows). */
  rewind(n: number): void {
    this.seq = Math.max(0, this.seq - n);
  }

  /** A chat message. */
  message(text: string): ChatMessage {
    // As `stamp` does, without a stamp object per line (a pipe makes one message a line).
    const seq = ++this.seq;
    const ts = this.now();
    return { type: 'message', from: this.name, message: text, id: `${this.id}-${seq}`, seq, ts };
  }

  /**
   * Chat messages that go together (a batch): numbered one after another and stamped at one
   * time, so they travel as a compact batch.
   */
  messages(lines: readonly { text: string }[]): ChatMessage[] {
    const ts = this.now();
    const out: ChatMessage[] = [];
    for (const { text } of lines) {
      const seq = ++this.seq;
      out.push({
        type: 'message',
        from: this.name,
        message: text,
        id: `${this.id}-${seq}`,
        seq,
        ts,
      });
    }
    return out;
  }

  /** A presence notice, with MQTT-Chat's wording so its clients read it too. */
  notice(event: NoticeEvent, topic: string, room?: string): ChatNotice {
    const notice: ChatNotice = {
      type: 'notice',
      from: this.name,
      notice: noticeText(event, this.name, topic, room),
      event,
      ...this.stamp(),
    };
    if (event === 'join' || event === 'lost') notice.conn = this.connection;
    return notice;
  }
}

/** MQTT-Chat's notice sentences (and one for sunoye's `closed`). */
export function noticeText(event: NoticeEvent, name: string, topic: string, room?: string): string {
  switch (event) {
    case 'join':
      return `User ${name} is now subscribed to ${topic} .`;
    case 'leave':
      return `User ${name} disconnecting from ${topic} .`;
    case 'lost':
      return `User ${name} timed out.`;
    case 'closed':
      return `Room ${room ?? topic} was closed by ${name}.`;
    case 'end':
      return `User ${name} finished sending.`;
  }
}
