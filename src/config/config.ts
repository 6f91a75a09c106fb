/**
 * Configuration, resolved once in one order for every setting: flag > environment (`SUNOYE_*`) >
 * config file (`$SUNOYE_HOME/config.json`) > default. The result is a frozen, typed object.
 */
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { brokerUrls } from '../broker-url.js';
import { UsageError } from '../errors.js';
import { fileProblem } from '../file-problem.js';
import { jsonProblem } from './json-problem.js';
import { DEFAULT_TOPIC_PREFIX } from '../mqtt/topics.js';
import { CONTROL_CHARACTERS, MAX_NAME_CHARS } from '../protocol/schema.js';

/** Settings every program shares. */
export interface Config {
  /** Where remembered rooms and config.json live. */
  readonly home: string;
  /** Registry database URL (may contain a password: never print it, use its label). */
  readonly db: string;
  /** MQTT broker URL (a bare `host[:port]` made mqtt://). */
  readonly broker: string;
  /** Broker user name and password (also accepted inside the URL). */
  readonly brokerUser: string | undefined;
  readonly brokerPassword: string | undefined;
  /** PEM files for TLS: CA, client certificate, client key. */
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  /** Topics are `<prefix>/room/<number>`. */
  readonly topicPrefix: string;
  /** MQTT keepalive in seconds: a listener's crash is told to its room (its will) within 1.5 times it. */
  readonly keepalive: number;
  /** The MQTT version to speak; undefined: 5, or 3.1.1 where the broker refuses 5. */
  readonly mqttVersion: MqttVersion | undefined;
  /** How long the first connection to the broker may take, retries included, in seconds. */
  readonly connectTimeout: number;
  /** A listener's presence lease in the registry, in seconds, renewed every third of it. */
  readonly lease: number;
  /** The user's display name in rooms. */
  readonly name: string;
  /** Whether the registry and the broker were given (flag, environment or config file), not defaults. */
  readonly given: { readonly db: boolean; readonly broker: boolean };
}

/** Settings given as flags (undefined when not given). */
export interface ConfigFlags {
  home?: string | undefined;
  db?: string | undefined;
  broker?: string | undefined;
  name?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  topicPrefix?: string | undefined;
  keepalive?: number | undefined;
  mqttVersion?: string | undefined;
  connectTimeout?: number | undefined;
  lease?: number | undefined;
}

/** An MQTT version a user can choose. */
export type MqttVersion = '5' | '3.1.1';

/** The name of the config file inside the home directory. */
export const CONFIG_FILE = 'config.json';
/** The broker used when nothing else is configured. */
export const DEFAULT_BROKER = 'mqtt://localhost:1883';

const FILE_KEYS = [
  'db',
  'broker',
  'name',
  'ca',
  'cert',
  'key',
  'topicPrefix',
  'keepalive',
  'mqttVersion',
  'connectTimeout',
  'lease',
] as const;
/** Settings the config file may give as a JSON number as well as a string. */
const NUMERIC_KEYS = ['keepalive', 'mqttVersion', 'connectTimeout', 'lease'] as const;
type FileSettings = Partial<Record<(typeof FILE_KEYS)[number], string>>;

type Env = Record<string, string | undefined>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** XDG base directories, falling back to the user's home. */
export function xdgDirs(env: Env): { config: string; data: string } {
  const home = nonEmpty(env.HOME) ?? homedir();
  return {
    config: nonEmpty(env.XDG_CONFIG_HOME) ?? join(home, '.config'),
    data: nonEmpty(env.XDG_DATA_HOME) ?? join(home, '.local', 'share'),
  };
}

/** The registry used when none is configured: a SQLite file of the user's own. */
export function defaultDbUrl(env: Env): string {
  return `sqlite:${join(xdgDirs(env).data, 'sunoye', 'sunoye.db')}`;
}

function readConfigFile(path: string): FileSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read the config file ${path}: ${fileProblem(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `the config file ${path} is not valid JSON: ${jsonProblem(text, (err as Error).message)}; fix it there, or move the file away to use the defaults`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`the config file ${path} must hold a JSON object like {"name": "alice"}`);
  }
  const settings: FileSettings = {};
  for (const [key, setting] of Object.entries(value)) {
    if (!(FILE_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(
        `the config file ${path} has an unknown setting "${key}"; known: ${FILE_KEYS.join(', ')}`,
      );
    }
    if (typeof setting === 'number' && (NUMERIC_KEYS as readonly string[]).includes(key)) {
      settings[key as keyof FileSettings] = String(setting);
      continue;
    }
    if (typeof setting !== 'string')
      throw new UsageError(`the config file ${path}: "${key}" must be a string`);
    settings[key as keyof FileSettings] = setting;
  }
  return settings;
}

function osUserName(env: Env): string {
  try {
    return userInfo().username;
  } catch {
    return nonEmpty(env.USER) ?? nonEmpty(env.LOGNAME) ?? 'user';
  }
}

// A name holds none of the protocol's control characters, as the payload schema says of `from`.
const CONTROL = new RegExp(`[${CONTROL_CHARACTERS}]`, 'u');

