/**
 * Sharing a room with people elsewhere: the `room join` line `room create` gives its creator to
 * pass on (with the broker and database they need, never a password), and the warning when a
 * command uses another broker than the one the room was created on.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
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
import { RefusedError } from '../errors.js';
import { findRemembered } from '../home/remembered.js';
import { DEFAULT_TOPIC_PREFIX } from '../mqtt/topics.js';
import type { CommandContext } from './context.js';
import { visibleLine } from '../protocol/sanitise.js';

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
  // A room joined with a broker of its own: the one given instead is what to leave out.
  const label = parseDbUrl(ctx.config.db).label;
  const joined = findRemembered(ctx.config.home, label, record.number)?.broker;
  const advice =
    joined !== undefined && ctx.config.given.broker && !sameBroker(joined, ctx.config.broker)
      ? `this broker is given (--broker, SUNOYE_BROKER or "broker" in config.json); leave it out to use the one you joined with (${joined})`
      : 'set the broker with --broker or SUNOYE_BROKER';
  ctx.io.stderr.write(
    `warning: ${visibleLine(
      `room ${record.number} was created on the broker ${recorded} (so says the registry), ` +
        `but this uses ${configured}: if they are different brokers, nobody in the room ` +
        `sees your messages, nor you theirs; ${advice}`,
    )}\n`,
  );
}

/**
 * Whether the configured registry is the user's own default one: a SQLite file in a folder only
 * they can open, so nobody else can join its rooms.
 */
export function inOwnRegistry(config: Config, env: Record<string, string | undefined>): boolean {
  return parseDbUrl(config.db).label === parseDbUrl(defaultDbUrl(env)).label;
}

/**
 * The refusal for room `room` (or any, when undefined) in the user's own default registry `registry`,
 * which has no such room or is not made yet: a room someone else created is in their registry.
 */
export function notInOwnRegistry(registry: string, room: string | undefined): RefusedError {
  return new RefusedError(
    `there is no ${room === undefined ? 'room' : `room ${room}`} in your own registry (${registry}, the default, which only you use); ` +
      `${room === undefined ? '' : 'check the number; '}a room someone else created is in their registry: give it with --db (or SUNOYE_DB), ` +
      'as the `room join` line they pass on does (see docs/deployment.md, "Sharing a room")',
  );
}

/** What the creator of a room passes on: the `room join` line, and what else the invited need. */
export interface Invitation {
  /** The exact `room join` command, with the broker and database that are not the defaults. */
  line: string;
  /** Whether the room is in the creator's own default registry, which nobody else can open. */
  own: boolean;
  /** Sentences for the creator: how listen and publish follow, and who can reach the registry. */
  notes: string[];
  /** How the room window and the pipes follow, with the flags they need: what `room join` says. */
  use: string;
}

/** A group's name, as /etc/group has it, or `gid N` where it is not there. */
function groupName(gid: number): string {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id === String(gid)) return name;
    }
  } catch {
    // No group file (not Unix): the number will do.
  }
  return `gid ${gid}`;
}

/** Who can use the SQLite registry file at `path`, as its mode and its folder's say, and how to share it. */
function sqliteSharing(path: string): string {
  const others = 'people on other machines need a shared MySQL/MariaDB registry.';
  let file: Stats;
  let folder: Stats;
  try {
    file = statSync(path);
    folder = statSync(dirname(path));
  } catch {
    return `The registry is the SQLite file ${path}: it serves the people on this machine who can read and write that file and its folder; ${others}`;
  }
  if ((file.mode & 0o060) === 0o060 && (folder.mode & 0o020) !== 0)
    return (
      `The registry is the SQLite file ${path}, readable and writable by its group ${groupName(file.gid)}: ` +
      `it serves the people on this machine in that group; ${others}`
    );
  const dir = dirname(path);
  return (
    `The registry is the SQLite file ${path}, which only you can read and write (mode ${(file.mode & 0o777).toString(8)}): ` +
    'nobody else can join yet. To share it with a group of people on this machine: ' +
    `chgrp GROUP ${shellWord(path)} && chmod 660 ${shellWord(path)}, in a folder that group can write ` +
    `(made with install -d -m 2770 -g GROUP ${shellWord(dir)}, or chgrp GROUP ${shellWord(dir)} && chmod 2770 ${shellWord(dir)}); ${others}`
  );
}

/** One shell word: quoted when it holds anything a shell would read otherwise. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The invitation to room `room` of a registry and broker as `config` and `env` name them. */
export function invitation(
  config: Config,
  env: Record<string, string | undefined>,
  room: string,
): Invitation {
  // Flags that are not the defaults.
  const flags: [flag: string, value: string][] = [];
  const notes: string[] = [];
  const loopback = (brokerAddresses(config.broker) ?? []).filter((a) => isLoopback(a.host));
  const brokerUrl = shareableBrokerUrl(config.broker);
  if (brokerUrl !== undefined && !sameBroker(config.broker, DEFAULT_BROKER))
    flags.push(['--broker', brokerUrl]);

  const db = parseDbUrl(config.db);
  const own = inOwnRegistry(config, env);
  if (db.kind === 'sqlite') {
    if (own) {
      notes.push(
        `The room is in your own registry, the SQLite file ${db.path}, which only you can open: ` +
          'nobody else can join it. To chat with others, create the room in a registry they can use too: ' +
          'on this machine a SQLite file in a folder your group can write (sudo install -d -m 2770 -g GROUP /srv/sunoye, then room create --db sqlite:/srv/sunoye/rooms.db), ' +
          'across machines a shared MySQL/MariaDB (see docs/deployment.md, "Sharing a room").',
      );
    } else {
      flags.push(['--db', db.label]);
      notes.push(sqliteSharing(db.path));
    }
  } else {
    flags.push(['--db', shareableDbUrl(config.db)]);
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
  // The registry and broker are remembered with the room (a database password is not); the topic
  // prefix is not either.
  const dbPassword = db.kind === 'mysql' && db.password !== undefined;
  const kept = flags.map(([f]) => f).filter((f) => !(dbPassword && f === '--db'));
  const needs: string[] = [];
  if (dbPassword)
    needs.push('the database URL with its password (--db, SUNOYE_DB or "db" in config.json)');
  if (config.topicPrefix !== DEFAULT_TOPIC_PREFIX)
    needs.push(
      `the same --topic-prefix ${shellWord(config.topicPrefix)} (or SUNOYE_TOPIC_PREFIX, or "topicPrefix" in config.json)`,
    );
  const use =
    `\`room chat ${room}\` opens the room window, and \`listen ${room}\` and ` +
    `\`publish ${room}\` read and write it in pipes` +
    (needs.length === 0 ? '' : `, given ${needs.join(' and ')}`) +
    (kept.length === 0
      ? '.'
      : `; ${kept.join(' and ')} ${kept.length === 1 ? 'is' : 'are'} remembered with the room.`);
  if (!own) notes.unshift(`Then ${use}`);
  const line = ['room', 'join', room, ...flags.flatMap(([f, value]) => [f, value])];
  return { line: line.map(shellWord).join(' '), own, notes, use };
}
