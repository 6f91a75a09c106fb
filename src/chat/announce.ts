/** Tells a room's listeners something from outside a listener: `room close` sends `closed`. */
import type { Config } from '../config/config.js';
import { openConnection, publishAcked, randomClientId } from '../mqtt/connection.js';
import { brokerSettings } from '../config/broker.js';
import { roomTopic } from '../mqtt/topics.js';
import { roomCodec, type RoomMode } from '../protocol/index.js';
import { Sender } from './sender.js';

/** Publishes the `closed` notice of a room (sealed in encrypted rooms) and disconnects. */
export async function announceClosed(
  config: Config,
  room: string,
  mode: RoomMode,
  secret: Buffer,
): Promise<void> {
  const topic = roomTopic(config.topicPrefix, room);
  const codec = roomCodec(room, mode, secret);
  const connection = await openConnection(brokerSettings(config), {
    clientId: randomClientId('c'),
    clean: true,
    connectTimeoutMs: 5000,
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
