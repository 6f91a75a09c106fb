/**
 * Notices on the broker: a listener's subscription and acknowledged join notice, and the `closed`
 * notice that `room close` sends from outside a listener.
 */
import type { Config } from '../config/config.js';
import { UnavailableError } from '../errors.js';
import {
  openConnection,
  publishAcked,
  randomClientId,
  type ChatConnection,
} from '../mqtt/connection.js';
import { brokerSettings } from '../config/broker.js';
import { aclRefusal, isNotAuthorized, roomTopic } from '../mqtt/topics.js';
import { roomCodec, type ChatNotice, type RoomMode } from '../protocol/index.js';
import { loadIdentity } from '../home/identity.js';
import { withDeadline } from './deadline.js';
import { Sender } from './sender.js';
import type { ChatTarget } from '../room/target.js';

/** Publishes the `closed` notice of a room (sealed in encrypted rooms) and disconnects. */
export async function announceClosed(
  config: Config,
  room: string,
  mode: RoomMode,
  secret: Buffer,
): Promise<void> {
  const topic = roomTopic(config.topicPrefix, room);
  const codec = roomCodec(
    room,
    mode,
    secret,
    mode === 'encrypted' ? loadIdentity(config.home).signer : undefined,
  );
  const connection = await openConnection(brokerSettings(config), {
    clientId: randomClientId('c'),
    clean: true,
    connectTimeoutMs: Math.min(5000, config.connectTimeout * 1000),
  });
  try {
    await publishAcked(
      connection,
      topic,
      codec.encode(new Sender(config.name).notice('closed', topic, room)),
    );
  } finally {
    await connection.end();
  }
}

/**
 * Subscribes to the chat and publishes our join notice, acknowledged within `ackTimeoutMs`; returns
 * the notice's payload as it was sent. A broker that refuses either (its ACL, a packet too large
 * for it) ends the listener with one line.
 */
export async function joinChat(
  client: ChatConnection,
  target: ChatTarget,
  join: ChatNotice,
  ackTimeoutMs: number,
): Promise<string> {
  // Retained messages are asked for only to be dropped, each time with a warning (inbox.ts).
  const granted = await client.subscribe(target.topic, { retained: true });
  if (granted.some((code) => code > 2)) throw aclRefusal(target.topic);
  const payload = target.codec.encode(join);
  try {
    await withDeadline(
      publishAcked(client, target.topic, payload),
      ackTimeoutMs,
      () =>
        new UnavailableError(
          `the broker did not acknowledge our join notice within ${ackTimeoutMs / 1000} s`,
        ),
    );
  } catch (err) {
    if (isNotAuthorized(err)) throw aclRefusal(target.topic);
    if ((err as { code?: unknown }).code === 0x95 /* packet too large */)
      throw new UnavailableError(`cannot send our join notice: ${(err as Error).message}`);
    throw err;
  }
  return payload;
}