/** Checks a display name: as the payload schema takes it, without control characters. */
export function checkName(name: string): string {
  const chars = [...name].length;
  if (chars < 1 || chars > MAX_NAME_CHARS || CONTROL.test(name)) {
    throw new UsageError(
      `the name must be 1-${MAX_NAME_CHARS} characters without control characters`,
    );
  }
  return name;
}

/** `host`, `host:port`, `[v6 address]:port`: a broker named without a scheme. */
const BARE_BROKER =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The broker URL for what was configured: a host, or `host:port`, without a scheme means plain
 * MQTT (`localhost:1883` is mqtt://localhost:1883), as mosquitto_pub's `-h`/`-p` do; anything else
 * is taken as a URL, and checked where it is used. A comma-separated list is taken entry by entry.
 */
export function brokerUrl(configured: string): string {
  // A comma-separated list names the nodes of a cluster, each as one broker is named.
  if (configured.includes(','))
    return brokerUrls(configured)
      .map((url) => brokerUrl(url))
      .join(',');
  return BARE_BROKER.test(configured) ? `mqtt://${configured}` : configured;
}

/** MQTT keepalive used when none is configured, in seconds. */
export const DEFAULT_KEEPALIVE = 30;

/**
 * Presence lease used when none is configured, in seconds: renewed every 30 s, so the registry
 * sees one write per listener per 30 s, whatever the keepalive.
 */
export const DEFAULT_LEASE = 90;

/** A setting in whole seconds from 1 to 3600. */
function checkSeconds(what: string, value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
    throw new UsageError(`the ${what} must be a whole number of seconds from 1 to 3600`);
  }
  return seconds;
}

/** The connect timeout used when none is configured, in seconds. */
export const DEFAULT_CONNECT_TIMEOUT = 10;

function checkConnectTimeout(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(seconds > 0) || seconds > 3600) {
    throw new UsageError('the connect timeout must be a number of seconds above 0, at most 3600');
  }
  return seconds;
}

/** `5`, `3.1.1`, or `auto` (undefined): MQTT 5, and 3.1.1 where the broker refuses 5. */
function checkMqttVersion(value: string | undefined): MqttVersion | undefined {
  if (value === undefined || value === 'auto') return undefined;
  if (value === '5' || value === '3.1.1') return value;
  throw new UsageError(
    'the MQTT version must be 5, 3.1.1 or auto (5, and 3.1.1 where the broker refuses 5)',
  );
}

/** Resolves the configuration from flags, environment, the config file and defaults. */
export function resolveConfig(flags: ConfigFlags, env: Env): Config {
  const xdg = xdgDirs(env);
  const home = flags.home ?? nonEmpty(env.SUNOYE_HOME) ?? join(xdg.config, 'sunoye');
  const file = readConfigFile(join(home, CONFIG_FILE));
  const pick = (
    flag: string | undefined,
    envName: string,
    key: keyof FileSettings,
  ): string | undefined => nonEmpty(flag) ?? nonEmpty(env[envName]) ?? nonEmpty(file[key]);
  const db = pick(flags.db, 'SUNOYE_DB', 'db');
  const broker = pick(flags.broker, 'SUNOYE_BROKER', 'broker');
  return Object.freeze({
    home,
    db: db ?? defaultDbUrl(env),
    broker: brokerUrl(broker ?? DEFAULT_BROKER),
    given: Object.freeze({ db: db !== undefined, broker: broker !== undefined }),
    name: checkName(pick(flags.name, 'SUNOYE_NAME', 'name') ?? osUserName(env)),
    brokerUser: nonEmpty(env.SUNOYE_BROKER_USER),
    brokerPassword: nonEmpty(env.SUNOYE_BROKER_PASSWORD),
    ca: pick(flags.ca, 'SUNOYE_BROKER_CA', 'ca'),
    cert: pick(flags.cert, 'SUNOYE_BROKER_CERT', 'cert'),
    key: pick(flags.key, 'SUNOYE_BROKER_KEY', 'key'),
    topicPrefix:
      pick(flags.topicPrefix, 'SUNOYE_TOPIC_PREFIX', 'topicPrefix') ?? DEFAULT_TOPIC_PREFIX,
    keepalive: checkSeconds(
      'keepalive',
      pick(
        flags.keepalive === undefined ? undefined : String(flags.keepalive),
        'SUNOYE_KEEPALIVE',
        'keepalive',
      ) ?? String(DEFAULT_KEEPALIVE),
    ),
    mqttVersion: checkMqttVersion(pick(flags.mqttVersion, 'SUNOYE_MQTT_VERSION', 'mqttVersion')),
    connectTimeout: checkConnectTimeout(
      pick(
        flags.connectTimeout === undefined ? undefined : String(flags.connectTimeout),
        'SUNOYE_CONNECT_TIMEOUT',
        'connectTimeout',
      ) ?? String(DEFAULT_CONNECT_TIMEOUT),
    ),
    lease: checkSeconds(
      'lease',
      pick(flags.lease === undefined ? undefined : String(flags.lease), 'SUNOYE_LEASE', 'lease') ??
        String(DEFAULT_LEASE),
    ),
  });
}
