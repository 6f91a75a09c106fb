/** `room info`: a room's state and its live members. */
import { command } from '../cli/args.js';
import {
  commandContext,
  jsonOption,
  requiredRoomPositional,
  commonOptions,
} from '../cli/options.js';
import { colourFor } from '../terminal/colour.js';
import { withStore, writeJson, type CommandContext } from '../room/context.js';
import { formatBytes, formatDuration } from './format.js';
import { historyWords } from './create.js';
import { clockTime } from '../terminal/render.js';
import { checkRoomArg, roomContext, roomNotFound } from '../room/room-access.js';
import { memberJson, memberLine, viewerOf, viewMember } from '../terminal/members.js';
import { visibleLine } from '../protocol/sanitise.js';
import { existsSync } from 'node:fs';
import { identityPath, loadIdentity } from '../home/identity.js';
import { findRemembered } from '../home/remembered.js';
import { recordedBrokerUrl } from '../broker-url.js';
import { warnIfOtherBroker } from '../room/sharing.js';

export interface InfoOptions {
  room: string;
  json: boolean;
}

/** `room info`, as the command line declares it. */
export const infoCommand = command(
  {
    name: 'info',
    describe: 'Show a room: state, mode, who is listening and the history it keeps',
    positionals: [requiredRoomPositional],
    options: { ...commonOptions, ...jsonOption },
  },
  (args, shell) => roomInfo(commandContext(args, shell), args),
);

/** Prints a room's state, mode and live members. */
export async function roomInfo(given: CommandContext, options: InfoOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  const ctx = roomContext(given, room);
  await withStore(
    ctx,
    async (store) => {
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
      // Each membership by the key that signed it, against the keys this user knows (pinned by its
      // listeners, and its own identity if it has one: `room info` makes none).
      const publicKey = existsSync(identityPath(home))
        ? loadIdentity(home).signer.publicKey
        : undefined;
      const me = { name: ctx.config.name, publicKey };
      const viewer = viewerOf(home, store.label, room, me, mode === 'encrypted');
      const views = members.map((m) => viewMember(m, viewer));
      // The registry's record, re-read as a broker address: never more than scheme, host and port.
      const recordedBroker = record.broker === null ? undefined : recordedBrokerUrl(record.broker);
      // What the registry holds of the room's sealed history (none once the room is closed).
      const keeps = record.state === 'open' && record.history.seconds > 0;
      const held = keeps ? await store.historyStats(room) : { rows: 0, bytes: 0, oldest: null };
      if (options.json) {
        writeJson(ctx.io, {
          room,
          state: record.state,
          members: members.length,
          names,
          memberships: views.map(memberJson),
          mode,
          ...(altered ? { recordAltered: true, recordMode: record.mode } : {}),
          creator: record.creator,
          idleSeconds: record.idleSeconds,
          createdAt: record.createdAt.toISOString(),
          closedAt: record.closedAt?.toISOString() ?? null,
          broker: recordedBroker ?? null,
          history: {
            seconds: record.history.seconds,
            maxBytes: record.history.bytes,
            rows: held.rows,
            bytes: held.bytes,
            oldest: held.oldest?.toISOString() ?? null,
          },
        });
        return;
      }
      const colour = colourFor(ctx.io.stdout, ctx.io.env);
      const state = record.state === 'open' ? colour.green('open') : colour.red('closed');
      const lines = [
        `room ${room}: ${state}, ${mode}` +
          (altered
            ? colour.red(` (the registry says ${record.mode}: its record was altered)`)
            : ''),
        `created by ${visibleLine(record.creator)} at ${clockTime(record.createdAt)}` +
          (recordedBroker ? ` on ${visibleLine(recordedBroker)}` : '') +
          (record.closedAt
            ? `, closed at ${clockTime(record.closedAt)}`
            : `; closes after ${formatDuration(record.idleSeconds)} without members`),
        `history: ${record.history.seconds === 0 ? 'none kept' : historyWords(record.history)}` +
          (keeps
            ? held.rows === 0
              ? '; holds nothing'
              : // A row is a message as it went to the broker: a typed line, or a piped batch.
                `; holds ${held.rows} ${held.rows === 1 ? 'row' : 'rows'} (a line typed or a batch piped each), ${formatBytes(held.bytes)}, ` +
                `the oldest from ${clockTime(held.oldest!)}`
            : record.history.seconds > 0
              ? '; deleted when the room closed'
              : ''),
        `members: ${members.length}`,
        // One a line, so that no name can pass for two.
        ...views.map((v) => `  ${memberLine(v, colour)}`),
      ];
      ctx.io.stdout.write(`${lines.join('\n')}\n`);
    },
    { room },
  );
}
