/** `room list`: the rooms this user remembers, with their current state. */
import { command } from '../cli/args.js';
import { commandContext, jsonOption, commonOptionsOf } from '../cli/options.js';
import {
  openStore,
  parseDbUrl,
  RecordAlteredError,
  RegistryNotFoundError,
  type RoomStore,
} from '../db/index.js';
import { SunoyeError } from '../errors.js';
import { listRemembered, registryUrl, sameStore, type RememberedRoom } from '../home/remembered.js';
import { redactUrl } from '../redact.js';
import { writeJson, type CommandContext } from '../room/context.js';
import { visibleLine } from '../protocol/sanitise.js';

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

/** Opens the registry at `url` (never making one), runs `fn`, and always closes it. */
async function readStates(url: string, fn: (store: RoomStore) => Promise<void>): Promise<void> {
  const store = await openStore(url, { create: false });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * Lists remembered rooms with their live state, each read from its own registry (the configured
 * one as configured, the others as they were joined with). Closed rooms are left out unless `all`.
 */
export async function listRooms(ctx: CommandContext, options: ListOptions): Promise<void> {
  const remembered = listRemembered(ctx.config.home);
  const label = parseDbUrl(ctx.config.db).label;
  const states = new Map<RememberedRoom, { state: string; members: number | null }>();
  // Why the rooms of a registry that could not be read show no state, by registry.
  const unread = new Map<string, string>();
  // Each registry once: the configured one as configured, the others as they were joined with.
  const registries = new Map<string, RememberedRoom[]>();
  for (const r of remembered) {
    const key = sameStore(r.store, label) ? label : r.store;
    registries.set(key, [...(registries.get(key) ?? []), r]);
  }
  for (const [store, rooms] of registries) {
    const here = store === label;
    const url = here ? ctx.config.db : registryUrl(rooms[0]!);
    if (url === undefined || (!here && rooms[0]!.dbPassword)) {
      unread.set(store, 'this machine does not keep its password; give it with --db');
      continue;
    }
    await readStates(url, async (registry) => {
      for (const r of rooms) {
        // A record someone altered is marked, and the other rooms are listed still.
        const status = await registry.status(r.room).catch((err: unknown) => {
          if (err instanceof RecordAlteredError) return 'altered' as const;
          throw err;
        });
        states.set(
          r,
          status === 'altered'
            ? { state: 'altered', members: null }
            : status
              ? { state: status.room.state, members: status.members.length }
              : { state: 'gone', members: 0 },
        );
      }
    }).catch((err: unknown) => {
      if (err instanceof RegistryNotFoundError) {
        for (const r of rooms) states.set(r, { state: 'gone', members: 0 });
        return;
      }
      // The configured registry must answer; another one is reported, and the rest listed.
      if (here || !(err instanceof SunoyeError)) throw err;
      unread.set(store, err.message);
    });
  }
  const shown = (store: string) => (store.startsWith('mysql:') ? redactUrl(store) : store);
  const every = remembered.map((r) => {
    const live = states.get(r);
    return {
      room: r.room,
      state: live?.state ?? 'unknown',
      members: live?.members ?? null,
      mode: r.mode,
      // Rooms remembered by older versions name a MySQL registry with its user name.
      db: shown(r.store),
    };
  });
  const rows = options.all ? every : every.filter((r) => r.state !== 'closed');
  for (const [store, why] of unread)
    ctx.io.stderr.write(
      `${visibleLine(`the rooms of the registry ${shown(store)} show no state: it could not be read (${why})`)}\n`,
    );
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
