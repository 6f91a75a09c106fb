/**
 * Write batching for MQTT.js: it writes every packet to the socket as it is made, one system call
 * each. Holding the socket corked until the event loop turns lets a burst of PUBLISHes (or of the
 * PUBACKs for a burst received) leave in one write, which is most of the cost at high rates and
 * adds no waiting: the socket is uncorked as soon as the current batch of work is done.
 */
import type { MqttClient } from 'mqtt';

/** Returns `hold()`: call it before writing; writes until the loop turns go out together. */
export function writeBatcher(client: MqttClient): () => void {
  let held = false;
  return () => {
    if (held) return;
    const stream = client.stream as { cork?: () => void; uncork?: () => void } | undefined;
    if (!stream?.cork || !stream.uncork) return;
    held = true;
    stream.cork();
    setImmediate(() => {
      held = false;
      stream.uncork!();
    });
  };
}

/** Batches the acknowledgements MQTT.js writes for incoming messages. */
export function batchAcks(client: MqttClient): void {
  const hold = writeBatcher(client);
  client.on('packetreceive', hold);
}
