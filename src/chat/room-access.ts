/**
 * Proving the right to a room: with the secret remembered by `room create`/`room join`, or with
 * the password, checked in constant time against the verifier in the registry.
 */
import { RefusedError, UsageError } from '../errors.js';
import {
  deriveRoomSecret,
  isUnboundVerifier,
  secretMatches,
  type RoomMode,
} from '../protocol/index.js';
import { findRemembered, listRemembered, sameStore } from '../home/remembered.js';
import { redactUrl } from '../redact.js';
import type { RoomStatus, RoomStore } from '../db/index.js';
import {
  isRoomNumber,
  RecordAlteredError,
  RoomClosedError,
  RoomNotFoundError,
} from '../db/index.js';
import {
  asksAtTerminal,
  passwordReadings,
  readPassword,
  type PasswordSources,
} from '../secrets/password.js';
import type { CommandContext } from './context.js';
import { warnIfOtherBroker } from './sharing.js';

/** Checks a room-number argument. */
export function checkRoomArg(room: string): string {
  if (!isRoomNumber(room))
    throw new UsageError(
      `"${room}" is not a room number; a room number is six digits, like 482913`,
    );
  return room;
}

/**
 * The registry, printable, that this machine remembers room `room` from when it is not `registry`
 * (the room was joined or created with another --db); undefined when there is none.
 */
export function rememberedElsewhere(
  ctx: CommandContext,
  registry: string,
  room: string,
): string | undefined {
  const elsewhere = listRemembered(ctx.config.home).find(
    (r) => r.room === room && !sameStore(r.store, registry),
  );
  if (!elsewhere) return undefined;
  // Rooms remembered by older versions name a MySQL registry with its user name.
  return elsewhere.store.startsWith('mysql:') ? redactUrl(elsewhere.store) : elsewhere.store;
}

/**
 * The refusal for a room the registry `registry` does not have: when this machine remembers the
 * room from another registry, it names that one, which is surely meant.
 */
export function roomNotFound(ctx: CommandContext, registry: string, room: string): RefusedError {
  const other = rememberedElsewhere(ctx, registry, room);
  if (other === undefined) return new RoomNotFoundError(room, registry);
  return new RefusedError(
    `there is no room ${room} in ${registry}; you joined or created it in the registry ${other}: ` +
      'use that one (--db, SUNOYE_DB or "db" in config.json)',
  );
}

/** Password options as the command line gave them. */
export interface PasswordFlags {
  password?: string | undefined;
  passwordFile?: string | undefined;
}

/** The password sources of a command: flags, `SUNOYE_PASSWORD`, and the terminal. */
export function passwordSources(ctx: CommandContext, flags: PasswordFlags): PasswordSources {
  return {
    flag: flags.password,
    file: flags.passwordFile,
    env: ctx.io.env.SUNOYE_PASSWORD,
    stdin: ctx.io.stdin,
    stderr: ctx.io.stderr,
  };
}

/** A room the user has proved the right to, with its secret and its authenticated mode. */
export interface UnlockedRoom {
  status: RoomStatus;
  secret: Buffer;
  /** The mode the password (or the remembered room) vouches for: never the registry's alone. */
  mode: RoomMode;
}

/** A registry record whose mode is not the one its password or this machine vouches for. */
function modeAltered(room: string, recorded: RoomMode, real: RoomMode): RecordAlteredError {
  return new RecordAlteredError(
    room,
    `it says the room is ${recorded}, but the room was created ${real}`,
  );
}

/** How many times a password asked for at the terminal may be mistyped. */
const PROMPT_TRIES = 3;

const OTHER_MODE: Record<RoomMode, RoomMode> = { encrypted: 'plain', plain: 'encrypted' };

/** A room made by a sunoye from before rooms were bound to their mode and signed. */
function olderRoom(room: string): RefusedError {
  return new RefusedError(
    `room ${room} was made by an older sunoye, whose rooms a database write could turn plain and whose messages are unsigned; ` +
      'this version does not use it: make a new room with `room create`',
  );
}

/**
 * Reads a room and proves the right to it: with the remembered secret when `useRemembered` and
 * no password was given, else with the password (a generated one typed in either case, see
 * `passwordReadings`). Unknown rooms, wrong passwords and (with
 * `refuseClosed`) closed rooms are refused before any password is asked for; a room created on
 * another broker than the configured one is a warning.
 */
export async function unlockRoom(
  ctx: CommandContext,
  store: RoomStore,
  room: string,
  flags: PasswordFlags,
  options: { useRemembered: boolean; touch: boolean; refuseClosed: boolean },
): Promise<UnlockedRoom> {
  const status = options.touch ? await store.touch(room) : await store.status(room);
  if (!status) throw roomNotFound(ctx, store.label, room);
  if (options.refuseClosed && status.room.state === 'closed') throw new RoomClosedError(room);
  warnIfOtherBroker(ctx, status.room);
  const { verifier, kdf, mode } = status.room;
  const explicit = flags.password !== undefined || flags.passwordFile !== undefined;
  const remembered = findRemembered(ctx.config.home, store.label, room);
  // The mode this machine remembers always wins over the registry's.
  if (remembered && remembered.mode !== mode) throw modeAltered(room, mode, remembered.mode);
  if (options.useRemembered && !explicit && remembered) {
    const secret = Buffer.from(remembered.secret, 'base64');
    if (secretMatches(secret, verifier, room, mode)) return { status, secret, mode };
    if (isUnboundVerifier(secret, verifier)) throw olderRoom(room);
  }
  const sources = passwordSources(ctx, flags);
  // Asked at a terminal, a mistyped password is asked for again (three tries, as sudo gives).
  const tries = asksAtTerminal(sources) ? PROMPT_TRIES : 1;
  for (let attempt = 1; ; attempt += 1) {
    const prompt =
      attempt === 1
        ? `Password for room ${room}: `
        : `Wrong password; try again (${tries - attempt + 1} left): `;
    const password = await readPassword(sources, prompt);
    if (password === undefined) {
      throw new UsageError(
        `room ${room} needs its password: use --password-file FILE, SUNOYE_PASSWORD, or run in a terminal to be asked`,
      );
    }
    for (const reading of passwordReadings(password)) {
      const secret = await deriveRoomSecret(reading, kdf);
      if (secretMatches(secret, verifier, room, mode)) return { status, secret, mode };
      if (secretMatches(secret, verifier, room, OTHER_MODE[mode]))
        throw modeAltered(room, mode, OTHER_MODE[mode]);
      if (isUnboundVerifier(secret, verifier)) throw olderRoom(room);
    }
    if (attempt >= tries) throw new RefusedError(`wrong password for room ${room}`);
  }
}
