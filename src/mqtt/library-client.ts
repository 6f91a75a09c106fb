/**
 * The connection of `publish` and `listen` over MQTT.js, for the broker URLs sunoye's own client
 * does not speak (ws://, wss://), behind the same interface.
 */
import { batchAcks } from './batch.js';
import type { ChatConnection } from './client.js';
import { connectBroker, type BrokerSettings, type ConnectOptions } from './connect.js';

export async function libraryConnection(
  settings: BrokerSettings,
  options: ConnectOptions,
): Promise<ChatConnection> {
  const { client, protocolVersion, receiveMaximum } = await connectBroker(settings, options);
  batchAcks(client);
  const connection: ChatConnection = {
    protocolVersion,
    receiveMaximum,
    maximumPacketSize: Infinity, // MQTT.js keeps it to itself
    onMessage: undefined,
    onOffline: undefined,
    publish: (topic, payload, onAck) =>
      void client.publish(topic, payload, { qos: 1 }, (err) => onAck(err ?? undefined)),
    subscribe: async (topic) => {
      const granted = await client.subscribeAsync(topic, { qos: 1 });
      return granted.map((g) => g.qos);
    },
    end: async ({ endSession = false } = {}) => {
      if (protocolVersion === 5 && endSession)
        await client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
      else await client.endAsync();
    },
    destroy: () => void client.end(true),
    // MQTT.js would take unanswered pings while paused for a dead broker: not paused here.
    pause: () => undefined,
    resume: () => undefined,
  };
  client.on('message', (topic, payload) => connection.onMessage?.(topic, payload));
  client.on('offline', () => connection.onOffline?.());
  return connection;
}
