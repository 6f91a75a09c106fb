/**
 * Database URLs: `sqlite:/path/to/file.db` or `mysql://user:password@host:port/database`, where
 * `host:port` may be a comma-separated list of the nodes of a cluster (`h1:3306,h2:3306,h3`).
 * Parsing validates them; neither the label of a target nor an error shows its user name or
 * password.
 */
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { redactUrl } from '../redact.js';

export interface SqliteTarget {
  kind: 'sqlite';
  path: string;
  label: string;
}

/** One server of a MySQL URL. */
export interface MysqlHost {
  host: string;
  port: number;
}

export interface MysqlTarget {
  kind: 'mysql';
  /** The servers, in the URL's order: one, or the nodes of a cluster (tried first to last). */
  hosts: MysqlHost[];
  user: string;
  password: string | undefined;
  database: string;
  /** Extra mysql2 options from the query string (only a known, harmless few). */
  options: { ssl?: { rejectUnauthorized: boolean } };
  /** How long one registry operation may wait for the server (`?timeout=` seconds). */
  timeoutMs: number;
  label: string;
}

export type DbTarget = SqliteTarget | MysqlTarget;

/** How long a MySQL operation waits for an answer when the URL sets no `?timeout=`. */
export const DEFAULT_MYSQL_TIMEOUT_MS = 5000;

/** The database name used when a MySQL URL names none. */
export const DEFAULT_MYSQL_DATABASE = 'sunoye';

const HELP = 'use sqlite:/path/to/file.db or mysql://user:password@host:3306/database';

/** A %-decoded part of a database URL; a malformed escape is a usage error that echoes nothing. */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new UsageError(`the database URL has a malformed %-escape; ${HELP}`);
  }
}

/**
 * A MySQL URL cut at its list of hosts (`mysql://user:pw@h1:3306,h2,h3/db`): the same URL with
 * the first host alone, which the URL parser reads, and each host as written. The user
 * information ends at the last `@` before the path, as for the URL parser, so a `,` in a password
 * is not taken for a host.
 */
function splitHosts(url: string): { single: string; hosts: string[] } {
  const m = /^([a-z]+:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return { single: url, hosts: [] };
  const [, scheme = '', authority = '', rest = ''] = m;
  // An `@` past the hosts is the end of a user name or password that holds a raw `/`, `?` or `#`:
  // the URL parser would end them there and take what they hold for a host and port, to be shown
  // in labels and join lines and looked up as a host name. No database name or option has an `@`.
  if (rest.includes('@'))
    throw new UsageError(
      `a / ? or # in the database URL's user name or password must be %-encoded (%2F %3F %23); ${HELP}`,
    );
  const at = authority.lastIndexOf('@');
  const hosts = authority.slice(at + 1).split(',');
  return { single: `${scheme}${authority.slice(0, at + 1)}${hosts[0]}${rest}`, hosts };
}

/** A further host of a list (`host` or `host:port`), parsed; junk is a usage error. */
function otherHost(host: string): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(`mysql://${host}`);
  } catch {
    // refused below
  }
  if (!parsed?.hostname || parsed.pathname !== '')
    throw new UsageError(
      `the database URL's host list has "${host}", which is not host or host:port; use mysql://user:password@host1:3306,host2:3306/database`,
    );
  return parsed;
}

/** Parses a database URL; a malformed one is a usage error that never echoes its credentials. */
export function parseDbUrl(url: string): DbTarget {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path
    if (path === '') throw new UsageError(`the database URL sqlite: names no file; ${HELP}`);
    const absolute = resolve(path);
    return { kind: 'sqlite', path: absolute, label: `sqlite:${absolute}` };
  }
  if (url.startsWith('mysql:') || url.startsWith('mariadb:')) {
    const { single, hosts } = splitHosts(url);
    let parsed: URL;
    try {
      parsed = new URL(single);
    } catch {
      throw new UsageError(`the database URL is not a valid URL; ${HELP}`);
    }
    // The host first: in a URL without `//` the user name and password would be in the path.
    if (!parsed.hostname) throw new UsageError(`the database URL names no host; ${HELP}`);
    const nodes = [parsed, ...hosts.slice(1).map(otherHost)];
    const database = decoded(parsed.pathname.replace(/^\//, '')) || DEFAULT_MYSQL_DATABASE;
    if (!/^[A-Za-z0-9_$]{1,64}$/.test(database)) {
      const shown = /[:@]/.test(database) ? '' : ` "${database}"`;
      throw new UsageError(`the database name${shown} must be 1-64 letters, digits, _ or $`);
    }
    const user = decoded(parsed.username) || 'root';
    const password = parsed.password ? decoded(parsed.password) : undefined;
    const options: MysqlTarget['options'] = {};
    const ssl = parsed.searchParams.get('ssl');
    if (ssl === 'true' || ssl === 'required') options.ssl = { rejectUnauthorized: true };
    const timeout = parsed.searchParams.get('timeout');
    const seconds = timeout === null ? DEFAULT_MYSQL_TIMEOUT_MS / 1000 : Number(timeout);
    if (!(seconds >= 0.1 && seconds <= 600)) {
      throw new UsageError(`the database URL's ?timeout= must be 0.1 to 600 seconds`);
    }
    // Neither the user name nor the password: a label is printed and kept in remembered rooms.
    const label = `mysql://${parsed.username || parsed.password ? '***@' : ''}${nodes.map((n) => n.host).join(',')}/${database}`;
    return {
      kind: 'mysql',
      hosts: nodes.map((n) => ({
        host: n.hostname.replace(/^\[|\]$/g, ''),
        port: n.port ? Number(n.port) : 3306,
      })),
      user,
      password,
      database,
      options,
      timeoutMs: Math.round(seconds * 1000),
      label,
    };
  }
  // A file's path, given as is: the SQLite URL it meant.
  if (
    !/^[a-z][a-z0-9+.-]*:/i.test(url) &&
    !url.includes('@') &&
    (url.includes('/') || /\.(db|sqlite3?)$/i.test(url))
  )
    throw new UsageError(
      `unsupported database URL "${url}"; did you mean sqlite:${resolve(url)}? A SQLite registry is given as sqlite:/path/to/file.db`,
    );
  throw new UsageError(`unsupported database URL "${redactUrl(url)}"; ${HELP}`);
}

/** Options of a MySQL URL that others need as much as the creator: TLS and the timeout. */
const SHARED_OPTIONS = new Set(['ssl', 'timeout']);

/**
 * A database URL to give to others: a SQLite file by its absolute path; a MySQL URL without its
 * password (the user name, host, port and database stay) and with no option but `ssl` and
 * `timeout`.
 */
export function shareableDbUrl(url: string): string {
  const target = parseDbUrl(url);
  if (target.kind === 'sqlite') return target.label;
  const { single, hosts } = splitHosts(url);
  const parsed = new URL(single);
  parsed.password = '';
  for (const key of [...parsed.searchParams.keys()])
    if (!SHARED_OPTIONS.has(key)) parsed.searchParams.delete(key);
  // The other hosts go right after the first, which follows `//` and the user name.
  const first = parsed.toString();
  const end =
    first.indexOf('//') +
    2 +
    (parsed.username ? parsed.username.length + 1 : 0) +
    parsed.host.length;
  const others = hosts.slice(1).map((host) => `,${otherHost(host).host}`);
  return `${first.slice(0, end)}${others.join('')}${first.slice(end)}`;
}
