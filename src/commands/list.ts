/** `room list`: the rooms this user remembers, with their current state. */
import { command } from '../cli/args.js';
import { commandContext, jsonOption, commonOptionsOf } from '../cli/options.js';
import { parseDbUrl, RecordAlteredError } from '../db/index.js';
import { listRemembered, sameStore } from '../home/remembered.js';
import { redactUrl } from '../redact.js';
import { withStore, writeJson, type CommandContext } from '../chat/context.js';
import { visibleLine } from '../chat/sanitise.js';

export interface ListOptions {
  json: boolean;
  /** Closed rooms too. */
  all?: boolean | undefined;
}

/** `room list`, as the command line declares it. */
export const listCommand = command(
  {
    name: 'list',
    describe: 'List the rooms remembered on this machine with their state',
    positionals: [],
    options: {
      ...commonOptionsOf('db', 'home'),
      ...jsonOption,
      all: { type: 'boolean', default: false, describe: 'List closed rooms too' },
    },
  },
  (args, shell) => listRooms(commandContext(args, shell), args),
);

/**
 * Lists remembered rooms; rooms of the configured registry show their live state. Closed rooms
 * are left out unless `all`.
 */
export async function listRooms(ctx: CommandContext, options: ListOptions): Promise<void> {
  const remembered = listRemembered(ctx.config.home);
  const label = parseDbUrl(ctx.config.db).label;
  const here = remembered.filter((r) => sameStore(r.store, label));
  const states = new Map<string, { state: string; members: number | null }>();
  if (here.length > 0) {
    await withStore(ctx, async (store) => {
      for (const r of here) {
        // A record someone altered is marked, and the other rooms are listed still.
        const status = await store.status(r.room).catch((err: unknown) => {
          if (err instanceof RecordAlteredError) return 'altered' as const;
          throw err;
        });
        states.set(
          r.room,
          status === 'altered'
            ? { state: 'altered', members: null }
            : status
              ? { state: status.room.state, members: status.members.length }
              : { state: 'gone', members: 0 },
        );
      }
    });
  }
  const every = remembered.map((r) => {
    const live = sameStore(r.store, label) ? states.get(r.room) : undefined;
    return {
      room: r.room,
      state: live?.state ?? 'unknown',
      members: live?.members ?? null,
      mode: r.mode,
      // Rooms remembered by older versions name a MySQL registry with its user name.
      db: r.store.startsWith('mysql:') ? redactUrl(r.store) : r.store,
    };
  });
  const rows = options.all ? every : every.filter((r) => r.state !== 'closed');
  if (options.json) {
    writeJson(ctx.io, rows);
    return;
  }
  const hidden = every.length - rows.length;
  const more =
    hidden === 0
      ? ''
      : `${hidden} closed room${hidden === 1 ? '' : 's'} not shown: \`room list --all\` lists ${hidden === 1 ? 'it' : 'them'}.\n`;
  if (rows.length === 0) {
    ctx.io.stderr.write(
      hidden > 0
        ? `No open rooms remembered. ${more}`
        : 'No rooms remembered yet: `room create` makes one, `room join ROOM` remembers one.\n',
    );
    return;
  }
  const others = remembered.some((r) => !sameStore(r.store, label));
  const table = [['ROOM', 'STATE', 'MEMBERS', 'MODE', ...(others ? ['DATABASE'] : [])]];
  for (const r of rows) {
    // The remembered files and the registry are read, not trusted: no cell drives the terminal.
    table.push(
      [
        r.room,
        r.state,
        r.members === null ? '-' : String(r.members),
        r.mode,
        ...(others ? [r.db] : []),
      ].map(visibleLine),
    );
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  ctx.io.stdout.write(
    table
      .map((row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n',
  );
  ctx.io.stderr.write(more);
  for (const r of rows)
    if (r.state === 'altered')
      ctx.io.stderr.write(
        `${visibleLine(`room ${r.room}: its registry record was altered; \`room info ${r.room}\` says how`)}\n`,
      );
}
