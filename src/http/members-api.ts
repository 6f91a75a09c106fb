/**
 * The page as a member of its room: `room serve` registers the membership the page signed with
 * its own key (the registry checks the signature and that it was signed for now), renews it on
 * the page's heartbeats, and removes it when the page leaves, so `room info`, `/who` and the
 * room's idle timer count a page like a terminal's listener. Whoever reads the row checks the
 * page's signature, as for any member: `room serve` cannot make a member of its own.
 *
 * The memberships this server holds are bounded per client address and in all; each is named by
 * a random id that only the page that made it knows.
 */
import { MAX_HISTORY_PAYLOAD_BYTES, type HistoryRow, type RoomStore } from '../db/index.js';
import { RefusedError } from '../errors.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../protocol/points.js';
import { MAX_NAME_CHARS } from '../protocol/schema.js';
import type { Reply } from './rooms-api.js';

/** Memberships one client address may hold through this server, and all of them together. */
export const MAX_MEMBERS_PER_ADDRESS = 16;
export const MAX_MEMBERS = 1024;

/** What a page asks to join with: its verifier, name, key and its signature of the claim. */
interface JoinBody {
  name: string;
  key: Buffer;
  signature: Buffer;
  joinedAt: Date;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const bytesOf = (value: unknown, length: number): Buffer | undefined => {
  if (typeof value !== 'string' || !BASE64.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === length ? bytes : undefined;
};

/** The join request's fields, or undefined when malformed. */
export function joinBody(parsed: unknown): JoinBody | undefined {
  const p = parsed as Record<string, unknown> | null;
  if (p === null || typeof p !== 'object') return undefined;
  const key = bytesOf(p.key, PUBLIC_KEY_BYTES);
  const signature = bytesOf(p.signature, SIGNATURE_BYTES);
  const { name, joinedAt } = p;
  if (!key || !signature || typeof name !== 'string' || !Number.isSafeInteger(joinedAt))
    return undefined;
  if (name === '' || [...name].length > MAX_NAME_CHARS) return undefined;
  return { name, key, signature, joinedAt: new Date(joinedAt as number) };
}

/** Rows a page may keep in its room's history with one request. */
export const MAX_ROWS_AT_ONCE = 256;
/** A sender id as `Sender` makes them: 6 random bytes, base64url. */
const SENDER_ID = /^[A-Za-z0-9_-]{8}$/;
/** The longest run of sequence numbers one row may claim (a batch of a pipe's lines). */
const MAX_ROW_SEQS = 100_000;
/** How often `room serve` prunes a room's expired history after a page kept rows in it. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_ROWS = 200;

/**
 * The rows of a request to keep history (`{"rows":[{sender, firstSeq, lastSeq, payload}]}`),
 * each signed by `key` (the membership's: a page keeps only its own lines), or why not.
 */
export function rowsToKeep(parsed: unknown, key: Buffer): HistoryRow[] | string {
  const list = (parsed as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_ROWS_AT_ONCE)
    return `expected {"rows":[…]} with 1 to ${MAX_ROWS_AT_ONCE} rows`;
  const rows: HistoryRow[] = [];
  for (const item of list as unknown[]) {
    const r = item as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object') return 'a row is not an object';
    const { sender, firstSeq, lastSeq, payload } = r;
    if (typeof sender !== 'string' || !SENDER_ID.test(sender)) return 'a row has no sender id';
    if (
      !Number.isSafeInteger(firstSeq) ||
      !Number.isSafeInteger(lastSeq) ||
      (firstSeq as number) < 1 ||
      (lastSeq as number) < (firstSeq as number) ||
      (lastSeq as number) - (firstSeq as number) >= MAX_ROW_SEQS
    )
      return 'a row has no valid sequence numbers';
    if (typeof payload !== 'string' || payload === '' || !BASE64.test(payload))
      return 'a row has no base64 payload';
    const bytes = Buffer.from(payload, 'base64');
    if (bytes.length > MAX_HISTORY_PAYLOAD_BYTES) return 'a row is too large';
    rows.push({
      signer: key,
      sender,
      firstSeq: firstSeq as number,
      lastSeq: lastSeq as number,
      payload: bytes,
    });
  }
  return rows;
}

/** A membership this server holds for a page. */
interface Held {
  /** The client address that made it, and when the page was last heard. */
  address: string;
  heardAt: number;
  room: string;
  /** The page's key: the one that signed the membership, and the lines it keeps. */
  key: Buffer;
  /** Rows of the page are being kept now. */
  keeping?: boolean;
}

/** The memberships this server holds for pages, by id. */
export class PageMembers {
  private readonly held = new Map<string, Held>();
  /** When each room's history was last pruned by this server. */
  private readonly pruned = new Map<string, number>();

  constructor(
    private readonly store: RoomStore,
    private readonly leaseSeconds: number,
  ) {}

  /** Forgets memberships whose page has not been heard for two leases (it went away). */
  private forgetSilent(now: number): void {
    for (const [id, m] of this.held)
      if (now - m.heardAt > 2 * this.leaseSeconds * 1000) this.held.delete(id);
  }

  /** Registers a page's signed membership of `room` (its password already checked). */
  async join(room: string, body: JoinBody, address: string): Promise<Reply> {
    const now = Date.now();
    this.forgetSilent(now);
    const mine = [...this.held.values()].filter((m) => m.address === address).length;
    if (mine >= MAX_MEMBERS_PER_ADDRESS || this.held.size >= MAX_MEMBERS)
      return { status: 429, json: { error: 'too many pages in rooms from here; leave one first' } };
    try {
      const member = await this.store.addMember(room, body.name, this.leaseSeconds, body);
      this.held.set(member.id, { address, heardAt: now, room, key: body.key });
      return {
        status: 201,
        json: { id: member.id, leaseSeconds: this.leaseSeconds },
      };
    } catch (err) {
      if (!(err instanceof RefusedError)) throw err;
      return { status: 403, json: { error: err.message } };
    }
  }

  /** Renews a membership: 204, or 410 when it is gone (lapsed, removed, the room closed). */
  async heartbeat(id: string): Promise<Reply> {
    const held = this.held.get(id);
    if (!held) return { status: 410, json: { error: 'no such membership here' } };
    if (!(await this.store.heartbeat(id))) {
      this.held.delete(id);
      return { status: 410, json: { error: 'the membership has lapsed; join again' } };
    }
    held.heardAt = Date.now();
    return { status: 204 };
  }

  /**
   * Keeps a page's own lines (its rows as a history writer stores them, without seals) in its
   * room's history: 204, 410 when the membership is gone, 400 for rows that are not the page's.
   * The registry bounds what each key keeps, as for any writer; expired history is pruned now
   * and then, as a writer does.
   */
  async keep(id: string, body: string): Promise<Reply> {
    const held = this.held.get(id);
    if (!held) return { status: 410, json: { error: 'no such membership here' } };
    // A page keeps its rows one batch after another: one at a time per membership.
    if (held.keeping)
      return { status: 429, json: { error: 'rows of this page are being kept; send them after' } };
    held.keeping = true;
    try {
      return await this.keepRows(held, body);
    } finally {
      held.keeping = false;
    }
  }

  private async keepRows(held: Held, body: string): Promise<Reply> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const rows = rowsToKeep(parsed, held.key);
    if (typeof rows === 'string') return { status: 400, json: { error: rows } };
    await this.store.appendHistory(held.room, rows);
    held.heardAt = Date.now();
    if (this.pruned.size > MAX_MEMBERS)
      for (const [room, at] of this.pruned)
        if (held.heardAt - at >= PRUNE_EVERY_MS) this.pruned.delete(room);
    const last = this.pruned.get(held.room) ?? 0;
    if (held.heardAt - last >= PRUNE_EVERY_MS) {
      this.pruned.set(held.room, held.heardAt);
      await this.store.pruneHistory(held.room, PRUNE_ROWS);
    }
    return { status: 204 };
  }

  /** Ends a membership (the page leaves). */
  async leave(id: string): Promise<Reply> {
    if (!this.held.delete(id)) return { status: 410, json: { error: 'no such membership here' } };
    await this.store.removeMember(id);
    return { status: 204 };
  }

  /** Ends every membership held (the server stops): the room stops counting its pages now. */
  async leaveAll(): Promise<void> {
    const ids = [...this.held.keys()];
    this.held.clear();
    await Promise.allSettled(ids.map((id) => this.store.removeMember(id)));
  }

  /** How many memberships are held (for tests). */
  get size(): number {
    return this.held.size;
  }
}
