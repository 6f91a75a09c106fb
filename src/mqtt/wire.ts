/**
 * The MQTT packets (3.1.1 and 5) sunoye's own client speaks: CONNECT (with a will and a persistent
 * session for listeners), PUBLISH at QoS 1 both ways, PUBACK, SUBSCRIBE, PINGREQ and DISCONNECT
 * out; CONNACK, PUBLISH, PUBACK, SUBACK, PINGRESP and DISCONNECT in. Framing only: what the packets
 * mean is client.ts's business.
 */
import type { BrokerSettings } from './connect.js';

export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const SUBACK = 9;
export const PINGRESP = 13;
export const DISCONNECT = 14;

/** A packet from the broker that breaks the protocol: the connection cannot be trusted further. */
export class MalformedPacket extends Error {}

export const PINGREQ_PACKET = Buffer.from([0xc0, 0x00]);
export const DISCONNECT_PACKET = Buffer.from([0xe0, 0x00]);

function varintLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[at++] = b;
  } while (n > 0);
  return at;
}

function utf8Field(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

function frame(firstByte: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + varintLength(body.length) + body.length);
  out[0] = firstByte;
  body.copy(out, writeVarint(out, 1, body.length));
  return out;
}

/** A connection's session: clean or kept (MQTT 5: for `sessionExpirySeconds`), and its will. */
export interface SessionOptions {
  clean: boolean;
  sessionExpirySeconds?: number | undefined;
  /** Published by the broker at QoS 1 if the connection is lost without a DISCONNECT. */
  will?: { topic: string; payload: string } | undefined;
}

/** CONNECT with the settings' credentials and keepalive, and the session's will and expiry. */
export function connectPacket(
  settings: BrokerSettings,
  version: 4 | 5,
  clientId: string,
  session: SessionOptions = { clean: true },
): Buffer {
  let flags = session.clean ? 0x02 : 0;
  if (session.will) flags |= 0x04 | 0x08; // a will, at QoS 1
  if (settings.username !== undefined) flags |= 0x80;
  if (settings.password !== undefined) flags |= 0x40;
  const head = Buffer.from([
    version,
    flags,
    settings.keepaliveSeconds >> 8,
    settings.keepaliveSeconds & 0xff,
  ]);
  const parts = [utf8Field('MQTT'), head];
  if (version === 5) {
    const expiry = session.sessionExpirySeconds ?? 0;
    parts.push(expiry > 0 ? sessionExpiry(expiry) : Buffer.from([0]));
  }
  parts.push(utf8Field(clientId));
  if (session.will) {
    if (version === 5) parts.push(Buffer.from([0])); // no will properties
    parts.push(utf8Field(session.will.topic), utf8Field(Buffer.from(session.will.payload, 'utf8')));
  }
  if (settings.username !== undefined) parts.push(utf8Field(settings.username));
  if (settings.password !== undefined)
    parts.push(utf8Field(Buffer.from(settings.password, 'utf8')));
  return frame(0x10, Buffer.concat(parts));
}

/** MQTT 5 properties holding only a Session Expiry Interval. */
function sessionExpiry(seconds: number): Buffer {
  const out = Buffer.from([5, 0x11, 0, 0, 0, 0]);
  out.writeUInt32BE(seconds, 2);
  return out;
}

/** SUBSCRIBE to one topic at QoS 1. */
export function subscribePacket(version: 4 | 5, id: number, topic: string): Buffer {
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff])];
  if (version === 5) parts.push(Buffer.from([0])); // no properties
  parts.push(utf8Field(topic), Buffer.from([1]));
  return frame(0x82, Buffer.concat(parts));
}

/** PUBACK for an incoming QoS 1 message (success; the same bytes in 3.1.1 and 5). */
export function pubackPacket(id: number): Buffer {
  return Buffer.from([0x40, 0x02, id >> 8, id & 0xff]);
}

/** DISCONNECT; on MQTT 5 with `endSession`, also ends a kept session (Session Expiry 0). */
export function disconnectPacket(version: 4 | 5, endSession: boolean): Buffer {
  if (version !== 5 || !endSession) return DISCONNECT_PACKET;
  return Buffer.from([0xe0, 0x07, 0x00, 0x05, 0x11, 0, 0, 0, 0]);
}

/** Reads a variable byte integer at `at`: [value, the index after it]. */
function readVarint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    const b = buf[at++];
    if (b === undefined) break;
    value += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) return [value, at];
    multiplier *= 128;
  }
  throw new MalformedPacket('malformed packet from the broker');
}

/** An incoming PUBLISH. */
export interface IncomingPublish {
  topic: string;
  qos: 0 | 1;
  /** The packet id to acknowledge (QoS 1). */
  id: number | undefined;
  payload: Buffer;
}

/** Reads a PUBLISH body; throws on one that is malformed or at QoS 2 (never subscribed to). */
export function readPublish(flags: number, body: Buffer, version: 4 | 5): IncomingPublish {
  const qos = (flags >> 1) & 3;
  if (qos > 1) throw new MalformedPacket('the broker sent a QoS 2 message to a QoS 1 subscription');
  if (body.length < 2) throw new MalformedPacket('malformed PUBLISH from the broker');
  let at = 2 + body.readUInt16BE(0);
  if (at + (qos === 1 ? 2 : 0) > body.length)
    throw new MalformedPacket('malformed PUBLISH from the broker');
  const topic = body.toString('utf8', 2, at);
  let id: number | undefined;
  if (qos === 1) {
    id = body.readUInt16BE(at);
    at += 2;
  }
  if (version === 5) {
    const [length, next] = readVarint(body, at);
    at = next + length;
  }
  if (at > body.length) throw new MalformedPacket('malformed PUBLISH from the broker');
  return { topic, qos: qos as 0 | 1, id, payload: body.subarray(at) };
}

