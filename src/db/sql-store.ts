/**
 * The registry logic, written once over a `SqlDriver`. Every change to a room happens in a
 * transaction that first locks the room's row, so creating, joining, leaving and closing race
 * safely: a member is never added to a closed room, and a room never closes with a live member.
 * Every transaction may be run again (the driver retries what failed for a passing reason), so
 * each one finds the work of its own earlier attempt rather than doing it twice.
 */
import { randomBytes } from 'node:crypto';
import { recordedBrokerUrl } from '../broker-url.js';
import { RefusedError, SunoyeError, ExitCode } from '../errors.js';
import { MAX_BATCH, membershipSigned, signMembership, type Signer } from '../protocol/index.js';
import {
  checkHistoryQuery,
  checkHistoryRow,
  historyKey,
  insertGroups,
  keyName,
  keysMatch,
  KEYS_PER_STATEMENT,
  slices,
  SQLITE_KEY_HOLDS,
  wholeNumber,
  type HistoryKey,
} from './history-rows.js';
import { randomRoomNumber } from './room-number.js';
import { time, toRoom, type RoomRow } from './room-row.js';
import type { Row, SqlDriver, SqlTx } from './sql.js';
import {
  DATABASE_CLOCK,
  HISTORY_BYTES_RANGE,
  HISTORY_SECONDS_RANGE,
  MAX_HISTORY_SEAL_BYTES,
  NO_HISTORY,
  RoomClosedError,
  RoomNotFoundError,
} from './store.js';
import type {
  CloseOptions,
  HistoryQuery,
  HistoryRetention,
  HistoryRow,
  HistoryStats,
  Member,
  SignedClaim,
  NewRoom,
  RegistryClock,
  RoomRecord,
  RoomStatus,
  RoomStore,
  StoredHistoryRow,
} from './store.js';

/** Bytes a driver gave as a Buffer (better-sqlite3, mysql2) are taken as they are, not copied. */
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);

const ROOM_COLUMNS =
  'number, creator, state, mode, idle_seconds, kdf, verifier, created_at, closed_at, active_at, broker, ' +
  'history_seconds, history_bytes';
const HISTORY_COLUMNS = 'room, signer, sender, first_seq, last_seq, sent_at, bytes, payload, seal';
const HISTORY_KEY_COLUMNS = 'signer, sender, first_seq, last_seq, sent_at, bytes';
/** The order history is read in: registry time, then stream and sequence number. */
const HISTORY_ORDER = ['sent_at', 'signer', 'sender', 'first_seq'];
const MEMBER_COLUMNS = 'id, room, name, joined_at, heartbeat_at, lease_ms, public_key, signature';
const CREATE_ATTEMPTS = 50;
/** How far from the registry's clock a membership signed elsewhere may say it joined. */
const SIGNED_CLAIM_SKEW_MS = 60_000;
const MIN_BUDGET_MS = 250;

function publicRoom(row: RoomRow): RoomRecord {
  const room: RoomRecord & { activeAt?: number } = { ...row };
  delete room.activeAt;
  return room;
}

/** A member's row as sunoye wrote it, or `RecordAlteredError` for a time no date has. */
function toMember(row: Row): Member {
  const room = String(row.room);
  return {
    id: String(row.id),
    room,
    name: String(row.name),
    // Shown (`room info`, `/who`) and signed: a time no date has would throw there.
    joinedAt: new Date(time(row.joined_at, "member's join time", room)),
    heartbeatAt: new Date(time(row.heartbeat_at, "member's heartbeat time", room)),
    leaseSeconds: Number(row.lease_ms) / 1000,
    key: bytes(row.public_key),
    signature: bytes(row.signature),
  };
}

/** A column of bytes; null when it is anything else (NULL, or text an operator wrote there). */
function bytes(value: unknown): Buffer | null {
  return value instanceof Uint8Array ? Buffer.from(value) : null;
}

const expiresAt = (row: Row): number => Number(row.heartbeat_at) + Number(row.lease_ms);

