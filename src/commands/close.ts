/** `room close`: end a room now, for good. */
import { announceClosed } from '../chat/announce.js';
import { UnavailableError } from '../errors.js';
import { RoomNotFoundError } from '../db/index.js';
import { withStore, writeJson, type CommandContext } from '../chat/context.js';
import { checkRoomArg, unlockRoom, type PasswordFlags } from '../chat/room-access.js';

export interface CloseOptions extends PasswordFlags {
  room: string;
  json: boolean;
}

/** Closes a room, proving the right to it with the remembered secret or the password. */
export async function closeRoom(ctx: CommandContext, options: CloseOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  await withStore(ctx, async (store) => {
    const { status, secret } = await unlockRoom(ctx, store, room, options, {
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
      await announceClosed(ctx.config, room, status.room.mode, secret).catch((err: unknown) => {
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
  });
}
