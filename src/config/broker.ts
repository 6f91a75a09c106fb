/** Broker settings from the resolved configuration: credentials and TLS files. */
import { readFileSync } from 'node:fs';
import type { Config } from './config.js';
import { brokerUrls } from '../broker-url.js';
import { UsageError } from '../errors.js';
import { fileProblem } from '../file-problem.js';
import { mqttVersions } from '../home/mqtt-versions.js';
import type { BrokerSettings } from '../mqtt/connection.js';

function readPem(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read the ${what} ${path}: ${fileProblem(err)}`);
  }
}

const EXAMPLE = 'use e.g. localhost:1883, mqtt://localhost:1883 or mqtts://broker:8883';

/** A %-decoded part of the broker URL; a malformed escape is a usage error that echoes nothing. */
function decoded(part: string): string | undefined {
  if (part === '') return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    throw new UsageError(`the broker URL has a malformed %-escape; ${EXAMPLE}`);
  }
}

/** One broker URL, checked, as a URL; messages about it quote none of it but its scheme. */
function checkedUrl(given: string): URL {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`the broker URL is not a URL; ${EXAMPLE}`);
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:'].includes(url.protocol)) {
    // `bob:secret@host` and `host:port2` parse with a scheme ("bob:"): only one before `//` is.
    if (!given.startsWith(`${url.protocol}//`))
      throw new UsageError(`the broker is neither host[:port] nor a URL; ${EXAMPLE}`);
    throw new UsageError(
      `unsupported broker URL scheme ${url.protocol}//; use mqtt://, mqtts://, ws:// or wss:// (or host:port for mqtt://)`,
    );
  }
  // `mqtt:user:secret@host` has no host: MQTT.js would quietly connect to localhost.
  if (!url.hostname) throw new UsageError(`the broker URL names no host; ${EXAMPLE}`);
  return url;
}

/**
 * The broker settings of a configuration; credentials in the URL are used when none are set.
 * A comma-separated list names the nodes of one cluster: the credentials are those of the first
 * URL that has any, and `url` is the list without any.
 * No message about a broker URL quotes any of it but its scheme: it may hold a user and password.
 */
export function brokerSettings(config: Config): BrokerSettings {
  const urls = brokerUrls(config.broker).map(checkedUrl);
  const withUser = urls.find((url) => url.username !== '' || url.password !== '');
  const username = config.brokerUser ?? decoded(withUser?.username ?? '');
  const password = config.brokerPassword ?? decoded(withUser?.password ?? '');
  for (const url of urls) {
    url.username = '';
    url.password = '';
  }
  return {
    url: urls.map(String).join(','),
    username,
    password,
    ca: readPem(config.ca, 'CA file'),
    cert: readPem(config.cert, 'certificate file'),
    key: readPem(config.key, 'key file'),
    keepaliveSeconds: config.keepalive,
    mqttVersion: config.mqttVersion === undefined ? undefined : config.mqttVersion === '5' ? 5 : 4,
    connectTimeoutMs: Math.round(config.connectTimeout * 1000),
    versions: mqttVersions(config.home),
  };
}
