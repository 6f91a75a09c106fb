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
  /** What the room keeps of its history (the registry's `room_history` rows). */
  history: HistoryRetention;
}

/**
 * How much of a room's sealed history the registry keeps: rows younger than `seconds`, at most
 * `bytes` of payload in all. `seconds` 0: none (plain rooms always; `room create --history 0`).
 */
export interface HistoryRetention {
  seconds: number;
  bytes: number;
}

/**
 * One MQTT message of a room's history as its sender stored it: the sealed, signed payload exactly
 * as it went to the broker, and the sender stream and sequence numbers it says it holds. The
 * registry checks none of it: a reader opens the payload and believes only what it proves.
 */
export interface HistoryRow {
  /** The Ed25519 public key that signed the payload (32 bytes). */
  signer: Buffer;
  /** The sending program's random id (the prefix of its message ids). */
  sender: string;
  /** The sequence numbers of the first and last payload in the message. */
  firstSeq: number;
  lastSeq: number;
  /** The MQTT payload as sent. */
  payload: Buffer;
  /**
   * The sender's seal over this row and the rows of its stream before it (src/history/seal.ts):
   * at most MAX_HISTORY_SEAL_BYTES, opaque to the registry. Absent on most rows.
   */
  seal?: Buffer;
}

/** A history row as read back, with the registry's time of writing it. */
export interface StoredHistoryRow extends HistoryRow {
  sentAt: Date;
}

/** Which history rows to read; every query is bounded by `maxRows` and `maxBytes`. */
export interface HistoryQuery {
  /** Rows written at or after this registry time (ms since the epoch). */
  sinceMs?: number;
  /** The newest rows that hold at least this many payloads (counted as lastSeq - firstSeq + 1). */
  last?: number;
  /** Rows of one sender stream that hold any of the sequence numbers fromSeq..toSeq. */
  stream?: { signer: Buffer; sender: string; fromSeq: number; toSeq: number };
  maxRows: number;
  maxBytes: number;
}

/** What a room's history holds now. */
export interface HistoryStats {
  rows: number;
  bytes: number;
  oldest: Date | null;
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
  /** What the room keeps of its history; none when undefined. */
  history?: HistoryRetention | undefined;
}

/** One live session in a room (a running listener). */
/** A membership signed by its member elsewhere, at a time it chose (see `addMember`). */
export interface SignedClaim {
  key: Buffer;
  signature: Buffer;
  joinedAt: Date;
}

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
  /**
   * Make the registry (SQLite folders and file, MySQL database, tables) where there is none (the
   * default); false: a missing one is a `RegistryNotFoundError`. Older schemas are migrated either way.
   */
  create?: boolean;
}

/** Default time a room may stay without live members before it closes for good. */
export const DEFAULT_IDLE_SECONDS = 600;
/** Bounds of a room's idle timeout. */
export const IDLE_SECONDS_RANGE = { min: 1, max: 30 * 24 * 3600 } as const;

/** What an encrypted room keeps of its history unless its creator says otherwise: 24 h, 64 MiB. */
export const DEFAULT_HISTORY: HistoryRetention = { seconds: 24 * 3600, bytes: 64 * 2 ** 20 };
/** What a room that keeps no history has: no time and no bytes. */
export const NO_HISTORY: HistoryRetention = { seconds: 0, bytes: 0 };
/** Bounds of a room's history retention time (or 0: none). */
export const HISTORY_SECONDS_RANGE = { min: 60, max: 30 * 24 * 3600 } as const;
/** Bounds of a room's history size cap. */
export const HISTORY_BYTES_RANGE = { min: 2 ** 20, max: 4 * 2 ** 30 } as const;
/** The largest seal a history row may hold. */
export const MAX_HISTORY_SEAL_BYTES = 128;
/** The largest payload a history row may hold (MQTT packets sunoye sends are at most 1 MiB). */
export const MAX_HISTORY_PAYLOAD_BYTES = 2 * 2 ** 20;

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
   * Registers a live member, signed by `signer` when given (at the join time the registry picks),
   * or with a membership its member signed elsewhere (`SignedClaim`: a page, through `room
   * serve`), taken only if its signature holds and its time is the registry's now, within a
   * minute; refuses unknown and closed rooms.
   */
  addMember(
    room: string,
    name: string,
    leaseSeconds: number,
    signer?: Signer | SignedClaim,
  ): Promise<Member>;
  /** Renews a member's lease; false when the member is gone (expired, removed, room closed). */
  heartbeat(memberId: string): Promise<boolean>;
  /** Removes a member; false when it was already gone. */
  removeMember(memberId: string): Promise<boolean>;
  /**
   * Keeps `rows` in the history of an open room that keeps history, in one transaction; a row
   * already there (the same stream and first sequence number) is left as it is, so a retried
   * write stores nothing twice. Rows for a closed room, or one that keeps none, are dropped.
   */
  appendHistory(room: string, rows: HistoryRow[]): Promise<void>;
  /** History rows matching `query`, oldest first (by registry time, then stream and sequence). */
  readHistory(room: string, query: HistoryQuery): Promise<StoredHistoryRow[]>;
  /**
   * One small step of pruning: deletes at most `maxRows` rows that are past the room's retention
   * time, or over its size cap (the oldest rows of the signer that holds the most bytes first,
   * so no member can push out another's history). Returns how many rows it deleted.
   * It reads the room's bytes per signing key from an index each time (at 200,000 rows: about
   * 15 ms on SQLite, 60 ms on MariaDB), so it is meant for now and then (a minute apart, say),
   * not for every write.
   */
  pruneHistory(room: string, maxRows: number): Promise<number>;
  /** What the room's history holds. */
  historyStats(room: string): Promise<HistoryStats>;
  /**
   * Releases connections and file handles, once the transactions under way are done. With
   * `exiting` (the process is about to end through \`process.exit\`, as \`publish\` does), a SQLite
   * registry's file is left to the end of the process to let go of: closing it would copy its
   * write-ahead log into the file (a checkpoint: three fsyncs, 10 ms or more on a disk) and
   * remove the log, which the next program to close it does instead. What was written is
   * committed either way.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** How a registry is let go of (see \`RoomStore.close\`). */
export interface CloseOptions {
  /** The process ends right after, through \`process.exit\`. */
  exiting?: boolean | undefined;
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

/** There is no registry where the URL points (exit 3); the CLI words it for the user. */
export class RegistryNotFoundError extends RefusedError {
  constructor(
    /** The registry's printable label. */
    readonly registry: string,
    /** What is missing: "no such file", "no such database", ... */
    reason: string,
  ) {
    super(`there is no registry ${registry} (${reason})`);
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
