/** `room leave`: forget a room on this machine (the room itself is untouched). */
import { command } from '../cli/args.js';
import { commandContext, requiredRoomPositional, commonOptionsOf } from '../cli/options.js';
import { RefusedError } from '../errors.js';
import { parseDbUrl } from '../db/index.js';
import {
  findRemembered,
  forgetRoom,
  listRemembered,
  sameStore,
  type RememberedRoom,
} from '../home/remembered.js';
import { sameBroker } from '../broker-url.js';
import { shellWord } from '../room/sharing.js';
import { redactUrl } from '../redact.js';
import { visibleLine } from '../protocol/sanitise.js';
import type { CommandContext } from '../room/context.js';
import { checkRoomArg } from '../room/room-access.js';

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

/** What `room leave` knows of a room it forgot. */
type Forgotten = Pick<RememberedRoom, 'room' | 'store' | 'db' | 'dbPassword' | 'broker'>;

/**
 * The `room join` line that remembers `entry` again: with the registry and the broker it was
 * joined with, where those are not what this command is configured with (never a password).
 */
function rejoinHint(ctx: CommandContext, entry: Forgotten): string {
  const words = ['room', 'join', entry.room];
  if (!sameStore(entry.store, parseDbUrl(ctx.config.db).label))
    words.push('--db', entry.db ?? entry.store);
  if (entry.broker !== undefined && !sameBroker(entry.broker, ctx.config.broker))
    words.push('--broker', entry.broker);
  const line = `\`${words.map(shellWord).join(' ')}\``;
  return entry.dbPassword && words.includes('--db')
    ? `${line} (with the database password, in the URL or SUNOYE_DB)`
    : line;
}

/**
 * Forgets a remembered room and its secret: of the configured registry, else of whichever
 * registries it is remembered from. Only this machine's memory is touched: no registry is opened.
 */
export function leaveRoom(ctx: CommandContext, options: LeaveOptions): Promise<void> {
  const room = checkRoomArg(options.room);
  const label = parseDbUrl(ctx.config.db).label;
  const home = ctx.config.home;
  let own: Forgotten | undefined;
  try {
    own = findRemembered(home, label, room);
  } catch {
    own = undefined; // forgotten all the same; the hint then has no flags
  }
  const forgotten: Forgotten[] = forgetRoom(home, label, room)
    ? [own ?? { room, store: label }]
    : listRemembered(home).filter((r) => r.room === room && forgetRoom(home, r.store, room));
  if (forgotten.length === 0)
    return Promise.reject(
      new RefusedError(
        `room ${room} is not remembered here; \`room list\` shows the rooms that are`,
      ),
    );
  const shown = (r: Forgotten) => (r.store.startsWith('mysql:') ? redactUrl(r.store) : r.store);
  const where =
    forgotten.length === 1 ? '' : ` (of the registries ${forgotten.map(shown).join(', ')})`;
  const again = forgotten.map((r) => rejoinHint(ctx, r)).join(' or ');
  ctx.io.stderr.write(
    `${visibleLine(`Forgot room ${room}${where}; ${again} remembers it again.`)}\n`,
  );
  return Promise.resolve();
}
