/**
 * Which broker a URL names: its scheme, host and port, never its credentials. A room's record
 * keeps this much of the broker it was created on, and commands compare it with their own.
 * A broker may be a cluster named by a comma-separated list of URLs (`mqtt://n1,mqtt://n2:1884`),
 * one per node, as MQTT.js's `servers` option takes them.
 */

/** The URLs of a broker list (`a,b,c`), each trimmed; one URL is a list of one. */
export function brokerUrls(list: string): string[] {
  const urls = list.split(',').map((url) => url.trim());
  return urls.length > 1 ? urls.filter((url) => url !== '') : urls;
}

/** A broker as its URL names it: `mqtt`/`mqtts`/`ws`/`wss`, a host and a port. */
export interface BrokerAddress {
  scheme: string;
  host: string;
  port: number;
}

/** Schemes MQTT.js takes, as the one each is the same as. */
const SCHEMES: Record<string, string> = {
  mqtt: 'mqtt',
  tcp: 'mqtt',
  mqtts: 'mqtts',
  ssl: 'mqtts',
  ws: 'ws',
  wss: 'wss',
};

/** The port each scheme connects to when the URL names none. */
const DEFAULT_PORTS: Record<string, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

/** The longest broker URL a room's record keeps. */
export const MAX_RECORDED_BROKER_CHARS = 300;

function parsedUrl(url: string): URL | undefined {
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `mqtt://${url}`);
  } catch {
    return undefined;
  }
}

/**
 * The broker a URL names, or undefined when it names none that sunoye could use. A URL without
 * a scheme (`host:1883`) is an `mqtt://` one, as mosquitto's clients read a host and port.
 */
export function brokerAddress(url: string): BrokerAddress | undefined {
  const parsed = parsedUrl(url);
  if (!parsed) return undefined;
  const scheme = SCHEMES[parsed.protocol.slice(0, -1)];
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (scheme === undefined || host === '') return undefined;
  const port = parsed.port === '' ? DEFAULT_PORTS[scheme]! : Number(parsed.port);
  return { scheme, host, port };
}

/** `scheme://host:port`: a broker's address as a URL without credentials, path or query. */
export function addressUrl(address: BrokerAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.scheme}://${host}:${address.port}`;
}

/** The brokers a list names, or undefined when any of its URLs names none. */
export function brokerAddresses(list: string): BrokerAddress[] | undefined {
  const addresses = brokerUrls(list).map(brokerAddress);
  return addresses.every((a) => a !== undefined) ? addresses : undefined;
}

/**
 * What a room's record keeps of the broker URL (or list) it was created on: `scheme://host:port`
 * of each, so no user name, password or token can reach the database. Undefined for a URL that
 * names no broker.
 */
export function recordedBrokerUrl(url: string): string | undefined {
  const recorded = brokerAddresses(url)?.map(addressUrl).join(',');
  return recorded !== undefined && recorded.length <= MAX_RECORDED_BROKER_CHARS
    ? recorded
    : undefined;
}

/**
 * A broker URL (or list) to give to others: `scheme://host:port`, and a WebSocket URL's path;
 * never a user name, password, query or fragment. Undefined for a URL that names no broker.
 */
export function shareableBrokerUrl(url: string): string | undefined {
  const shared: string[] = [];
  for (const one of brokerUrls(url)) {
    const address = brokerAddress(one);
    if (!address) return undefined;
    const path = address.scheme.startsWith('ws') ? parsedUrl(one)!.pathname : '';
    shared.push(`${addressUrl(address)}${path === '/' ? '' : path}`);
  }
  return shared.join(',');
}

/** Whether a URL (or any URL of a list) holds a user name or password (`what`: a password only). */
export function hasUserInfo(url: string, what: 'any' | 'password' = 'any'): boolean {
  return brokerUrls(url).some((one) => {
    const parsed = parsedUrl(one);
    return (
      parsed !== undefined && (parsed.password !== '' || (what === 'any' && parsed.username !== ''))
    );
  });
}

/** Whether a host is this machine's loopback: `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function sameAddress(x: BrokerAddress, y: BrokerAddress): boolean {
  if (x.scheme !== y.scheme || x.port !== y.port) return false;
  return x.host === y.host || (isLoopback(x.host) && isLoopback(y.host));
}

/**
 * Whether two broker URLs (or lists) name the same broker: the same scheme, host and port, the
 * loopback names counted as one; two lists, the same set of them. URLs that name no broker are
 * never the same.
 */
export function sameBroker(a: string, b: string): boolean {
  const xs = brokerAddresses(a);
  const ys = brokerAddresses(b);
  if (!xs || !ys) return false;
  return (
    xs.every((x) => ys.some((y) => sameAddress(x, y))) &&
    ys.every((y) => xs.some((x) => sameAddress(x, y)))
  );
}

function differentAddresses(x: BrokerAddress, y: BrokerAddress): boolean {
  const sameHost = x.host === y.host || (isLoopback(x.host) && isLoopback(y.host));
  return !sameHost || (x.scheme === y.scheme && x.port !== y.port);
}

/**
 * Whether two broker URLs surely name two brokers: other hosts (the loopback names counted as
 * one), or one host and one transport on two ports. One host's listeners for other transports
 * (mqtt://, mqtts://, ws://, wss://) are often one broker's, so they are not taken for two.
 * Two lists (clusters) that share a node are one cluster. URLs that name no broker are never
 * taken for two.
 */
export function differentBrokers(a: string, b: string): boolean {
  const xs = brokerAddresses(a);
  const ys = brokerAddresses(b);
  if (!xs || !ys) return false;
  return xs.every((x) => ys.every((y) => differentAddresses(x, y)));
}