/**
 * The level every key's bytes must come down to so that `excess` bytes go, the largest first
 * (`held` sorted from the most bytes down); undefined when nothing is over.
 */
function levelFor(held: number[], excess: number): number | undefined {
  if (!(excess > 0) || held.length === 0) return undefined;
  let sum = 0;
  for (let k = 0; k < held.length; k++) {
    sum += held[k]!;
    const level = (sum - excess) / (k + 1);
    if (k + 1 === held.length || level >= held[k + 1]!) return Math.max(0, level);
  }
  return 0;
}

/** What a new room keeps of its history; throws for what `room create` never asks (a bug). */
function retentionOf(input: NewRoom): HistoryRetention {
  const history = input.history;
  if (history === undefined || history.seconds === 0) return NO_HISTORY;
  const { seconds, bytes } = history;
  if (
    input.mode !== 'encrypted' ||
    !Number.isSafeInteger(seconds) ||
    seconds < HISTORY_SECONDS_RANGE.min ||
    seconds > HISTORY_SECONDS_RANGE.max ||
    !Number.isSafeInteger(bytes) ||
    bytes < HISTORY_BYTES_RANGE.min ||
    bytes > HISTORY_BYTES_RANGE.max
  )
    throw new Error(`a ${input.mode} room cannot keep ${seconds} s and ${bytes} bytes of history`);
  return { seconds, bytes };
}

/**
 * The oldest registry time (ms) of a row a room still keeps at `now`: a row is kept while it is
 * younger than the retention time, and one exactly that old has expired (reads, counts and
 * pruning agree on it, also within one millisecond).
 */
function keptSince(now: number, record: RoomRecord): number {
  return now - record.history.seconds * 1000 + 1;
}

/** A `RoomStore` over any SQL driver. */
export class SqlRoomStore implements RoomStore {
  /** Leases (ms) of the members this store added, to bound the calls that serve them. */
  private readonly leases = new Map<string, number>();
  private clock: RegistryClock = DATABASE_CLOCK;

  constructor(private readonly db: SqlDriver) {}

  /** Takes times from `clock` (the database's own time plus its skew) from now on. */
  useClock(clock: RegistryClock): void {
    this.clock = clock;
  }

  /**
   * How long a call for a member may wait (the driver caps it with its own timeout): a third of
   * the lease, renewed every third of it by `listen`, so a renewal that cannot happen is reported
   * while the lease still holds, and a leaving member does not wait on its lease's behalf. Never
   * under 250 ms, so that a busy but healthy server is not taken for a silent one.
   */
  private budget(memberId: string): number | undefined {
    const lease = this.leases.get(memberId);
    return lease === undefined ? undefined : Math.max(lease / 3, MIN_BUDGET_MS);
  }

  get kind(): 'sqlite' | 'mysql' {
    return this.db.kind;
  }

  get label(): string {
    return this.db.label;
  }

  private async now(tx: SqlTx): Promise<number> {
    const rows = await tx.all(`SELECT ${this.db.nowSql} AS now`);
    return Number(rows[0]?.now) + this.clock.skewMs();
  }

