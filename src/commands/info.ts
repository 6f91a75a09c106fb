/** `room info`: a room's state and its live members. */
import { command } from '../cli/args.js';
import {
  commandContext,
  jsonOption,
  requiredRoomPositional,
  commonOptions,
} from '../cli/options.js';
import { colourFor } from '../chat/colour.js';
import { withStore, writeJson, type CommandContext } from '../chat/context.js';
import { formatDuration } from './format.js';
import { clockTime } from '../chat/render.js';
import { checkRoomArg, roomNotFound } from '../chat/room-access.js';
import { visibleLine } from '../chat/sanitise.js';
import { existsSync } from 'node:fs';
import { pinnedFingerprints } from '../chat/senders.js';
import { identityPath, loadIdentity } from '../home/identity.js';
import { findRemembered } from '../home/remembered.js';
import { recordedBrokerUrl } from '../broker-url.js';
import { warnIfOtherBroker } from '../chat/sharing.js';

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
    options: { ...commonOptions, ...jsonOption },
  },
  (args, shell) => roomInfo(commandContext(args, shell), args),
);

/** Prints a room's state, mode and live members. */
export async function roomInfo(ctx: CommandContext, options: InfoOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  await withStore(ctx, async (store) => {
    const status = await store.status(room);
    if (!status) throw roomNotFound(ctx, store.label, room);
    const { room: record, members } = status;
    warnIfOtherBroker(ctx, record);
    const names = members.map((m) => m.name);
    const home = ctx.config.home;
    // The mode this machine remembers wins: a registry record may have been altered.
    const remembered = findRemembered(home, store.label, room);
    const mode = remembered?.mode ?? record.mode;
    const altered = remembered !== undefined && remembered.mode !== record.mode;
    // Keys as this user knows them: pinned by its listeners, and its own.
    const keys = pinnedFingerprints(home, store.label, room);
    if (existsSync(identityPath(home))) keys.set(ctx.config.name, loadIdentity(home).fingerprint);
    // The registry's record, re-read as a broker address: never more than scheme, host and port.
    const recordedBroker = record.broker === null ? undefined : recordedBrokerUrl(record.broker);
    const known = Object.fromEntries(names.flatMap((n) => (keys.has(n) ? [[n, keys.get(n)]] : [])));
    if (options.json) {
      writeJson(ctx.io, {
        room,
        state: record.state,
        members: members.length,
        names,
        keys: known,
        mode,
        ...(altered ? { recordAltered: true, recordMode: record.mode } : {}),
        creator: record.creator,
        idleSeconds: record.idleSeconds,
        createdAt: record.createdAt.toISOString(),
        closedAt: record.closedAt?.toISOString() ?? null,
        broker: recordedBroker ?? null,
      });
      return;
    }
    // Names come from the registry, which anyone with write access to it can fill.
    const shown = names.map((n) => {
      const key = keys.get(n);
      return key === undefined ? visibleLine(n) : `${visibleLine(n)} [key ${key}]`;
    });
    const colour = colourFor(ctx.io.stdout, ctx.io.env);
    const state = record.state === 'open' ? colour.green('open') : colour.red('closed');
    const lines = [
      `room ${room}: ${state}, ${mode}` +
        (altered ? colour.red(` (the registry says ${record.mode}: its record was altered)`) : ''),
      `created by ${visibleLine(record.creator)} at ${clockTime(record.createdAt)}` +
        (recordedBroker ? ` on ${visibleLine(recordedBroker)}` : '') +
        (record.closedAt
          ? `, closed at ${clockTime(record.closedAt)}`
          : `; closes after ${formatDuration(record.idleSeconds)} without members`),
      `members: ${members.length}${shown.length ? ` (${shown.join(', ')})` : ''}`,
    ];
    ctx.io.stdout.write(`${lines.join('\n')}\n`);
  });
}
