/**
 * The way out of a chat: lines become payloads, payloads travel in batches that fit the broker's
 * packets, and a bounded window of unacknowledged messages (the broker's Receive Maximum, the
 * user's window, a byte budget) keeps any amount of input in bounded memory.
 */
import { SunoyeError, UnavailableError, UsageError } from '../errors.js';
import type { QosPublisher } from '../mqtt/connection.js';
import { aclRefusal, isNotAuthorized } from '../mqtt/topics.js';
import type { ChatPayload, RoomCodec } from '../protocol/index.js';
import type { Sender } from './sender.js';

/**
 * At most this much payload is sent and unacknowledged at once, whatever the window: it bounds
 * memory (every unacknowledged message is kept to be sent again) when lines are long.
 */
export const MAX_BYTES_IN_FLIGHT = 1024 * 1024;

/**
 * Lines that arrive together (a pipe) travel as batches of up to this many characters of text and
 * `codec.maxBatch` lines, one MQTT message each: the cost per message (encryption, broker, the
 * acknowledgement) is then shared by many lines. A line typed alone still goes alone, at once.
 */
export const BATCH_TEXT_CHARS = 32 * 1024;

/** A line (numbered; -m has none) and its text. */
export interface Outgoing {
  number: number | undefined;
  text: string;
}

/** Counts acknowledgements and lets the sender wait for a free slot or for all of them. */
export class InFlight {
  /** Lines sent and acknowledged. */
  sent = 0;
  acked = 0;
  /** MQTT messages, and payload characters, sent and not yet acknowledged. */
  packets = 0;
  bytes = 0;
  failed: Error | undefined;
  lastProgress = Date.now();
  private waiters: (() => void)[] = [];

  get outstanding(): number {
    return this.sent - this.acked;
  }

  add(lines: number, bytes: number): void {
    if (this.outstanding === 0) this.lastProgress = Date.now();
    this.sent += lines;
    this.packets += 1;
    this.bytes += bytes;
  }

  done(lines: number, bytes: number, err?: Error | null): void {
    this.packets -= 1;
    this.bytes -= bytes;
    if (err) this.failed ??= err;
    else this.acked += lines;
    this.lastProgress = Date.now();
    this.wake();
  }

  fail(err: Error): void {
    this.failed ??= err;
    this.wake();
  }

  /** Wakes every waiter, to look again at what it waits for. */
  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `ready()` holds or a failure was recorded. */
  async until(ready: () => boolean): Promise<void> {
    while (!ready() && !this.failed)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failed) throw this.failed;
  }
}

/**
 * Follows the messages an outbox sends: called with each as it goes (its payload, and what it
 * carries), it returns the callback for its acknowledgement (`err`: not acknowledged).
 */
export type PublishObserver = (payload: string, payloads: ChatPayload[]) => (err?: Error) => void;

/** Where the outbox sends: the topic, its wire format, and who speaks. */
export interface OutboxTarget {
  topic: string;
  codec: RoomCodec;
}

/** Sends lines to one topic within the window and the broker's limits. */
export class Outbox {
  readonly flight = new InFlight();
  private readonly packetLimit: number;
  private readonly timedOut = new UnavailableError('timed out');
  /** Why nothing more is sent (see `stop`). */
  private stopped: Error | undefined;
  /** Told of every message as it goes (see `observe`). */
  private readonly observers: PublishObserver[] = [];

  constructor(
    private readonly publisher: QosPublisher,
    private readonly target: OutboxTarget,
    private readonly sender: Sender,
    /** Most messages sent and not yet acknowledged. */
    private readonly window: number,
  ) {
    this.packetLimit = publisher.maxPayload(target.topic);
  }

  /**
   * Tells `observer` of every message from now on as it goes (its payload, and what it carries);
   * the callback it returns is told of the acknowledgement, before the window moves on. Observers
   * are told in the order they were added.
   */
  observe(observer: PublishObserver): void {
    this.observers.push(observer);
  }

  /**
   * Ends the stream (signed rooms): a signed end marker carrying the last sequence number, so
   * listeners report lines that never arrived even at the end. It goes with `lines`, if any.
   */
  async end(lines: Outgoing[] = []): Promise<void> {
    if (!this.signed) return this.send(lines);
    if (lines.length > 1) {
      await this.send(lines.slice(0, -1));
      lines = lines.slice(-1);
    }
    await this.sendBatch(lines, true);
  }

  /** Whether the wire format is signed: only then does a stream end with a marker. */
  private get signed(): boolean {
    return this.target.codec.mode === 'encrypted';
  }