  /**
   * Locks a room and applies its lifetime rules at time `now`: expired members are dropped, and
   * an open room with no live member for its idle timeout is closed. `touch` restarts the idle
   * timer of a room that stays open.
   */
  private async sweep(
    tx: SqlTx,
    number: string,
    now: number,
    touch = false,
  ): Promise<(RoomStatus & { row: RoomRow }) | undefined> {
    const rows = await tx.all(
      `SELECT ${ROOM_COLUMNS} FROM rooms WHERE number = ?${this.db.lockRows}`,
      [number],
    );
    if (rows.length === 0) return undefined;
    const row = toRoom(rows[0]!);
    if (row.state === 'closed') return { room: publicRoom(row), members: [], row };

    const memberRows = await tx.all(
      `SELECT ${MEMBER_COLUMNS} FROM members WHERE room = ? ORDER BY joined_at, id${this.db.lockRows}`,
      [number],
    );
    const live = memberRows.filter((m) => expiresAt(m) > now);
    let activeAt = row.activeAt;
    if (live.length < memberRows.length) {
      for (const m of memberRows)
        if (expiresAt(m) <= now) activeAt = Math.max(activeAt, expiresAt(m));
      await tx.run('DELETE FROM members WHERE room = ? AND heartbeat_at + lease_ms <= ?', [
        number,
        now,
      ]);
    }
    if (touch) activeAt = Math.max(activeAt, now);

    if (live.length === 0 && now >= activeAt + row.idleSeconds * 1000) {
      await tx.run(
        "UPDATE rooms SET state = 'closed', closed_at = ?, active_at = ? WHERE number = ?",
        [now, activeAt, number],
      );
      await tx.run('DELETE FROM room_history WHERE room = ?', [number]);
      const closed: RoomRow = { ...row, state: 'closed', closedAt: new Date(now), activeAt };
      return { room: publicRoom(closed), members: [], row: closed };
    }
    if (activeAt !== row.activeAt) {
      await tx.run('UPDATE rooms SET active_at = ? WHERE number = ?', [activeAt, number]);
    }
    const next = { ...row, activeAt };
    return { room: publicRoom(next), members: live.map(toMember), row: next };
  }

