/**
 * The room registry: the one interface every database backend implements. Rooms are numbered,
 * password-checked records; members are live sessions with a heartbeat lease. All times come
 * from the database's clock.
 */
import { RefusedError } from '../errors.js';
import type { KdfParams, RoomMode, Signer } from '../protocol/index.js';

export type RoomState = 'open' | 'closed';

/** A room as the registry keeps it: nothing here can decrypt the room's messages. */
export interface RoomRecord {
  number: string;
  creator: string;
  state: RoomState;
  mode: RoomMode;
  idleSeconds: number;
  kdf: KdfParams;
  verifier: Buffer;
  createdAt: Date;
  closedAt: Date | null;
  /**
   * The broker the room was created on, as `scheme://host:port`; null for rooms made before it
   * was recorded. Advice only: whoever can write the database can change it, so it is shown and
   * compared, never connected to.
   */
  broker: string | null;
}

/** What creating a room needs; the store picks the number, so the verifier is made for it. */
export interface NewRoom {
  creator: string;
  mode: RoomMode;
  idleSeconds: number;
  kdf: KdfParams;
  /** The password verifier of the room numbered `room` (it is bound to the number). */
  verifier: (room: string) => Buffer;
  /** The broker URL the room is made on; the record keeps its scheme, host and port only. */
  broker?: string | undefined;
}

/** One live session in a room (a running listener). */
export interface Member {
  id: string;
  room: string;
  name: string;
  joinedAt: Date;
  heartbeatAt: Date;
  leaseSeconds: number;
  /**
   * The member's Ed25519 public key and its signature of the membership (room, key, name and
   * join time; see `membershipSigned`); null for an unsigned member (a plain room, a listener of
   * an older sunoye). The registry stores them and checks nothing: whoever reads them checks.
   */
  key: Buffer | null;
  signature: Buffer | null;
}

/** A room and its live members (in the order they joined), read in one consistent step. */
export interface RoomStatus {
  room: RoomRecord;
  members: Member[];
}

/**
 * The registry's clock. Times are the database server's own (so processes on many machines
 * agree), plus `skewMs()`: 0 in production; tests move it forward instead of waiting.
 */
export interface RegistryClock {
  /** Milliseconds added to the database's time, read once per operation. */
  skewMs(): number;
}

/** The database's time as it is. */
export const DATABASE_CLOCK: RegistryClock = { skewMs: () => 0 };

/** How a registry is opened. */
export interface StoreOptions {
  /** Defaults to the database's own time. */
  clock?: RegistryClock;
}

/** Default time a room may stay without live members before it closes for good. */
export const DEFAULT_IDLE_SECONDS = 600;
/** Bounds of a room's idle timeout. */
export const IDLE_SECONDS_RANGE = { min: 1, max: 30 * 24 * 3600 } as const;

/**
 * The registry. Every operation that reads a room first applies its lifetime rules: members whose
 * lease ran out are dropped, and a room empty for longer than its idle timeout is closed for good.
 */
export interface RoomStore {
  /** `sqlite` or `mysql`. */
  readonly kind: 'sqlite' | 'mysql';
  /** Where the data lives, safe to print (never contains a password). */
  readonly label: string;
  /** Creates a room with a fresh random number that no room has ever had. */
  createRoom(input: NewRoom): Promise<RoomRecord>;
  /** The room and its live members, or undefined if there is no such room. */
  status(room: string): Promise<RoomStatus | undefined>;
  /** Like `status`, and counts as activity: restarts the idle timer of an open room. */
  touch(room: string): Promise<RoomStatus | undefined>;
  /** Closes a room now; returns its record (already closed is fine), undefined if unknown. */
  closeRoom(room: string): Promise<RoomRecord | undefined>;
  /**
   * Registers a live member, signed by `signer` when given (at the join time the registry picks);
   * refuses unknown and closed rooms.
   */
  addMember(room: string, name: string, leaseSeconds: number, signer?: Signer): Promise<Member>;
  /** Renews a member's lease; false when the member is gone (expired, removed, room closed). */
  heartbeat(memberId: string): Promise<boolean>;
  /** Removes a member; false when it was already gone. */
  removeMember(memberId: string): Promise<boolean>;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}

/** The registry has no room with this number (exit 3); the CLI words it for the user. */
export class RoomNotFoundError extends RefusedError {
  constructor(
    readonly room: string,
    /** The registry's printable label. */
    readonly registry: string,
  ) {
    super(`there is no room ${room} in ${registry}`);
  }
}

/** The room is closed for good (exit 3); the CLI words it for the user. */
export class RoomClosedError extends RefusedError {
  constructor(readonly room: string) {
    super(`room ${room} is closed`);
  }
}

/**
 * A room's record holds what no sunoye wrote, or what its password or this machine says it is
 * not: someone who can write the database changed it (exit 3). `what` says how, e.g. "its
 * key-derivation parameters are not JSON".
 */
export class RecordAlteredError extends RefusedError {
  constructor(
    readonly room: string,
    what: string,
  ) {
    super(
      `the registry record of room ${room} was altered: ${what}; ` +
        'nothing was sent or shown (someone who can write the database changed it)',
    );
  }
}
