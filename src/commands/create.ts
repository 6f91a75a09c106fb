/** `room create`: a new room with a random number and a password, remembered on this machine. */
import { command } from '../cli/args.js';
import { commandContext, jsonOption, passwordOptions, commonOptions } from '../cli/options.js';
import { UsageError } from '../errors.js';
import {
  DEFAULT_HISTORY,
  DEFAULT_IDLE_SECONDS,
  HISTORY_BYTES_RANGE,
  HISTORY_SECONDS_RANGE,
  IDLE_SECONDS_RANGE,
  NO_HISTORY,
  type HistoryRetention,
} from '../db/index.js';
import { deriveRoomSecret, newKdfParams, verifier, type RoomMode } from '../protocol/index.js';
import {
  generatePassword,
  PASSWORD_ADVICE,
  passwordProblem,
  passwordReadings,
  readPassword,
} from '../secrets/password.js';
import { withStore, writeJson, type CommandContext } from '../room/context.js';
import { passwordSources, type PasswordFlags } from '../room/room-access.js';
import { invitation } from '../room/sharing.js';
import { formatBytes, formatDuration, parseDuration, parseSize } from './format.js';
import { rememberJoined } from './join.js';

export interface CreateOptions extends PasswordFlags {
  idleSeconds: number;
  plain: boolean;
  json: boolean;
  /** `--history`, as typed (a duration, or 0). */
  history?: string | undefined;
  /** `--history-size`, as typed. */
  historySize?: string | undefined;
}

/** `room create`, as the command line declares it. */
export const createCommand = command(
  {
    name: 'create',
    describe: 'Create a room; prints its number and a generated password',
    details: [
      'Sharing a room: everyone in it needs the same registry (--db) and broker (--broker).',
      'On one machine, a SQLite file they can all read and write: --db sqlite:/srv/sunoye/rooms.db,',
      'in a folder their group can write (sudo install -d -m 2770 -g GROUP /srv/sunoye): a new file',
      "there is made readable and writable by the folder's group, elsewhere by you alone.",
      'Across machines, a shared MySQL/MariaDB and a broker all can reach:',
      '  --db mysql://user@dbhost:3306/sunoye --broker mqtt://chathost:1883.',
      'room create prints the `room join` line for the people you invite, with no password in it.',
      '',
      'History: an encrypted room keeps what its members send, sealed as it went to the broker,',
      'in the registry, for `listen --since/--last` and to fill gaps (default 24h and 64MiB;',
      '--history 0 keeps none). Whoever can read the registry sees who sent how much and when,',
      'never the text. Over the size cap, the oldest lines of whoever sent the most go first.',
      'Plain rooms keep no history.',
    ].join('\n'),
    positionals: [],
    options: {
      ...commonOptions,
      ...passwordOptions,
      ...jsonOption,
      idle: {
        type: 'number',
        default: DEFAULT_IDLE_SECONDS,
        value: 'SECONDS',
        describe: 'Close the room after this many seconds without members',
      },
      plain: {
        type: 'boolean',
        default: false,
        describe: 'Send MQTT-Chat JSON unencrypted (for MQTT-Chat clients and debugging)',
      },
      history: {
        type: 'string',
        value: 'DURATION',
        describe:
          'Keep the sealed history this long: 30m, 24h, 7d (1 minute to 30 days; default 24h), or 0 for none',
      },
      'history-size': {
        type: 'string',
        value: 'SIZE',
        describe:
          'Keep at most this much history: 8MiB, 64MiB, 1GiB (1 MiB to 4 GiB; default 64MiB)',
      },
    },
  },
  (args, shell) => createRoom(commandContext(args, shell), { ...args, idleSeconds: args.idle }),
);

