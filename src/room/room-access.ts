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
import {
  findRemembered,
  listRemembered,
  registryUrl,
  sameStore,
  type RememberedRoom,
} from '../home/remembered.js';
import { redactUrl } from '../redact.js';
import type { RoomStatus, RoomStore } from '../db/index.js';
import {
  isRoomNumber,
  parseDbUrl,
  shareableDbUrl,
  RecordAlteredError,
  RoomClosedError,
  RoomNotFoundError,
} from '../db/index.js';
import {
  asksAtTerminal,
  passwordReadings,
  readPassword,
  wrongPasswordAdvice,
  type PasswordSources,
} from '../secrets/password.js';
import type { CommandContext } from './context.js';
import { visibleLine } from '../protocol/sanitise.js';
import { inOwnRegistry, notInOwnRegistry, warnIfOtherBroker } from './sharing.js';
import { shareableBrokerUrl } from '../broker-url.js';
import type { Config } from '../config/config.js';

/** Checks a room-number argument; a refusal says what is wrong with it. */
export function checkRoomArg(room: string): string {
  if (isRoomNumber(room)) return room;
  let why = 'a room number is six digits, like 482913';
  if (/^0[0-9]{5}$/.test(room))
    why = 'room numbers never start with 0 (they run from 100000 to 999999)';
  else if (/^[0-9]+$/.test(room))
    why = `it has ${room.length} digit${room.length === 1 ? '' : 's'}, and a room number has six, like 482913`;
  throw new UsageError(`"${room}" is not a room number: ${why}`);
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
 * room from another registry, it names that one, which is surely meant; in the user's own default
 * registry, it says where a room someone else created is.
 */
export function roomNotFound(ctx: CommandContext, registry: string, room: string): RefusedError {
  const other = rememberedElsewhere(ctx, registry, room);
  if (other === undefined) {
    return inOwnRegistry(ctx.config, ctx.io.env)
      ? notInOwnRegistry(registry, room)
      : new RoomNotFoundError(room, registry);
  }
  return new RefusedError(
    `there is no room ${room} in ${registry}; you joined or created it in the registry ${other}: ` +
      'use that one: give it with --db, or give none (no --db, SUNOYE_DB or "db" in config.json)',
  );
}

/** What a remembered room keeps of the registry and broker it is joined or created with. */
export function joinedWith(config: Config): Pick<RememberedRoom, 'db' | 'dbPassword' | 'broker'> {
  const db = parseDbUrl(config.db);
  const broker = config.given.broker ? shareableBrokerUrl(config.broker) : undefined;
  return {
    db: shareableDbUrl(config.db),
    dbPassword: db.kind === 'mysql' && db.password !== undefined,
    ...(broker === undefined ? {} : { broker }),
  };
}

/**
 * The context for a command on room `room`: a remembered room uses the registry and the broker it
 * was joined or created with, unless others were given (flag, environment or config file), which
 * are used: another registry with a warning, another broker than the room's with the warning of
 * `warnIfOtherBroker`. A room remembered from several registries, or not at all, changes nothing.
 */
export function roomContext(ctx: CommandContext, room: string | undefined): CommandContext {
  if (room === undefined) return ctx;
  const all = listRemembered(ctx.config.home).filter((r) => r.room === room);
  if (all.length === 0) return ctx;
  const label = parseDbUrl(ctx.config.db).label;
  const warn = (text: string) => ctx.io.stderr.write(`warning: ${visibleLine(text)}\n`);
  let config: Config = ctx.config;
  let entry = all.find((r) => sameStore(r.store, label));
  if (entry === undefined) {
    if (all.length > 1) return ctx; // roomNotFound names one of them
    entry = all[0]!;
    const shown = entry.store.startsWith('mysql:') ? redactUrl(entry.store) : entry.store;
    if (ctx.config.given.db) {
      warn(
        `you joined room ${room} in the registry ${shown}, but this uses ${label} as given ` +
          '(--db, SUNOYE_DB or "db" in config.json); leave the registry out to use the one you joined with',
      );
      return ctx;
    }
    const url = registryUrl(entry);
    if (url === undefined || entry.dbPassword)
      throw new RefusedError(
        `room ${room} is in the registry ${shown}, whose ${url === undefined ? 'URL' : 'password'} this machine does not keep: ` +
          'give that registry with --db, SUNOYE_DB or "db" in config.json',
      );
    config = { ...config, db: url };
  }
  // A broker given is used; if it is not the room's, `warnIfOtherBroker` says so.
  if (entry.broker !== undefined && !ctx.config.given.broker)
    config = { ...config, broker: entry.broker };
  return config === ctx.config ? ctx : { ...ctx, config: Object.freeze(config) };
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
    if (attempt >= tries)
      throw new RefusedError(
        `wrong password for room ${room}: ${wrongPasswordAdvice(sources, password, tries)}`,
      );
  }
}
