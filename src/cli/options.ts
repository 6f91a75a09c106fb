/**
 * Command-line options shared by `room`, `listen` and `publish`, declared once, and the turning
 * of parsed flags into the resolved configuration.
 */
import type { OptionSpecs, PositionalSpec, Shell } from './args.js';
import type { CommandContext } from '../room/context.js';
import { resolveConfig, type Config, type ConfigFlags } from '../config/config.js';

/** Options every program accepts. */
export const commonOptions = {
  db: {
    type: 'string',
    value: 'URL',
    describe:
      'Registry database URL: sqlite:/path/file.db or mysql://user:pass@host:3306/db; for a cluster, mysql://user:pass@h1:3306,h2:3306,h3:3306/db?timeout=10 (a node crash stalls a cluster for about 5 s)',
  },
  broker: {
    type: 'string',
    value: 'URL',
    describe:
      'MQTT broker URL, or host[:port] for mqtt:// (default mqtt://localhost:1883); a comma-separated list for the nodes of a cluster',
  },
  name: {
    type: 'string',
    value: 'NAME',
    describe: 'Your name in rooms (default: your login name)',
  },
  home: { type: 'string', value: 'DIR', describe: 'Folder of remembered rooms and config.json' },
} as const satisfies OptionSpecs;

/** Some of the options every program accepts, for a command that uses only those. */
export function commonOptionsOf<const K extends keyof typeof commonOptions>(
  ...keys: K[]
): Pick<typeof commonOptions, K> {
  const picked: Partial<Pick<typeof commonOptions, K>> = {};
  for (const key of keys) picked[key] = commonOptions[key];
  return picked as Pick<typeof commonOptions, K>;
}

/** `--json` for commands that print data. */
export const jsonOption = {
  json: { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' },
} as const satisfies OptionSpecs;

/** Password options of commands that need a room's password. */
export const passwordOptions = {
  password: {
    type: 'string',
    value: 'TEXT',
    describe: 'Room password (other users can see it in the process list)',
  },
  'password-file': {
    type: 'string',
    value: 'FILE',
    describe: "Read the password from a file's first line ('-': stdin)",
  },
} as const satisfies OptionSpecs;

/** Text for the end of every program's --help. */
export const EPILOGUE = [
  'Configuration: flag > environment > $SUNOYE_HOME/config.json > default.',
  'Environment: SUNOYE_DB, SUNOYE_BROKER, SUNOYE_BROKER_USER, SUNOYE_BROKER_PASSWORD, SUNOYE_BROKER_CA, SUNOYE_BROKER_CERT, SUNOYE_BROKER_KEY, SUNOYE_MQTT_VERSION, SUNOYE_CONNECT_TIMEOUT, SUNOYE_KEEPALIVE, SUNOYE_LEASE, SUNOYE_TOPIC_PREFIX, SUNOYE_NAME, SUNOYE_HOME, SUNOYE_PASSWORD, SUNOYE_DEBUG (1: stack traces).',
  'Exit codes: 0 ok, 1 anything else, 2 usage error, 3 refused (no such room, wrong password, room closed, session taken over), 4 database or broker unreachable (or publish could not deliver), 130 interrupted (Ctrl-C) with work undone.',
].join('\n');

/** Where `listen` and `publish` chat, besides a room number. */
export const targetOptions = {
  topic: {
    type: 'string',
    value: 'TOPIC',
    describe: 'A raw MQTT topic instead of a room (needs --plain)',
  },
  plain: { type: 'boolean', default: false, describe: "With --topic: MQTT-Chat's plain JSON" },
} as const satisfies OptionSpecs;

/** The room-number positional of `listen` and `publish`. */
export const roomPositional = {
  name: 'room',
  describe: 'The six-digit room number',
  required: false,
} as const satisfies PositionalSpec;

/** Options of the programs that talk to the broker. */
export const brokerOptions = {
  ca: { type: 'string', value: 'FILE', describe: 'CA certificate (PEM) for mqtts:// or wss://' },
  cert: { type: 'string', value: 'FILE', describe: 'Client certificate (PEM)' },
  key: { type: 'string', value: 'FILE', describe: 'Client key (PEM)' },
  'topic-prefix': {
    type: 'string',
    value: 'PREFIX',
    describe: 'Rooms are PREFIX/room/NUMBER (default sunoye)',
  },
  keepalive: {
    type: 'number',
    value: 'SECONDS',
    describe: 'MQTT keepalive in seconds (default 30): a crash is told to the room within it',
  },
  'mqtt-version': {
    type: 'string',
    value: '5|3.1.1',
    describe: 'MQTT version (default: 5, or 3.1.1 where the broker refuses 5, remembered)',
  },
  'connect-timeout': {
    type: 'number',
    value: 'SECONDS',
    describe: 'How long to keep trying the first connection to the broker (default 10)',
  },
} as const satisfies OptionSpecs;

/** Options of the programs that are members of a room while they run (`listen`, `room chat`). */
export const presenceOptions = {
  lease: {
    type: 'number',
    value: 'SECONDS',
    describe: 'Presence lease in the registry (default 90), renewed every third of it',
  },
} as const satisfies OptionSpecs;

/** Options of a `room` command that talks to the broker. */
export const roomOptions = { ...commonOptions, ...brokerOptions } as const satisfies OptionSpecs;

/** The room-number positional of the `room` commands that act on one room. */
export const requiredRoomPositional = {
  ...roomPositional,
  required: true,
} as const satisfies PositionalSpec;

/** Resolves the configuration from parsed common flags and the environment. */
export function configFromArgs(args: ConfigFlags, env: Record<string, string | undefined>): Config {
  return resolveConfig(
    {
      db: args.db,
      broker: args.broker,
      name: args.name,
      home: args.home,
      ca: args.ca,
      cert: args.cert,
      key: args.key,
      topicPrefix: args.topicPrefix,
      keepalive: args.keepalive,
      mqttVersion: args.mqttVersion,
      connectTimeout: args.connectTimeout,
      lease: args.lease,
    },
    env,
  );
}

/** The context a command runs in: the configuration its flags resolve to, and the shell's streams. */
export function commandContext(args: ConfigFlags, shell: Shell): CommandContext {
  return { config: configFromArgs(args, shell.io.env), io: shell.io };
}
