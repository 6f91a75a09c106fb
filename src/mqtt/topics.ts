/** MQTT topics: one per room, under a configurable prefix (for brokers with ACLs). */
import { RefusedError, UsageError } from '../errors.js';

/** The topic prefix used when none is configured. */
export const DEFAULT_TOPIC_PREFIX = 'sunoye';

// eslint-disable-next-line no-control-regex -- NUL is not allowed in MQTT topics
const FORBIDDEN = /[#+\u0000]/u;

/** Checks a topic that sunoye publishes to: no wildcards, no empty levels at the ends. */
export function checkTopic(topic: string, what = 'topic'): string {
  if (topic === '' || FORBIDDEN.test(topic) || Buffer.byteLength(topic) > 65_535) {
    throw new UsageError(`the ${what} "${topic}" must be non-empty and hold no wildcards (# +)`);
  }
  return topic;
}

/** The topic of room `room` under `prefix`: `sunoye/room/482913`. */
export function roomTopic(prefix: string, room: string): string {
  return checkTopic(`${checkTopic(prefix, 'topic prefix').replace(/\/+$/, '')}/room/${room}`);
}

/** Whether an MQTT.js error is the broker's "not authorized" (MQTT 5 reason code 0x87). */
export function isNotAuthorized(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 0x87;
}

/** The refusal when the broker's ACL keeps this user off a topic. */
export function aclRefusal(topic: string): RefusedError {
  return new RefusedError(`the broker does not allow this user on ${topic}; check its ACL`);
}
