/**
 * Presence: a running listener is a live member of its room, kept alive by a heartbeat that
 * renews its lease in the registry. A lapsed lease is taken again while the room is open; a
 * database that stops answering is a warning, not the end of the chat. In a signed room the
 * membership is signed with the member's key, each time it is taken.
 */
import type { Member, RoomStore } from '../db/index.js';
import type { Signer } from '../protocol/index.js';

/** What presence reports. */
export interface PresenceHandlers {
  /** A warning (one line, no newline), e.g. the database cannot be reached. */
  warn(message: string): void;
  /** A status line (with its newline) for stderr. */
  say(line: string): void;
  /** The room is closed (or gone): the listener should stop. */
  closed(): void;
}

/** One member's lease in one room (`member`, already added), renewed every third of the lease. */
export class Presence {
  private beating: Promise<void> = Promise.resolve();
  private leaving = false;
  private failing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RoomStore,
    private readonly room: string,
    private readonly name: string,
    private readonly leaseSeconds: number,
    private member: Member | undefined,
    /** Our identity in a signed room; undefined in a plain one. */
    private readonly signer?: Signer,
  ) {}

  private handlers: PresenceHandlers = { warn: () => {}, say: () => {}, closed: () => {} };

  /** Starts the heartbeat, which reports to `handlers`: one beat at a time, none once leaving. */
  start(handlers: PresenceHandlers): void {
    this.handlers = handlers;
    this.timer = setInterval(
      () => {
        this.beating = this.beating.then(() => this.beat());
      },
      Math.max(250, (this.leaseSeconds * 1000) / 3),
    );
  }

  /** Whether `leave` was called. */
  get left(): boolean {
    return this.leaving;
  }

  /** Stops the heartbeat and leaves the room (once; later calls do nothing). */
  async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    clearInterval(this.timer);
    await this.beating;
    const member = this.member;
    this.member = undefined;
    if (member) await this.store.removeMember(member.id);
  }

  private async beat(): Promise<void> {
    if (this.leaving || !this.member) return;
    const { store, room } = this;
    try {
      if (await store.heartbeat(this.member.id)) {
        if (this.failing) this.handlers.say('database reachable again: presence renewed\n');
        this.failing = false;
        return;
      }
      const status = await store.status(room);
      if (!status || status.room.state === 'closed') return this.handlers.closed();
      if (this.leaving) return;
      this.member = await store.addMember(room, this.name, this.leaseSeconds, this.signer);
      this.failing = false;
    } catch (err) {
      if (!this.failing)
        this.handlers.warn(
          `cannot renew presence in the database (${(err as Error).message}); the chat goes on`,
        );
      this.failing = true;
    }
  }
}