/** Reads a SUBACK body: its packet id and return codes (0-2: granted QoS, 0x80 and up: refused). */
export function readSuback(body: Buffer, version: 4 | 5): { id: number; codes: number[] } {
  if (body.length < 3) throw new MalformedPacket('malformed SUBACK from the broker');
  const id = body.readUInt16BE(0);
  let at = 2;
  if (version === 5) {
    const [length, next] = readVarint(body, at);
    at = next + length;
  }
  if (at >= body.length) throw new MalformedPacket('malformed SUBACK from the broker');
  return { id, codes: [...body.subarray(at)] };
}

/**
 * Memory for PUBLISH packets, used again once the broker has acknowledged them.
 *
 * A packet lives until its PUBACK, long enough for the garbage collector to move it to the old
 * generation, where its memory is given back only by a full collection. A pipe that sends
 * hundreds of megabytes would otherwise leave tens of megabytes of dead packets at a time. Sizes
 * are rounded up to a power of two (at least 1 KiB); at most `limit` bytes are kept for reuse.
 */
export class PacketPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private kept = 0;

  constructor(private readonly limit = 8 * 1024 * 1024) {}

  /** A buffer of exactly `size` bytes (contents undefined). */
  take(size: number): Buffer {
    const capacity = size <= 1024 ? 1024 : 2 ** Math.ceil(Math.log2(size));
    const memory = this.free.get(capacity)?.pop();
    if (memory) this.kept -= capacity;
    return Buffer.from(memory ?? new ArrayBuffer(capacity), 0, size);
  }

  /** Gives back a buffer from `take` that nothing reads or writes any more. */
  give(packet: Buffer): void {
    const memory = packet.buffer as ArrayBuffer;
    const capacity = memory.byteLength;
    if (this.kept + capacity > this.limit || packet.byteOffset !== 0) return;
    let list = this.free.get(capacity);
    if (!list) this.free.set(capacity, (list = []));
    list.push(memory);
    this.kept += capacity;
  }
}

/** PUBLISH at QoS 1: one buffer, made in one allocation (from `pool`, if given). */
export function publishPacket(
  version: 4 | 5,
  topic: Buffer,
  id: number,
  payload: string,
  pool?: PacketPool,
): Buffer {
  const payloadBytes = Buffer.byteLength(payload, 'utf8');
  const length = 2 + topic.length + 2 + (version === 5 ? 1 : 0) + payloadBytes;
  const size = 1 + varintLength(length) + length;
  const out = pool ? pool.take(size) : Buffer.allocUnsafe(size);
  out[0] = 0x32;
  let at = writeVarint(out, 1, length);
  out.writeUInt16BE(topic.length, at);
  at += 2;
  at += topic.copy(out, at);
  out.writeUInt16BE(id, at);
  at += 2;
  if (version === 5) out[at++] = 0;
  out.write(payload, at, 'utf8');
  return out;
}

/** The same PUBLISH marked as a redelivery (DUP). */
export function markDuplicate(packet: Buffer): Buffer {
  const copy = Buffer.from(packet);
  copy[0] = copy[0]! | 0x08;
  return copy;
}

/** Splits the bytes from the broker into packets: [type, body, flags (the low 4 bits)]. */
export class PacketReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): [number, Buffer, number][] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const out: [number, Buffer, number][] = [];
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let at = 1;
      for (;;) {
        if (at >= this.buffered.length) return out;
        const b = this.buffered[at++]!;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b & 0x80) === 0) break;
        if (at > 4) throw new MalformedPacket('malformed packet from the broker');
      }
      if (this.buffered.length < at + length) return out;
      const first = this.buffered[0]!;
      out.push([first >> 4, this.buffered.subarray(at, at + length), first & 0x0f]);
      this.buffered = this.buffered.subarray(at + length);
    }
  }
}

/** What sunoye uses of an MQTT 5 CONNACK's properties. */
export interface ConnackProperties {
  receiveMaximum?: number;
  serverKeepAlive?: number;
  maximumPacketSize?: number;
}

/** Reads the properties of an MQTT 5 CONNACK body (after its flags and reason code). */
export function connackProperties(connack: Buffer): ConnackProperties {
  const found: ConnackProperties = {};
  let length: number;
  let at: number;
  try {
    [length, at] = readVarint(connack, 2);
  } catch {
    return found; // no properties (or cut short): none found
  }
  const end = Math.min(connack.length, at + length);
  const stringAt = (i: number): number => 2 + connack.readUInt16BE(i);
  while (at < end) {
    const id = connack[at++]!;
    if (id === 0x21) found.receiveMaximum = connack.readUInt16BE(at);
    if (id === 0x13) found.serverKeepAlive = connack.readUInt16BE(at);
    if (id === 0x27) found.maximumPacketSize = connack.readUInt32BE(at);
    // Step over each property by its type.
    if ([0x24, 0x25, 0x28, 0x29, 0x2a].includes(id)) at += 1;
    else if ([0x13, 0x21, 0x22].includes(id)) at += 2;
    else if ([0x11, 0x27].includes(id)) at += 4;
    else if ([0x12, 0x15, 0x16, 0x1a, 0x1c, 0x1f].includes(id)) at += stringAt(at);
    else if (id === 0x26) {
      at += stringAt(at);
      at += stringAt(at);
    } else break; // unknown: stop reading, keep what was found
  }
  return found;
}