/** Checks an idle timeout in seconds. */
export function checkIdleSeconds(value: number): number {
  const { min, max } = IDLE_SECONDS_RANGE;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--idle must be a whole number of seconds from ${min} to ${max}`);
  }
  return value;
}

const HISTORY_ADVICE =
  'a time like 30m, 24h or 7d, from 1 minute to 30 days, or 0 to keep no history';
const HISTORY_SIZE_ADVICE = 'a size like 8MiB, 64MiB or 1GiB, from 1 MiB to 4 GiB';

/** What the room is to keep of its history, from `--history` and `--history-size`. */
export function checkHistory(options: CreateOptions): HistoryRetention {
  let seconds: number | undefined;
  if (options.history !== undefined) {
    seconds = parseDuration(options.history);
    const { min, max } = HISTORY_SECONDS_RANGE;
    if (seconds === undefined || (seconds !== 0 && (seconds < min || seconds > max)))
      throw new UsageError(`--history must be ${HISTORY_ADVICE}`);
  }
  let bytes: number | undefined;
  if (options.historySize !== undefined) {
    bytes = parseSize(options.historySize);
    const { min, max } = HISTORY_BYTES_RANGE;
    if (bytes === undefined || bytes < min || bytes > max)
      throw new UsageError(`--history-size must be ${HISTORY_SIZE_ADVICE}`);
  }
  if (options.plain) {
    if ((seconds !== undefined && seconds > 0) || bytes !== undefined)
      throw new UsageError(
        'plain rooms keep no history: their text is clear to the broker (leave out --plain, or --history and --history-size)',
      );
    return NO_HISTORY;
  }
  seconds ??= DEFAULT_HISTORY.seconds;
  if (seconds === 0 && bytes !== undefined)
    throw new UsageError(
      '--history 0 keeps no history: leave out --history-size, or give --history a time',
    );
  if (seconds === 0) return NO_HISTORY;
  return { seconds, bytes: bytes ?? DEFAULT_HISTORY.bytes };
}

/** What a room keeps of its history, in words: "24 h of history, at most 64 MiB". */
export function historyWords(history: HistoryRetention): string {
  return history.seconds === 0
    ? 'no history'
    : `${formatDuration(history.seconds)} of sealed history, at most ${formatBytes(history.bytes)}`;
}

/** Creates a room; prints its number, and its password when sunoye generated it. */
export async function createRoom(ctx: CommandContext, options: CreateOptions): Promise<void> {
  const idleSeconds = checkIdleSeconds(options.idleSeconds);
  const mode: RoomMode = options.plain ? 'plain' : 'encrypted';
  const history = checkHistory(options);
  // No prompt: without a password, create generates one.
  const typed = await readPassword(passwordSources(ctx, options), undefined);
  // A password of the generated form is kept in lower case, as it is tried first when typed.
  const given = typed === undefined ? undefined : passwordReadings(typed)[0]!;
  if (given !== undefined) {
    const problem = await passwordProblem(given, [ctx.config.name]);
    if (problem) throw new UsageError(`that password is too weak: ${problem}; ${PASSWORD_ADVICE}`);
  }
  const password = given ?? generatePassword();
  const kdf = newKdfParams();
  const secret = await deriveRoomSecret(password, kdf);

  const record = await withStore(
    ctx,
    (store) =>
      store
        .createRoom({
          creator: ctx.config.name,
          mode,
          idleSeconds,
          kdf,
          verifier: (number) => verifier(secret, number, mode),
          broker: ctx.config.broker,
          history,
        })
        .then((room) => ({ room, label: store.label })),
    // Only `room create` makes a registry: every other command refuses one that is not there.
    { create: true },
  );
  const room = record.room.number;
  const invite = invitation(ctx.config, ctx.io.env, room);
  if (options.json) {
    writeJson(ctx.io, {
      room,
      ...(given === undefined ? { password } : {}),
      mode,
      idleSeconds,
      creator: record.room.creator,
      createdAt: record.room.createdAt.toISOString(),
      broker: record.room.broker,
      history: { seconds: record.room.history.seconds, maxBytes: record.room.history.bytes },
      join: invite.line,
      // The default registry is the creator's alone: the join line serves only them.
      ...(invite.own ? { ownRegistry: true } : {}),
    });
  } else {
    // Labelled as what they are: a line starting "room:" reads like one of room's errors.
    ctx.io.stdout.write(`Room number: ${room}\n`);
    if (given === undefined) ctx.io.stdout.write(`Password:    ${password}\n`);
    ctx.io.stderr.write(
      `Created ${mode} room ${room}; it closes after ${formatDuration(idleSeconds)} without members.\n` +
        `It keeps ${historyWords(record.room.history)}.\n` +
        (given === undefined
          ? invite.own
            ? 'The password is shown only this once: keep it to join from another home folder.\n'
            : 'The password is shown only this once: share it with the people you invite.\n'
          : '') +
        (invite.own
          ? `${invite.notes.join('\n')}\nYou join it from elsewhere on this account with:\n  ${invite.line}\n${invite.use}\n`
          : `The people you invite join with:\n  ${invite.line}\n${invite.notes.join('\n')}\n`),
    );
  }
  rememberJoined(ctx, { room, store: record.label, mode, secret });
}
