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
import type { RoomStore } from '../db/index.js';
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

/** The memberships this server holds for pages: id -> the address that made it, last heard. */
export class PageMembers {
  private readonly held = new Map<string, { address: string; heardAt: number }>();

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
      this.held.set(member.id, { address, heardAt: now });
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
