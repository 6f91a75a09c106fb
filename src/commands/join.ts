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
import { writeJson, withStore, type CommandContext } from '../chat/context.js';
import { checkRoomArg, unlockRoom, type PasswordFlags } from '../chat/room-access.js';
import { invitation } from '../chat/sharing.js';

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

/** Joins a room: the password is checked, then the derived secret (not the password) is saved. */
export async function joinRoom(ctx: CommandContext, options: JoinOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  await withStore(ctx, async (store) => {
    const { status, secret, mode } = await unlockRoom(ctx, store, room, options, {
      useRemembered: false,
      touch: true,
      refuseClosed: true,
    });
    rememberRoom(ctx.config.home, {
      room,
      store: store.label,
      mode,
      secret: secret.toString('base64'),
    });
    if (options.json) {
      writeJson(ctx.io, { room, state: status.room.state, mode, members: status.members.length });
    } else {
      ctx.io.stderr.write(
        `Joined ${mode} room ${room} (${status.members.length} listening). ` +
          `${invitation(ctx.config, ctx.io.env, room).use}\n`,
      );
    }
  });
}
