/** `room join`: check a room's password and remember the room on this machine. */
import { command } from '../cli/args.js';
import {
  commandContext,
  commonOptionsOf,
  jsonOption,
  passwordOptions,
  requiredRoomPositional,
} from '../cli/options.js';
import { rememberRoom } from '../home/remembered.js';
import type { RoomMode } from '../protocol/index.js';
import { writeJson, withStore, type CommandContext } from '../room/context.js';
import { checkRoomArg, joinedWith, unlockRoom, type PasswordFlags } from '../room/room-access.js';
import { invitation } from '../room/sharing.js';

export interface JoinOptions extends PasswordFlags {
  room: string;
  json: boolean;
}

/** `room join`, as the command line declares it. */
export const joinCommand = command(
  {
    name: 'join',
    describe: 'Check a room password and remember the room, so listen and publish need none',
    positionals: [requiredRoomPositional],
    options: { ...commonOptionsOf('db', 'broker', 'home'), ...passwordOptions, ...jsonOption },
  },
  (args, shell) => joinRoom(commandContext(args, shell), args),
);

/**
 * Remembers a room on this machine (room join, room create): its secret, and the registry and
 * broker it was reached with.
 */
export function rememberJoined(
  ctx: CommandContext,
  entry: { room: string; store: string; mode: RoomMode; secret: Buffer },
): void {
  rememberRoom(ctx.config.home, {
    ...entry,
    secret: entry.secret.toString('base64'),
    ...joinedWith(ctx.config),
  });
}

/** Joins a room: the password is checked, then the derived secret (not the password) is saved. */
export async function joinRoom(ctx: CommandContext, options: JoinOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  await withStore(
    ctx,
    async (store) => {
      const { status, secret, mode } = await unlockRoom(ctx, store, room, options, {
        useRemembered: false,
        touch: true,
        refuseClosed: true,
      });
      rememberJoined(ctx, { room, store: store.label, mode, secret });
      if (options.json) {
        writeJson(ctx.io, { room, state: status.room.state, mode, members: status.members.length });
      } else {
        ctx.io.stderr.write(
          `Joined ${mode} room ${room} (${status.members.length} listening). ` +
            `${invitation(ctx.config, ctx.io.env, room).use}\n`,
        );
      }
    },
    { room },
  );
}
