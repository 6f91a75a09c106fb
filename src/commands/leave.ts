/** `room leave`: forget a room on this machine (the room itself is untouched). */
import { command } from '../cli/args.js';
import { commandContext, requiredRoomPositional, commonOptionsOf } from '../cli/options.js';
import { RefusedError } from '../errors.js';
import { parseDbUrl } from '../db/index.js';
import { forgetRoom } from '../home/remembered.js';
import type { CommandContext } from '../chat/context.js';
import { checkRoomArg, rememberedElsewhere } from '../chat/room-access.js';

export interface LeaveOptions {
  room: string;
}

/** `room leave`, as the command line declares it. */
export const leaveCommand = command(
  {
    name: 'leave',
    describe: 'Forget a remembered room (the room itself stays open)',
    positionals: [requiredRoomPositional],
    options: commonOptionsOf('db', 'home'),
  },
  (args, shell) => leaveRoom(commandContext(args, shell), args),
);

/** Forgets a remembered room and its secret. */
export function leaveRoom(ctx: CommandContext, options: LeaveOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  const label = parseDbUrl(ctx.config.db).label;
  if (!forgetRoom(ctx.config.home, label, room)) {
    const other = rememberedElsewhere(ctx, label, room);
    return Promise.reject(
      new RefusedError(
        other === undefined
          ? `room ${room} is not remembered here; \`room list\` shows the rooms that are`
          : `room ${room} is remembered from the registry ${other}, not ${label}: give that one with --db (or SUNOYE_DB)`,
      ),
    );
  }
  ctx.io.stderr.write(`Forgot room ${room}; \`room join ${room}\` remembers it again.\n`);
  return Promise.resolve();
}
