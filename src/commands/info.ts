/** `room info`: a room's state and its live members. */
import { command } from '../cli/args.js';
import { commandContext, jsonOption, requiredRoomPositional, roomOptions } from '../cli/options.js';
import { colourFor } from '../chat/colour.js';
import { visible } from '../chat/render.js';
import { findRemembered } from '../home/remembered.js';
import { RoomNotFoundError } from '../db/index.js';
import { withStore, writeJson, type CommandContext } from '../chat/context.js';
import { formatDuration, formatTime } from './format.js';
import { checkRoomArg } from '../chat/room-access.js';

export interface InfoOptions {
  room: string;
  json: boolean;
}

/** `room info`, as the command line declares it. */
export const infoCommand = command(
  {
    name: 'info',
    describe: 'Show a room: state, mode and who is listening',
    positionals: [requiredRoomPositional],
    options: { ...roomOptions, ...jsonOption },
  },
  (args, shell) => roomInfo(commandContext(args, shell), args),
);

/** Prints a room's state, mode and live members. */
export async function roomInfo(ctx: CommandContext, options: InfoOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  await withStore(ctx, async (store) => {
    const status = await store.status(room);
    if (!status) throw new RoomNotFoundError(room, store.label);
    const { room: record, members } = status;
    const names = members.map((m) => m.name);
    // The registry's mode is not vouched for: the mode this machine remembers wins.
    const remembered = findRemembered(ctx.config.home, store.label, room);
    const altered = remembered !== undefined && remembered.mode !== record.mode;
    if (options.json) {
      writeJson(ctx.io, {
        room,
        state: record.state,
        members: members.length,
        names,
        mode: remembered?.mode ?? record.mode,
        ...(altered ? { registryMode: record.mode } : {}),
        creator: record.creator,
        idleSeconds: record.idleSeconds,
        createdAt: record.createdAt.toISOString(),
        closedAt: record.closedAt?.toISOString() ?? null,
      });
      return;
    }
    const colour = colourFor(ctx.io.stdout, ctx.io.env);
    const state = record.state === 'open' ? colour.green('open') : colour.red('closed');
    const lines = [
      `room ${room}: ${state}, ${remembered?.mode ?? record.mode}` +
        (altered ? colour.red(` (the registry says ${record.mode}: its record was altered)`) : ''),
      // Names come from the database: whoever can write it must not drive this terminal.
      `created by ${visible(record.creator)} at ${formatTime(record.createdAt)}` +
        (record.closedAt
          ? `, closed at ${formatTime(record.closedAt)}`
          : `; closes after ${formatDuration(record.idleSeconds)} without members`),
      `members: ${members.length}${names.length ? ` (${names.map(visible).join(', ')})` : ''}`,
    ];
    ctx.io.stdout.write(`${lines.join('\n')}\n`);
  });
}
