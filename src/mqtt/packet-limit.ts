/**
 * The largest MQTT packet sunoye takes, and the embedded broker's check of it. aedes and
 * mqtt-packet have no such limit: they buffer a packet whole, of any size MQTT allows (256 MiB),
 * before parsing it, and then deliver it to every subscriber. So the broker reads each packet's
 * fixed header (a type byte and the remaining length, 1 to 4 bytes) as it arrives, and drops the
 * connection of a client whose packet is too large before its body is read, as mosquitto does
 * with `max_packet_size`.
 */
import { Duplex, pipeline, Transform, type TransformCallback } from 'node:stream';

/**
 * The largest packet sunoye accepts, announced in the CONNECT (and the embedded broker's limit):
 * well above the largest sealed batch it makes (32 KiB of text, or one 64 KiB line, sealed and
 * base64-encoded).
 */
export const MAX_PACKET_BYTES = 1024 * 1024;

/** A client sent a packet larger than the limit, or a malformed remaining length. */
export class PacketTooLargeError extends Error {}

/** Passes MQTT packets through unchanged, and fails at the first one larger than `max` bytes. */
class PacketLimit extends Transform {
  /** Bytes of the current packet's body still to pass. */
  private body = 0;
  /** Within a fixed header: its type byte was seen, its remaining length not yet whole. */
  private inHeader = false;
  private length = 0;
  private lengthBytes = 0;

  constructor(private readonly max: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let i = 0;
    // Where in this chunk the current fixed header began (0: in an earlier chunk).
    let headerAt = 0;
    const fail = (message: string): void => {
      // The packets before this one are the client's: passed on, as with any other chunk.
      if (headerAt > 0) this.push(chunk.subarray(0, headerAt));
      done(new PacketTooLargeError(message));
    };
    while (i < chunk.length) {
      if (this.body > 0) {
        const n = Math.min(this.body, chunk.length - i);
        this.body -= n;
        i += n;
      } else if (!this.inHeader) {
        this.inHeader = true; // the type byte
        this.length = 0;
        this.lengthBytes = 0;
        headerAt = i;
        i += 1;
      } else {
        const byte = chunk[i++]!;
        this.length += (byte & 0x7f) * 128 ** this.lengthBytes++;
        if (byte & 0x80) {
          if (this.lengthBytes === 4) return fail('malformed length');
          continue;
        }
        this.inHeader = false;
        const size = 1 + this.lengthBytes + this.length;
        if (size > this.max) return fail(`a packet of ${size} bytes (at most ${this.max})`);
        this.body = this.length;
      }
    }
    done(null, chunk);
  }
}

/**
 * `conn` as the broker reads it: what the client sends passes the packet limit (the connection is
 * destroyed at the first packet over it), what the broker writes goes to `conn` as it is.
 */
export function limitPackets(conn: Duplex, max: number = MAX_PACKET_BYTES): Duplex {
  const limit = new PacketLimit(max);
  // Either failing destroys both; the broker hears of it through the stream it was given.
  pipeline(conn, limit, () => undefined);
  return Duplex.from({ readable: limit, writable: conn });
}
