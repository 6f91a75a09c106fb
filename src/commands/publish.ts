/**
 * `publish`: send one message (-m) or every line of stdin to a room, at QoS 1, with a bounded
 * window of unacknowledged messages and backpressure on stdin, so any amount of input runs in
 * bounded memory. It exits 0 only when every accepted line was acknowledged by the broker.
 */
import { readLineGroups } from '../chat/lines.js';
import { Sender } from '../chat/sender.js';
import {
  checkTargetFlags,
  rawTarget,
  roomTarget,
  type ChatTarget,
  type TargetFlags,
} from '../chat/target.js';
import { keepYoungGenerationSmall } from '../cli/heap.js';
import { openStore } from '../db/index.js';
import { InterruptedError, SunoyeError, UnavailableError, UsageError } from '../errors.js';
import { aclRefusal, isNotAuthorized } from '../mqtt/topics.js';
import { openPublisher } from '../mqtt/connection.js';
import { brokerSettings } from '../config/broker.js';
import { MAX_TEXT_BYTES } from '../protocol/index.js';
import type { CommandContext } from '../chat/context.js';

export interface PublishOptions extends TargetFlags {
  message?: string | undefined;
  /** Seconds without any acknowledgement, with messages outstanding, before giving up. */
  timeout: number;
  /** Most messages sent and not yet acknowledged. */
  window: number;
}

/**
 * At most this much payload is sent and unacknowledged at once, whatever the window: it bounds
 * memory (every unacknowledged message is kept to be sent again) when lines are long.
 */
const MAX_BYTES_IN_FLIGHT = 2 * 1024 * 1024;

/**
 * Lines that arrive together (a pipe) travel as batches of up to this many characters of text and
 * `codec.maxBatch` lines, one MQTT message each: the cost per message (encryption, broker, the
 * acknowledgement) is then shared by many lines. A line typed alone still goes alone, at once.
 */
const BATCH_TEXT_CHARS = 32 * 1024;

/** After Ctrl-C, how long acknowledgements of what was sent are still waited for. */
const ABORT_GRACE_MS = 1200;

/** Counts acknowledgements and lets the sender wait for a free slot or for all of them. */
class InFlight {
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

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `ready()` holds or a failure was recorded. */
  async until(ready: () => boolean): Promise<void> {
    while (!ready() && !this.failed)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failed) throw this.failed;
  }
}

function checkOptions(options: PublishOptions): void {
  checkTargetFlags(options);
  if (!Number.isFinite(options.timeout) || options.timeout <= 0)
    throw new UsageError('--timeout must be a number of seconds above 0');
  if (!Number.isInteger(options.window) || options.window < 1 || options.window > 65_000) {
    throw new UsageError('--window must be a whole number from 1 to 65000');
  }
  if (options.message !== undefined) {
    if (options.message === '') throw new UsageError('-m needs a non-empty message');
    if (Buffer.byteLength(options.message) > MAX_TEXT_BYTES)
      throw new UsageError(`-m: the message is longer than ${MAX_TEXT_BYTES} bytes`);
  }
}

async function resolveTarget(ctx: CommandContext, options: PublishOptions): Promise<ChatTarget> {
  if (options.room === undefined) return rawTarget(options.topic!);
  const store = await openStore(ctx.config.db);
  try {
    return await roomTarget(ctx, store, options.room, options);
  } finally {
    await store.close();
  }
}

