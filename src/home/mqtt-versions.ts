/**
 * The MQTT version each broker was found to speak, kept in `$SUNOYE_HOME/mqtt-versions.json` so
 * that a broker which refuses MQTT 5 costs a refused attempt once, not on every start. Brokers are
 * named `scheme://host:port`, never with credentials. A cache: a missing or damaged file is empty,
 * and an answer older than a week is asked again (the broker may have been upgraded).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file's name inside the home directory. */
export const MQTT_VERSIONS_FILE = 'mqtt-versions.json';
/** How long a remembered answer holds before the broker is asked again. */
export const RECHECK_AFTER_MS = 7 * 24 * 3600 * 1000;

const FORMAT = 1;

interface Entry {
  version: '3.1.1';
  checkedAt: string;
}

type Entries = Record<string, Entry>;

function read(path: string): Entries {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown; brokers?: unknown };
    if (value?.format !== FORMAT || typeof value.brokers !== 'object' || value.brokers === null)
      return {};
    return value.brokers as Entries;
  } catch {
    return {};
  }
}

/** Written whole to a private temporary file, then renamed over the old one. */
function write(home: string, path: string, brokers: Entries): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ format: FORMAT, brokers }, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  chmodSync(temp, 0o600); // in case the umask or file system widened it
  renameSync(temp, path);
}

/** The remembered MQTT versions of a home directory (read and written only when asked). */
export function mqttVersions(
  home: string,
  now: () => number = Date.now,
): { recall(broker: string): 4 | 5 | undefined; remember(broker: string, version: 4 | 5): void } {
  const path = join(home, MQTT_VERSIONS_FILE);
  return {
    recall(broker) {
      const entry = read(path)[broker];
      if (entry?.version !== '3.1.1') return undefined;
      const checked = Date.parse(entry.checkedAt);
      if (!(now() - checked < RECHECK_AFTER_MS)) return undefined;
      return 4;
    },
    remember(broker, version) {
      const brokers = read(path);
      if (version === 5 && !(broker in brokers)) return; // 5 is the default: nothing to keep
      if (version === 5) delete brokers[broker];
      else brokers[broker] = { version: '3.1.1', checkedAt: new Date(now()).toISOString() };
      write(home, path, brokers);
    },
  };
}
