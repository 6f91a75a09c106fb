/**
 * Sharing a room with people elsewhere: the `room join` line `room create` gives its creator to
 * pass on (with the broker and database they need, never a password), and the warning when a
 * command uses another broker than the one the room was created on.
 */
import {
  addressUrl,
  brokerAddresses,
  differentBrokers,
  hasUserInfo,
  isLoopback,
  recordedBrokerUrl,
  shareableBrokerUrl,
  sameBroker,
} from '../broker-url.js';
import { DEFAULT_BROKER, defaultDbUrl, type Config } from '../config/config.js';
import { parseDbUrl, shareableDbUrl, type RoomRecord } from '../db/index.js';
import { DEFAULT_TOPIC_PREFIX } from '../mqtt/topics.js';
import type { CommandContext } from './context.js';
import { visibleLine } from './sanitise.js';

/**
 * Says on stderr when the configured broker is surely not the one the room's record names (see
 * `differentBrokers`): messages sent there reach nobody in the room. The record is only advice
 * (whoever can write the registry can change it): it is named, never connected to. Rooms
 * without one say nothing. Broker lists (clusters) that share a node are taken for one.
 */
export function warnIfOtherBroker(ctx: CommandContext, record: RoomRecord): void {
  const recorded = record.broker === null ? undefined : recordedBrokerUrl(record.broker);
  const configured = recordedBrokerUrl(ctx.config.broker);
  // A configured URL that names no broker is refused by whatever connects with it.
  if (!recorded || !configured || !differentBrokers(recorded, configured)) return;
  ctx.io.stderr.write(
    `warning: ${visibleLine(
      `room ${record.number} was created on the broker ${recorded} (so says the registry), ` +
        `but this uses ${configured}: if they are different brokers, nobody in the room ` +
        'sees your messages, nor you theirs; set the broker with --broker or SUNOYE_BROKER',
    )}\n`,
  );
}

/** What the creator of a room passes on: the `room join` line, and what else the invited need. */
export interface Invitation {
  /** The exact `room join` command, with the broker and database that are not the defaults. */
  line: string;
  /** Sentences for the creator: how listen and publish follow, and who can reach the registry. */
  notes: string[];
  /** How the room window and the pipes follow, with the flags they need: what `room join` says. */
  use: string;
}

/** One shell word: quoted when it holds anything a shell would read otherwise. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The invitation to room `room` of a registry and broker as `config` and `env` name them. */
export function invitation(
  config: Config,
  env: Record<string, string | undefined>,
  room: string,
): Invitation {
  // Flags that are not the defaults, each with its environment variable.
  const flags: [flag: string, value: string, envName: string][] = [];
  const notes: string[] = [];
  const loopback = (brokerAddresses(config.broker) ?? []).filter((a) => isLoopback(a.host));
  const brokerUrl = shareableBrokerUrl(config.broker);
  if (brokerUrl !== undefined && !sameBroker(config.broker, DEFAULT_BROKER))
    flags.push(['--broker', brokerUrl, 'SUNOYE_BROKER']);

  const db = parseDbUrl(config.db);
  if (db.kind === 'sqlite') {
    if (config.db === defaultDbUrl(env)) {
      notes.push(
        `The room is in your own registry, the SQLite file ${db.path}: others on this machine can ` +
          `join it with --db ${shellWord(db.label)} only if they can read and write that file and its folder; ` +
          'people on other machines need a shared MySQL/MariaDB registry (see "Sharing a room" in the README).',
      );
    } else {
      flags.push(['--db', db.label, 'SUNOYE_DB']);
      notes.push(
        `The registry is the SQLite file ${db.path}: it serves the people on this machine who can read ` +
          'and write that file and its folder; people on other machines need a shared MySQL/MariaDB registry.',
      );
    }
  } else {
    flags.push(['--db', shareableDbUrl(config.db), 'SUNOYE_DB']);
    if (hasUserInfo(config.db, 'password'))
      notes.push(
        "The database URL's password is left out: they add their own (mysql://user:PASSWORD@…), " +
          'or put the whole URL in SUNOYE_DB.',
      );
    const localDb = db.hosts.filter((h) => isLoopback(h.host)).map((h) => h.host);
    const local = [
      ...(loopback.length > 0 ? [`the broker (${loopback.map(addressUrl).join(', ')})`] : []),
      ...(localDb.length > 0 ? [`the database (${[...new Set(localDb)].join(', ')})`] : []),
    ];
    if (local.length > 0)
      notes.push(
        `${local.join(' and ').replace(/^t/, 'T')} ${local.length > 1 ? 'are' : 'is'} on this machine's ` +
          `loopback address: people on other machines need ${local.length > 1 ? 'their network addresses' : 'its network address'} instead.`,
      );
  }
  if (config.brokerUser !== undefined || hasUserInfo(config.broker))
    notes.push(
      'The broker asks for a user name and password: they use their own (SUNOYE_BROKER_USER, SUNOYE_BROKER_PASSWORD).',
    );
  // `room join` needs the registry; listen and publish need the broker and the topics too.
  const chatFlags: typeof flags =
    config.topicPrefix === DEFAULT_TOPIC_PREFIX
      ? flags
      : [...flags, ['--topic-prefix', config.topicPrefix, 'SUNOYE_TOPIC_PREFIX']];
  const use =
    `\`room chat ${room}\` opens the room window, and \`listen ${room}\` and ` +
    `\`publish ${room}\` read and write it in pipes` +
    (chatFlags.length === 0
      ? '.'
      : `, given the same ${chatFlags.map(([f]) => f).join(', ')} ` +
        `(or once for all: ${chatFlags.map(([, , e]) => e).join(', ')}, or $SUNOYE_HOME/config.json).`);
  notes.unshift(`Then ${use}`);
  const line = ['room', 'join', room, ...flags.flatMap(([f, value]) => [f, value])];
  return { line: line.map(shellWord).join(' '), notes, use };
}
