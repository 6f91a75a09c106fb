/**
 * The page as a member of its room in the registry, through `room serve`: a membership signed
 * with the page's own key (as a terminal's listener signs its own), renewed every third of its
 * lease, taken again when it lapsed, and ended when the page leaves. A page the server cannot
 * register (a clock far off, too many pages from one address) still chats, and says so.
 */
import type { HistoryRow } from '../db/store.js';
import { signMembershipWeb, type WebSigner } from '../protocol/web-envelope.js';
import { keepRows } from './history.js';

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

async function post(path: string, body: unknown, keepalive = false): Promise<Response> {
  return fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    keepalive,
  });
}

/** Why an answer refused, in the server's words when it gave some. */
async function why(response: Response): Promise<string> {
  const body = (await response.json().catch(() => ({}))) as { error?: unknown };
  return typeof body.error === 'string' ? body.error : `the server answered ${response.status}`;
}

export class PageMembership {
  private id: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private ended = false;

  constructor(
    private readonly room: string,
    private readonly name: string,
    private readonly verifier: Uint8Array,
    private readonly signer: WebSigner,
    /** Told when the page is not (or no longer) counted as a member. */
    private readonly warn: (line: string) => void,
  ) {}

  /** Registers the membership and starts renewing it; false (and a warning) when refused. */
  async join(): Promise<boolean> {
    const joinedAt = new Date();
    const { key, signature } = await signMembershipWeb(this.signer, {
      room: this.room,
      name: this.name,
      joinedAt,
    });
    const response = await post(`/api/rooms/${this.room}/members`, {
      verifier: base64(this.verifier),
      name: this.name,
      key: base64(key),
      signature: base64(signature),
      joinedAt: joinedAt.getTime(),
    }).catch(() => undefined);
    if (response?.status !== 201) {
      this.warn(
        `this page is not listed among the room's members (${response ? await why(response) : 'the server did not answer'}); the chat goes on`,
      );
      return false;
    }
    const { id, leaseSeconds } = (await response.json()) as { id: string; leaseSeconds: number };
    this.id = id;
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.beat(), Math.max(1000, (leaseSeconds * 1000) / 3));
    return true;
  }

  private async beat(): Promise<void> {
    if (this.ended || this.id === undefined) return;
    const response = await post(`/api/members/${this.id}/heartbeat`, {}).catch(() => undefined);
    // A lapsed membership (the server or the registry was away) is taken again.
    if (response?.status === 410 && !this.ended) {
      clearInterval(this.timer);
      this.id = undefined;
      await this.join();
    }
  }

  /**
   * Keeps the page's own rows in the room's history, through this membership (which names the
   * page's key); false when the page is no member now. Rejects with the server's reason.
   */
  keep(rows: HistoryRow[]): Promise<boolean> {
    return this.id === undefined ? Promise.resolve(false) : keepRows(this.id, rows);
  }

  /** Ends the membership (sent even as the page goes away). */
  leave(): void {
    this.ended = true;
    clearInterval(this.timer);
    if (this.id !== undefined) void post(`/api/members/${this.id}/leave`, {}, true).catch(() => 0);
    this.id = undefined;
  }
}