  async createRoom(input: NewRoom): Promise<RoomRecord> {
    // Never credentials: only the broker's scheme, host and port are kept.
    const broker = input.broker === undefined ? null : (recordedBrokerUrl(input.broker) ?? null);
    const history = retentionOf(input);
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      const number = randomRoomNumber();
      const verifier = input.verifier(number);
      try {
        return await this.db.transaction(async (tx) => {
          // A retry after a commit whose answer was lost finds its own room: same number and
          // verifier (which is bound to its number and the random salt of its KDF).
          const mine = await tx.all(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE number = ?`, [number]);
          if (mine.length > 0 && Buffer.from(mine[0]!.verifier as Uint8Array).equals(verifier))
            return publicRoom(toRoom(mine[0]!));
          const now = await this.now(tx);
          await tx.run(
            `INSERT INTO rooms (${ROOM_COLUMNS}) VALUES (?, ?, 'open', ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`,
            [
              number,
              input.creator,
              input.mode,
              input.idleSeconds,
              JSON.stringify(input.kdf),
              verifier,
              now,
              now,
              broker,
              history.seconds,
              history.bytes,
            ],
          );
          return {
            number,
            creator: input.creator,
            state: 'open',
            mode: input.mode,
            idleSeconds: input.idleSeconds,
            kdf: input.kdf,
            verifier,
            createdAt: new Date(now),
            closedAt: null,
            broker,
            history,
          };
        });
      } catch (err) {
        if (!this.db.isDuplicateKey(err)) throw err;
      }
    }
    throw new SunoyeError(
      `could not find a free room number after ${CREATE_ATTEMPTS} tries; the registry is nearly full`,
      ExitCode.other,
    );
  }

  async status(room: string): Promise<RoomStatus | undefined> {
    return this.read(room, false);
  }

  async touch(room: string): Promise<RoomStatus | undefined> {
    return this.read(room, true);
  }

  private async read(room: string, touch: boolean): Promise<RoomStatus | undefined> {
    return this.db.transaction(async (tx) => {
      const found = await this.sweep(tx, room, await this.now(tx), touch);
      return found && { room: found.room, members: found.members };
    });
  }

  async closeRoom(room: string): Promise<RoomRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const now = await this.now(tx);
      const found = await this.sweep(tx, room, now);
      if (!found || found.room.state === 'closed') return found?.room;
      await tx.run('DELETE FROM members WHERE room = ?', [room]);
      await tx.run('DELETE FROM room_history WHERE room = ?', [room]);
      await tx.run(
        "UPDATE rooms SET state = 'closed', closed_at = ?, active_at = ? WHERE number = ?",
        [now, now, room],
      );
      return { ...found.room, state: 'closed' as const, closedAt: new Date(now) };
    });
  }

  async addMember(
    room: string,
    name: string,
    leaseSeconds: number,
    signer?: Signer | SignedClaim,
  ): Promise<Member> {
    // Chosen once, so that a retry after a commit whose answer was lost finds its own member.
    const id = randomBytes(16).toString('hex');
    const member = await this.db.transaction(async (tx) => {
      const now = await this.now(tx);
      const found = await this.sweep(tx, room, now);
      if (!found) throw new RoomNotFoundError(room, this.label);
      const mine = found.members.find((m) => m.id === id);
      if (mine) return mine;
      if (found.room.state === 'closed') throw new RoomClosedError(room);
      const leaseMs = Math.round(leaseSeconds * 1000);
      let joinedAt = new Date(now);
      let key: Buffer | null = null;
      let signature: Buffer | null = null;
      if (signer && 'signature' in signer) {
        // Signed by the member elsewhere (a page, through `room serve`), at a time it chose:
        // taken if the signature holds and the time is the registry's now, give or take.
        const claim = { room, name, key: signer.key, joinedAt: signer.joinedAt };
        if (!Number.isSafeInteger(claim.joinedAt.getTime()))
          throw new RefusedError('the membership has no valid join time');
        if (Math.abs(claim.joinedAt.getTime() - now) > SIGNED_CLAIM_SKEW_MS)
          throw new RefusedError(
            `the membership was signed for ${claim.joinedAt.toISOString()}, not now (${new Date(now).toISOString()})`,
          );
        if (!membershipSigned(claim, signer.signature))
          throw new RefusedError('the membership is not signed by its key');
        ({ key, signature, joinedAt } = signer);
      } else if (signer) {
        // Signed here, at the time the registry gives the row: each attempt signs its own.
        ({ key, signature } = signMembership(signer, { room, name, joinedAt }));
      }
      await tx.run(`INSERT INTO members (${MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
        id,
        room,
        name,
        joinedAt.getTime(),
        now,
        leaseMs,
        key,
        signature,
      ]);
      return {
        id,
        room,
        name,
        joinedAt,
        heartbeatAt: new Date(now),
        leaseSeconds,
        key,
        signature,
      };
    });
    this.leases.set(member.id, Math.round(leaseSeconds * 1000));
    return member;
  }

  async heartbeat(memberId: string): Promise<boolean> {
    const renewed = await this.db.transaction(async (tx) => {
      const skew = this.clock.skewMs();
      const now = `(${this.db.nowSql} + ?)`;
      const { changes } = await tx.run(
        `UPDATE members SET heartbeat_at = ${now} WHERE id = ? AND heartbeat_at + lease_ms > ${now}`,
        [skew, memberId, skew],
      );
      return changes === 1;
    }, this.budget(memberId));
    if (!renewed) this.leases.delete(memberId);
    return renewed;
  }

  async removeMember(memberId: string): Promise<boolean> {
    const budget = this.budget(memberId);
    this.leases.delete(memberId);
    return this.db.transaction(async (tx) => {
      const rows = await tx.all('SELECT room FROM members WHERE id = ?', [memberId]);
      if (rows.length === 0) return false;
      const room = String(rows[0]!.room);
      const now = await this.now(tx);
      // Lock the room first, as every writer does, then drop the member and note when it left.
      const found = await this.sweep(tx, room, now);
      const { changes } = await tx.run('DELETE FROM members WHERE id = ?', [memberId]);
      if (changes === 1 && found && found.row.state === 'open') {
        await tx.run('UPDATE rooms SET active_at = ? WHERE number = ?', [
          Math.max(found.row.activeAt, now),
          room,
        ]);
      }
      return changes === 1;
    }, budget);
  }

  /**
   * The history table, read through `index`: MySQL would otherwise sum a room's bytes from the
   * table itself, payloads and all (800 ms for 200,000 rows of 1 KiB, 60 ms through the index).
   */
  private historyBy(index: 'room_history_sent' | 'room_history_signer' | 'primary key'): string {
    if (index === 'primary key')
      return this.db.kind === 'mysql'
        ? 'room_history FORCE INDEX (PRIMARY)'
        : 'room_history INDEXED BY sqlite_autoindex_room_history_1';
    return this.db.kind === 'mysql'
      ? `room_history FORCE INDEX (${index})`
      : `room_history INDEXED BY ${index}`;
  }

  /**
   * A room's record read under a shared lock: a writer of its history holds it, so that closing
   * the room (which deletes the history under an exclusive lock) waits for what is being written.
   */
  private async sharedRoom(tx: SqlTx, room: string): Promise<RoomRecord | undefined> {
    const rows = await tx.all(
      `SELECT ${ROOM_COLUMNS} FROM rooms WHERE number = ?${this.db.shareRows}`,
      [room],
    );
    return rows.length === 0 ? undefined : publicRoom(toRoom(rows[0]!));
  }

  /** Whether a room keeps history now. */
  private static keeps(record: RoomRecord | undefined): record is RoomRecord {
    return record?.state === 'open' && record.mode === 'encrypted' && record.history.seconds > 0;
  }

  async appendHistory(room: string, rows: HistoryRow[]): Promise<void> {
    for (const row of rows) checkHistoryRow(row);
    if (rows.length === 0) return;
    // A row already there is kept as it is: a retried transaction, or the same row sent twice.
    const [insert, keep] =
      this.db.kind === 'sqlite'
        ? ['INSERT', ' ON CONFLICT DO NOTHING']
        : ['INSERT', ' ON DUPLICATE KEY UPDATE first_seq = first_seq'];
    await this.db.transaction(async (tx) => {
      const record = await this.sharedRoom(tx, room);
      if (!SqlRoomStore.keeps(record)) return;
      const now = await this.now(tx);
      // SQLite: a statement per row (prepared once, no round trip); MySQL: a few large ones.
      for (const group of insertGroups(rows, this.db.kind === 'sqlite')) {
        await tx.run(
          `${insert} INTO room_history (${HISTORY_COLUMNS}) VALUES ` +
            group.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ') +
            keep,
          group.flatMap((r) => [
            room,
            r.signer,
            r.sender,
            r.firstSeq,
            r.lastSeq,
            now,
            r.payload.length,
            r.payload,
            r.seal ?? null,
          ]),
        );
      }
    });
  }

  async readHistory(room: string, query: HistoryQuery): Promise<StoredHistoryRow[]> {
    checkHistoryQuery(query);
    return this.db.transaction(async (tx) => {
      const rows = await tx.all(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE number = ?`, [room]);
      const record = rows.length === 0 ? undefined : publicRoom(toRoom(rows[0]!));
      if (!SqlRoomStore.keeps(record)) return [];
      const now = await this.now(tx);
      // Never what is past the room's retention time, pruned yet or not.
      const from = Math.max(keptSince(now, record), Math.ceil(query.sinceMs ?? 0));
      let where = 'room = ? AND sent_at >= ?';
      const params: unknown[] = [room, from];
      if (query.stream) {
        const { signer, sender, fromSeq, toSeq } = query.stream;
        // A row holds at most MAX_BATCH payloads, so the rows that reach fromSeq start at most
        // that far before it: a short range of the primary key, however long the stream.
        where +=
          ' AND signer = ? AND sender = ? AND first_seq >= ? AND first_seq <= ? AND last_seq >= ?';
        params.push(signer, sender, fromSeq - MAX_BATCH + 1, toSeq, fromSeq);
      }
      // `last`: the newest rows, read newest first and turned round at the end.
      const newest = query.last !== undefined;
      const order = HISTORY_ORDER.map((c) => (newest ? `${c} DESC` : c)).join(', ');
      const table = query.stream ? this.historyBy('primary key') : 'room_history';
      // The rows in order, as long as they fit the bounds: never more payload bytes than asked
      // for (one row at least), whatever maxRows allows.
      let bytes = 0;
      let payloads = 0;
      let fitting = 0;
      const fits = (key: HistoryKey): boolean => {
        if (fitting > 0 && bytes + key.bytes > query.maxBytes) return false;
        fitting += 1;
        bytes += key.bytes;
        payloads += key.lastSeq - key.firstSeq + 1;
        return true;
      };
      const enough = (): boolean => newest && payloads >= query.last!;
      const result: StoredHistoryRow[] = [];
      const keep = (key: HistoryKey, payload: unknown, seal: unknown): void => {
        // A payload whose length is not its `bytes` (an operator's) is not taken.
        if (!(payload instanceof Uint8Array) || payload.length !== key.bytes) return;
        const { signer, sender, firstSeq, lastSeq } = key;
        const row: StoredHistoryRow = {
          signer,
          sender,
          firstSeq,
          lastSeq,
          payload: asBuffer(payload),
          sentAt: new Date(key.sentAt),
        };
        // Anything but bytes of a seal's size (an operator's) is no seal.
        if (seal instanceof Uint8Array && seal.length <= MAX_HISTORY_SEAL_BYTES)
          row.seal = asBuffer(seal);
        result.push(row);
      };
      const payloadColumns = 'CASE WHEN LENGTH(payload) = bytes THEN payload END AS payload, seal';
      if (tx.each) {
        // SQLite: one statement whose rows are read one at a time, payloads and all, up to the
        // bounds (of what lies beyond, one row at most is read). A row passed over is read
        // without its payload (SQLITE_KEY_HOLDS); should SQL and JavaScript judge a row
        // differently, its payload counts against the bound all the same.
        let passedOver = 0;
        await tx.each(
          `SELECT ${HISTORY_KEY_COLUMNS}, ` +
            `CASE WHEN LENGTH(payload) = bytes AND ${SQLITE_KEY_HOLDS} THEN payload END AS payload, ` +
            `seal FROM ${table} WHERE ${where} ORDER BY ${order} LIMIT ?`,
          [...params, query.maxRows],
          (row) => {
            const key = historyKey(row);
            if (!key) {
              // Values no sunoye writes: an operator's row, passed over.
              if (row.payload instanceof Uint8Array) passedOver += row.payload.length;
              return passedOver <= query.maxBytes;
            }
            if (!fits(key)) return false;
            keep(key, row.payload, row.seal);
            return !enough();
          },
        );
        return newest ? result.reverse() : result;
      }
      // MySQL: first the keys and sizes, then the payloads of the rows that fit the bounds.
      const keys = await tx.all(
        `SELECT ${HISTORY_KEY_COLUMNS} FROM ${table} WHERE ${where} ORDER BY ${order} LIMIT ?`,
        [...params, query.maxRows],
      );
      const chosen: HistoryKey[] = [];
      for (const row of keys) {
        const key = historyKey(row);
        if (!key) continue; // values no sunoye writes: an operator's row, passed over
        if (!fits(key)) break;
        chosen.push(key);
        if (enough()) break;
      }
      const found = new Map<string, Row>();
      for (const slice of slices(chosen, KEYS_PER_STATEMENT)) {
        const match = keysMatch(slice, this.db.kind);
        const got = await tx.all(
          `SELECT signer, sender, first_seq, ${payloadColumns} ` +
            `FROM room_history WHERE room = ? AND (${match.sql})`,
          [room, ...match.params],
        );
        for (const row of got)
          if (row.signer instanceof Uint8Array)
            found.set(keyName(row.signer, row.sender, row.first_seq), row);
      }
      for (const key of chosen) {
        const row = found.get(keyName(key.signer, key.sender, key.firstSeq));
        if (row) keep(key, row.payload, row.seal);
      }
      return newest ? result.reverse() : result;
    });
  }

  async pruneHistory(room: string, maxRows: number): Promise<number> {
    if (!Number.isSafeInteger(maxRows) || maxRows < 1) return 0;
    return this.db.transaction(async (tx) => {
      const record = await this.sharedRoom(tx, room);
      if (!record) return 0;
      // A room that keeps none has nothing to keep: whatever is there goes (a closed room's
      // rows written by a cluster node that had not yet heard it was closed).
      const keeps = SqlRoomStore.keeps(record);
      const cutoff = keeps ? keptSince(await this.now(tx), record) : Infinity;
      const old = await tx.all(
        `SELECT ${HISTORY_KEY_COLUMNS} FROM room_history WHERE room = ?${keeps ? ' AND sent_at < ?' : ''} ` +
          'ORDER BY sent_at LIMIT ?',
        keeps ? [room, cutoff, maxRows] : [room, maxRows],
      );
      let deleted = await this.deleteRows(tx, room, old);
      if (!keeps || deleted >= maxRows) return deleted;

      // Over the size cap: the keys that hold the most bytes lose their oldest rows first, down
      // to a common level, so that a member who floods the room pushes out its own history, not
      // others'. One pass over the index gives each key's bytes; then each key above the level
      // reads its oldest rows (by the key's index) only as far as it must go.
      const held = (
        await tx.all(
          `SELECT signer, COALESCE(SUM(bytes), 0) AS bytes FROM ${this.historyBy('room_history_signer')} ` +
            'WHERE room = ? GROUP BY signer',
          [room],
        )
      )
        .map((r) => ({ signer: r.signer, bytes: Number(r.bytes) }))
        .filter((k) => Number.isFinite(k.bytes))
        .sort((a, b) => b.bytes - a.bytes);
      const total = held.reduce((sum, k) => sum + k.bytes, 0);
      const level = levelFor(
        held.map((k) => k.bytes),
        total - record.history.bytes,
      );
      if (level === undefined) return deleted;
      for (const key of held) {
        if (key.bytes <= level || deleted >= maxRows) break;
        const oldest = await tx.all(
          `SELECT ${HISTORY_KEY_COLUMNS} FROM ${this.historyBy('room_history_signer')} ` +
            'WHERE room = ? AND signer = ? ' +
            'ORDER BY sent_at LIMIT ?',
          [room, key.signer, maxRows - deleted],
        );
        const going: Row[] = [];
        let left = key.bytes;
        for (const row of oldest) {
          if (left <= level) break;
          going.push(row);
          left -= Number(row.bytes);
        }
        deleted += await this.deleteRows(tx, room, going);
      }
      return deleted;
    });
  }

  /** Deletes rows of a room by their keys (as read, whatever their other values); how many went. */
  private async deleteRows(tx: SqlTx, room: string, rows: Row[]): Promise<number> {
    let deleted = 0;
    for (const slice of slices(rows, KEYS_PER_STATEMENT)) {
      const match = keysMatch(
        slice.map((r) => ({
          signer: r.signer as Buffer,
          sender: r.sender as string,
          firstSeq: r.first_seq as number,
        })),
        this.db.kind,
      );
      deleted += (
        await tx.run(`DELETE FROM room_history WHERE room = ? AND (${match.sql})`, [
          room,
          ...match.params,
        ])
      ).changes;
    }
    return deleted;
  }

  async historyStats(room: string): Promise<HistoryStats> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.all(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE number = ?`, [room]);
      const record = rows.length === 0 ? undefined : publicRoom(toRoom(rows[0]!));
      if (!SqlRoomStore.keeps(record)) return { rows: 0, bytes: 0, oldest: null };
      const from = keptSince(await this.now(tx), record);
      const got = await tx.all(
        'SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes, MIN(sent_at) AS oldest ' +
          `FROM ${this.historyBy('room_history_sent')} WHERE room = ? AND sent_at >= ?`,
        [room, from],
      );
      const oldest = wholeNumber(got[0]?.oldest);
      return {
        rows: wholeNumber(got[0]?.n) ?? 0,
        bytes: wholeNumber(got[0]?.bytes) ?? 0,
        oldest: oldest === undefined || oldest > 8.64e15 ? null : new Date(oldest),
      };
    });
  }

  async close(options?: CloseOptions): Promise<void> {
    await this.db.close(options);
  }
}