  /** Sends lines that arrived together, batched within the codec's and the size limits. */
  async send(lines: Outgoing[]): Promise<void> {
    const maxBatch = this.target.codec.maxBatch;
    let batch: Outgoing[] = [];
    let chars = 0;
    for (const line of lines) {
      if (
        batch.length > 0 &&
        (batch.length >= maxBatch || chars + line.text.length > BATCH_TEXT_CHARS)
      ) {
        await this.sendBatch(batch);
        batch = [];
        chars = 0;
      }
      batch.push(line);
      chars += line.text.length;
    }
    if (batch.length > 0) await this.sendBatch(batch);
  }

  /**
   * Fails the outbox once messages are outstanding and none was acknowledged for `seconds`.
   * Returns the function that stops watching.
   */
  watch(seconds: number): () => void {
    const timer = setInterval(() => {
      const { flight } = this;
      if (flight.outstanding > 0 && Date.now() - flight.lastProgress > seconds * 1000)
        flight.fail(this.timedOut);
    }, 200);
    return () => clearInterval(timer);
  }

  /**
   * Why sending stopped, as the error to report (undefined when nothing failed): refused by the
   * broker's ACL, ended (taken over, interrupted) with what was delivered, or unacknowledged.
   */
  failure(brokerUrl: string, timeoutSeconds: number): Error | undefined {
    const { flight } = this;
    const failed = flight.failed;
    if (!failed) return undefined;
    if (isNotAuthorized(failed)) return aclRefusal(this.target.topic);
    const plural = flight.sent === 1 ? '' : 's';
    const were = flight.acked === 1 ? 'was' : 'were';
    if (failed instanceof SunoyeError && failed !== this.timedOut)
      return new SunoyeError(
        `${failed.message}; ${flight.outstanding} of ${flight.sent} message${plural} not delivered, ${flight.acked} ${were}`,
        failed.exitCode,
      );
    // Silence for the timeout, or what the client said when it gave up on them.
    const why = failed === this.timedOut ? `within ${timeoutSeconds} s` : `(${failed.message})`;
    return new UnavailableError(
      `${flight.outstanding} of ${flight.sent} message${plural} not acknowledged by the broker ${brokerUrl} ${why}; ` +
        `${flight.acked} ${were} delivered`,
    );
  }

  /**
   * Sends nothing more: every send from now on, and one waiting for room in the window, throws
   * `reason`. What was sent is still acknowledged (`drained`).
   */
  stop(reason: Error): void {
    this.stopped ??= reason;
    this.flight.wake();
  }

  /** Resolves once everything sent is acknowledged; throws the first failure. */
  async drained(): Promise<void> {
    await this.flight.until(() => this.flight.outstanding === 0 && this.flight.packets === 0);
  }

  private async sendBatch(batch: Outgoing[], withEnd = false): Promise<void> {
    const { flight, publisher, target, sender } = this;
    // The broker's Receive Maximum is read anew each time: a reconnect may have changed it.
    await flight.until(
      () =>
        this.stopped !== undefined ||
        (flight.packets < Math.min(this.window, publisher.receiveMaximum) &&
          flight.bytes < MAX_BYTES_IN_FLIGHT),
    );
    if (this.stopped) throw this.stopped;
    const payloads: ChatPayload[] = sender.messages(batch);
    if (withEnd) payloads.push(sender.end());
    const payload =
      payloads.length === 1
        ? target.codec.encode(payloads[0]!)
        : target.codec.encodeBatch(payloads);
    if (this.packetLimit !== Infinity && Buffer.byteLength(payload) > this.packetLimit) {
      // Too big for this broker: numbered anew, as nothing was sent. A batch goes as two
      // halves; a single line cannot go at all, and the input stops there.
      sender.rewind(payloads.length);
      if (withEnd && batch.length > 0) {
        await this.sendBatch(batch);
        await this.sendBatch([], true);
        return;
      }
      if (batch.length === 1) throw tooLargeForBroker(batch[0]!, publisher.maximumPacketSize);
      const half = Math.ceil(batch.length / 2);
      await this.sendBatch(batch.slice(0, half));
      await this.sendBatch(batch.slice(half));
      return;
    }
    // The acknowledgement keeps two numbers, not the text: lines are long-lived garbage else.
    const lines = batch.length;
    const size = payload.length;
    flight.add(lines, size);
    const told = this.observers.map((observer) => observer(payload, payloads));
    publisher.publish(target.topic, payload, (err) => {
      for (const acked of told) acked(err ?? undefined);
      flight.done(lines, size, err);
    });
  }
}

/** A line that cannot fit in one packet the broker accepts, however it is sent. */
function tooLargeForBroker(line: Outgoing, maximumPacketSize: number): UsageError {
  const limit = `the broker takes packets of at most ${maximumPacketSize} bytes`;
  return line.number === undefined
    ? new UsageError(`-m: the message is too large once encoded: ${limit}`)
    : new UsageError(
        `line ${line.number} is too large once encoded (${limit}); nothing from it on was sent`,
      );
}
