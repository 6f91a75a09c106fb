/** `publish` over MQTT.js, for the broker URLs sunoye's own publisher does not speak (ws://, wss://). */
import { connectBroker, type BrokerSettings } from './connect.js';
import type { QosPublisher } from './publisher.js';
import { randomBytes } from 'node:crypto';

export async function libraryPublisher(settings: BrokerSettings): Promise<QosPublisher> {
  const { client, receiveMaximum } = await connectBroker(settings, {
    clientId: `sunoye-p-${randomBytes(8).toString('hex')}`,
    clean: true,
  });
  return {
    receiveMaximum,
    maximumPacketSize: Infinity, // MQTT.js keeps it to itself
    publish: (topic, payload, onAck) =>
      void client.publish(topic, payload, { qos: 1 }, (err) => onAck(err ?? undefined)),
    end: async () => void (await client.endAsync()),
    destroy: () => void client.end(true),
  };
}
