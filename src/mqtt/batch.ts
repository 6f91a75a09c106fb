/**
 * Acknowledgement batching for MQTT.js, which writes every packet to the socket as it is made, one
 * system call each. Holding the socket corked from the first packet received until the event loop
 * turns lets the PUBACKs for a burst of messages leave in one write, and adds no waiting: the
 * socket is uncorked as soon as the current batch of work is done.
 */
import type { MqttClient } from 'mqtt';

/** Batches the acknowledgements MQTT.js writes for incoming messages. */
export function batchAcks(client: MqttClient): void {
  let held = false;
  client.on('packetreceive', () => {
    if (held) return;
    const stream = client.stream as { cork?: () => void; uncork?: () => void } | undefined;
    if (!stream?.cork || !stream.uncork) return;
    held = true;
    stream.cork();
    setImmediate(() => {
      held = false;
      stream.uncork!();
    });
  });
}
