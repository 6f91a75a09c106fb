/**
 * The registry logic, written once over a `SqlDriver`. Every change to a room happens in a
 * transaction that first locks the room's row, so creating, joining, leaving and closing race
 * safely: a member is never added to a closed room, and a room never closes with a live member.
 * Every transaction may be run again (the driver retries what failed for a passing reason), so
 * each one finds the work of its own earlier attempt rather than doing it twice.
 */
import { randomBytes } from 'node:crypto';
import { recordedBrokerUrl } from '../broker-url.js';
import { SunoyeError, ExitCode } from '../errors.js';
import { signMembership, type Signer } from '../protocol/index.js';
import { randomRoomNumber } from './room-number.js';
import { time, toRoom, type RoomRow } from './room-row.js';
import type { Row, SqlDriver, SqlTx } from './sql.js';
import { DATABASE_CLOCK, RoomClosedError, RoomNotFoundError } from './store.js';
import type { Member, NewRoom, RegistryClock, RoomRecord, RoomStatus, RoomStore } from './store.js';

const ROOM_COLUMNS =
  'number, creator, state, mode, idle_seconds, kdf, verifier, created_at, closed_at, active_at, broker';
const MEMBER_COLUMNS = 'id, room, name, joined_at, heartbeat_at, lease_ms, public_key, signature';
const CREATE_ATTEMPTS = 50;
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
            `INSERT INTO rooms (${ROOM_COLUMNS}) VALUES (?, ?, 'open', ?, ?, ?, ?, ?, NULL, ?, ?)`,
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
    signer?: Signer,
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
      const joinedAt = new Date(now);
      // Signed here, at the time the registry gives the row: each attempt signs its own.
      const { key, signature } = signer
        ? signMembership(signer, { room, name, joinedAt })
        : { key: null, signature: null };
      await tx.run(`INSERT INTO members (${MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
        id,
        room,
        name,
        now,
        now,
        leaseMs,
        key,
        signature,
      ]);
      return { id, room, name, joinedAt, heartbeatAt: joinedAt, leaseSeconds, key, signature };
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

  async close(): Promise<void> {
    await this.db.close();
  }
}
