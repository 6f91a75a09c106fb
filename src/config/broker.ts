/** Broker settings from the resolved configuration: credentials and TLS files. */
import { readFileSync } from 'node:fs';
import type { Config } from './config.js';
import { UsageError } from '../errors.js';
import type { BrokerSettings } from '../mqtt/connection.js';

function readPem(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(
      `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/** The broker settings of a configuration; credentials in the URL are used when none are set. */
export function brokerSettings(config: Config): BrokerSettings {
  let url: URL;
  try {
    url = new URL(config.broker);
  } catch {
    throw new UsageError(
      'the broker URL is not a URL; use e.g. mqtt://localhost:1883 or mqtts://broker:8883',
    );
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:'].includes(url.protocol)) {
    throw new UsageError(
      `unsupported broker URL scheme ${url.protocol}; use mqtt://, mqtts://, ws:// or wss://`,
    );
  }
  const username =
    config.brokerUser ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password =
    config.brokerPassword ?? (url.password ? decodeURIComponent(url.password) : undefined);
  url.username = '';
  url.password = '';
  return {
    url: url.toString(),
    username,
    password,
    ca: readPem(config.ca, 'CA file'),
    cert: readPem(config.cert, 'certificate file'),
    key: readPem(config.key, 'key file'),
    keepaliveSeconds: config.keepalive,
  };
}
