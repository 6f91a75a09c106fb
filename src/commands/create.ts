/** `room create`: a new room with a random number and a password, remembered on this machine. */
import { command } from '../cli/args.js';
import { commandContext, jsonOption, passwordOptions, commonOptions } from '../cli/options.js';
import { UsageError } from '../errors.js';
import { DEFAULT_IDLE_SECONDS, IDLE_SECONDS_RANGE } from '../db/index.js';
import { rememberRoom } from '../home/remembered.js';
import { deriveRoomSecret, newKdfParams, verifier, type RoomMode } from '../protocol/index.js';
import {
  generatePassword,
  PASSWORD_ADVICE,
  passwordProblem,
  passwordReadings,
  readPassword,
} from '../secrets/password.js';
import { withStore, writeJson, type CommandContext } from '../chat/context.js';
import { passwordSources, type PasswordFlags } from '../chat/room-access.js';
import { invitation } from '../chat/sharing.js';
import { formatDuration } from './format.js';

export interface CreateOptions extends PasswordFlags {
  idleSeconds: number;
  plain: boolean;
  json: boolean;
}

/** `room create`, as the command line declares it. */
export const createCommand = command(
  {
    name: 'create',
    describe: 'Create a room; prints its number and a generated password',
    details: [
      'Sharing a room: everyone in it needs the same registry (--db) and broker (--broker).',
      'On one machine, a SQLite file they can all read and write: --db sqlite:/srv/sunoye/rooms.db.',
      'Across machines, a shared MySQL/MariaDB and a broker all can reach:',
      '  --db mysql://user@dbhost:3306/sunoye --broker mqtt://chathost:1883.',
      'room create prints the `room join` line for the people you invite, with no password in it.',
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

/** Creates a room; prints its number, and its password when sunoye generated it. */
export async function createRoom(ctx: CommandContext, options: CreateOptions): Promise<void> {
  const idleSeconds = checkIdleSeconds(options.idleSeconds);
  const mode: RoomMode = options.plain ? 'plain' : 'encrypted';
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

  const record = await withStore(ctx, (store) =>
    store
      .createRoom({
        creator: ctx.config.name,
        mode,
        idleSeconds,
        kdf,
        verifier: (number) => verifier(secret, number, mode),
        broker: ctx.config.broker,
      })
      .then((room) => ({ room, label: store.label })),
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
      join: invite.line,
    });
  } else {
    // Labelled as what they are: a line starting "room:" reads like one of room's errors.
    ctx.io.stdout.write(`Room number: ${room}\n`);
    if (given === undefined) ctx.io.stdout.write(`Password:    ${password}\n`);
    ctx.io.stderr.write(
      `Created ${mode} room ${room}; it closes after ${formatDuration(idleSeconds)} without members.\n` +
        (given === undefined
          ? 'The password is shown only this once: share it with the people you invite.\n'
          : '') +
        `The people you invite join with:\n  ${invite.line}\n${invite.notes.join('\n')}\n`,
    );
  }
  rememberRoom(ctx.config.home, {
    room,
    store: record.label,
    mode,
    secret: secret.toString('base64'),
  });
}
