/** `room close`: end a room now, for good. */
import { command } from '../cli/args.js';
import {
  commandContext,
  jsonOption,
  passwordOptions,
  requiredRoomPositional,
  roomOptions,
} from '../cli/options.js';
import { UnavailableError } from '../errors.js';
import { RoomNotFoundError } from '../db/index.js';
import { withStore, writeJson, type CommandContext } from '../room/context.js';
import { checkRoomArg, roomContext, unlockRoom, type PasswordFlags } from '../room/room-access.js';

export interface CloseOptions extends PasswordFlags {
  room: string;
  json: boolean;
}

/** `room close`, as the command line declares it. */
export const closeCommand = command(
  {
    name: 'close',
    describe: 'Close a room now, for good (needs the password or the remembered room)',
    positionals: [requiredRoomPositional],
    options: { ...roomOptions, ...passwordOptions, ...jsonOption },
  },
  (args, shell) => closeRoom(commandContext(args, shell), args),
);

/** Closes a room, proving the right to it with the remembered secret or the password. */
export async function closeRoom(given: CommandContext, options: CloseOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  const ctx = roomContext(given, room);
  await withStore(
    ctx,
    async (store) => {
      const { status, secret, mode } = await unlockRoom(ctx, store, room, options, {
        useRemembered: true,
        touch: false,
        refuseClosed: false,
      });
      const wasOpen = status.room.state === 'open';
      const closed = wasOpen ? await store.closeRoom(room) : status.room;
      if (!closed) throw new RoomNotFoundError(room, store.label);
      let unannounced: string | undefined;
      if (wasOpen) {
        // Tell running listeners at once; if the broker is away they notice at their next heartbeat.
        // MQTT.js loads only here, not on every start of `room`.
        const { announceClosed } = await import('../conversation/announce.js');
        await announceClosed(ctx.config, room, mode, secret).catch((err: unknown) => {
          unannounced = err instanceof Error ? err.message : String(err);
        });
      }
      if (unannounced !== undefined) {
        throw new UnavailableError(
          `closed room ${room}, but could not tell its listeners over the broker (${unannounced}); they stop at their next heartbeat`,
        );
      }
      if (options.json) {
        writeJson(ctx.io, {
          room,
          state: closed.state,
          closedAt: closed.closedAt?.toISOString() ?? null,
          wasOpen,
        });
      } else {
        ctx.io.stderr.write(
          wasOpen ? `Closed room ${room}.\n` : `Room ${room} was already closed.\n`,
        );
      }
    },
    { room },
  );
}