/** Publishes and returns once every message is acknowledged; throws if any could not be. */
export async function publish(
  ctx: CommandContext,
  options: PublishOptions,
  signal: AbortSignal,
): Promise<void> {
  checkOptions(options);
  const settings = brokerSettings(ctx.config);
  const target = await resolveTarget(ctx, options);
  const where = target.room ? `room ${target.room}` : target.topic;
  const sender = new Sender(ctx.config.name);
  const publisher = await openPublisher(settings, signal);
  const { stderr } = ctx.io;
  const flight = new InFlight();
  const timedOut = new UnavailableError('timed out');
  // Ctrl-C: a moment for the acknowledgements of what was sent, then stop (exit 130).
  const interrupted = new InterruptedError('interrupted');
  let grace: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    grace = setTimeout(() => flight.fail(interrupted), ABORT_GRACE_MS);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const watchdog = setInterval(() => {
    if (flight.outstanding > 0 && Date.now() - flight.lastProgress > options.timeout * 1000) {
      flight.fail(timedOut);
    }
  }, 200);
  let inputError: SunoyeError | undefined;
  // Taken over, refused on a reconnect: nothing more can be delivered.
  publisher.onFatal = (err) => flight.fail(err);
  try {
    const packetLimit = publisher.maxPayload(target.topic);
    const sendBatch = async (batch: Outgoing[]): Promise<void> => {
      // The broker's Receive Maximum is read anew each time: a reconnect may have changed it.
      await flight.until(
        () =>
          flight.packets < Math.min(options.window, publisher.receiveMaximum) &&
          flight.bytes < MAX_BYTES_IN_FLIGHT,
      );
      const payloads = batch.map((line) => sender.message(line.text));
      const payload =
        payloads.length === 1
          ? target.codec.encode(payloads[0]!)
          : target.codec.encodeBatch(payloads);
      if (packetLimit !== Infinity && Buffer.byteLength(payload) > packetLimit) {
        // Too big for this broker: numbered anew, as nothing was sent. A batch goes as two
        // halves; a single line cannot go at all, and the input stops there.
        sender.rewind(payloads.length);
        if (batch.length === 1) throw tooLargeForBroker(batch[0]!, publisher.maximumPacketSize);
        const half = Math.ceil(batch.length / 2);
        await sendBatch(batch.slice(0, half));
        await sendBatch(batch.slice(half));
        return;
      }
      // The acknowledgement keeps two numbers, not the text: lines are long-lived garbage else.
      const lines = batch.length;
      const size = payload.length;
      flight.add(lines, size);
      publisher.publish(target.topic, payload, (err) => flight.done(lines, size, err));
    };
    /** Sends lines that arrived together, batched within the codec's and the size limits. */
    const send = async (lines: Outgoing[]): Promise<void> => {
      let batch: Outgoing[] = [];
      let chars = 0;
      for (const line of lines) {
        if (
          batch.length > 0 &&
          (batch.length >= target.codec.maxBatch || chars + line.text.length > BATCH_TEXT_CHARS)
        ) {
          await sendBatch(batch);
          batch = [];
          chars = 0;
        }
        batch.push(line);
        chars += line.text.length;
      }
      if (batch.length > 0) await sendBatch(batch);
    };
    if (options.message !== undefined) {
      await send([{ number: undefined, text: options.message }]);
    } else {
      keepYoungGenerationSmall();
      const stdin = ctx.io.stdin;
      const prompt = stdin.isTTY === true;
      if (prompt) stderr.write(`Type messages for ${where}, one per line; Ctrl-D ends.\n> `);
      // Ctrl-C stops reading at once; what was already accepted is still delivered below.
      const stopReading = (): void => void stdin.destroy();
      signal.addEventListener('abort', stopReading, { once: true });
      try {
        for await (const group of readLineGroups(stdin, MAX_TEXT_BYTES)) {
          await send(group);
          if (prompt) stderr.write('> ');
        }
      } catch (err) {
        if (err instanceof UsageError) inputError = err;
        else if (!signal.aborted) throw err;
      } finally {
        signal.removeEventListener('abort', stopReading);
      }
      if (prompt) stderr.write('\n');
    }
    await flight.until(() => flight.outstanding === 0);
    await publisher.end();
  } catch (err) {
    publisher.destroy();
    if (isNotAuthorized(flight.failed)) throw aclRefusal(target.topic);
    if (flight.failed instanceof SunoyeError && flight.failed !== timedOut)
      throw new SunoyeError(
        `${flight.failed.message}; ${flight.outstanding} of ${flight.sent} messages not delivered, ${flight.acked} were`,
        flight.failed.exitCode,
      );
    if (flight.failed) throw notDelivered(flight, options.timeout, settings.url);
    throw err;
  } finally {
    clearInterval(watchdog);
    clearTimeout(grace);
    signal.removeEventListener('abort', onAbort);
  }
  stderr.write(`sent ${flight.acked} message${flight.acked === 1 ? '' : 's'} to ${where}\n`);
  if (inputError) throw inputError;
  if (signal.aborted)
    throw new InterruptedError('interrupted; every line read before it was delivered');
}

/** A line (numbered; -m has none) and its text. */
interface Outgoing {
  number: number | undefined;
  text: string;
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

function notDelivered(flight: InFlight, timeout: number, url: string): UnavailableError {
  const lost = flight.outstanding;
  return new UnavailableError(
    `${lost} of ${flight.sent} message${flight.sent === 1 ? '' : 's'} not acknowledged by the broker ${url} within ${timeout} s; ` +
      `${flight.acked} were delivered`,
  );
}
