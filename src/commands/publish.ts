/**
 * `publish`: send one message (-m) or every line of stdin to a room, at QoS 1, with a bounded
 * window of unacknowledged messages and backpressure on stdin, so any amount of input runs in
 * bounded memory. It exits 0 only when every accepted line was acknowledged by the broker.
 */
import { command } from '../cli/args.js';
import {
  brokerOptions,
  commandContext,
  commonOptions,
  passwordOptions,
  roomPositional,
  targetOptions,
} from '../cli/options.js';
import { abortOnSignals } from '../cli/signals.js';
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
import { InterruptedError, UsageError, type SunoyeError } from '../errors.js';
import { brokerSettings } from '../config/broker.js';
import { MAX_TEXT_BYTES } from '../protocol/index.js';
import { Outbox } from '../chat/outbox.js';
import type { CommandContext } from '../chat/context.js';

export interface PublishOptions extends TargetFlags {
  message?: string | undefined;
  /** Seconds without any acknowledgement, with messages outstanding, before giving up. */
  timeout: number;
  /** Most messages sent and not yet acknowledged. */
  window: number;
}

/** `publish`, as the command line declares it. */
export const publishCommand = command(
  {
    name: 'publish',
    describe: 'Send messages to a room',
    positionals: [roomPositional],
    options: {
      ...commonOptions,
      ...brokerOptions,
      ...passwordOptions,
      message: {
        type: 'string',
        alias: 'm',
        value: 'TEXT',
        describe: 'Send this one message instead of reading stdin',
      },
      timeout: {
        type: 'number',
        default: 30,
        value: 'SECONDS',
        describe: 'Give up when the broker acknowledges nothing for this many seconds',
      },
      window: {
        type: 'number',
        default: 1000,
        describe: 'Most messages sent but not yet acknowledged',
      },
      ...targetOptions,
    },
  },
  (args, shell) => publish(commandContext(args, shell), args, abortOnSignals(shell.exit)),
);

/** After Ctrl-C, how long acknowledgements of what was sent are still waited for. */
const ABORT_GRACE_MS = 1200;

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
  // MQTT.js loads only once there is something to send: not for --help or a usage error.
  const { openPublisher } = await import('../mqtt/connection.js');
  const publisher = await openPublisher(settings, signal);
  const { stderr } = ctx.io;
  const outbox = new Outbox(publisher, target, sender, options.window);
  const { flight } = outbox;
  // Ctrl-C: a moment for the acknowledgements of what was sent, then stop (exit 130).
  const interrupted = new InterruptedError('interrupted');
  let grace: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    grace = setTimeout(() => flight.fail(interrupted), ABORT_GRACE_MS);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const stopWatching = outbox.watch(options.timeout);
  let inputError: SunoyeError | undefined;
  // Taken over, refused on a reconnect: nothing more can be delivered.
  publisher.onFatal = (err) => flight.fail(err);
  try {
    if (options.message !== undefined) {
      await outbox.end([{ number: undefined, text: options.message }]);
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
          await outbox.send(group);
          if (prompt) stderr.write('> ');
        }
      } catch (err) {
        if (err instanceof UsageError) inputError = err;
        else if (!signal.aborted) throw err;
      } finally {
        signal.removeEventListener('abort', stopReading);
      }
      if (prompt) stderr.write('\n');
      if (!flight.failed) await outbox.end();
    }
    await outbox.drained();
    await publisher.end();
  } catch (err) {
    publisher.destroy();
    throw outbox.failure(settings.url, options.timeout) ?? err;
  } finally {
    stopWatching();
    clearTimeout(grace);
    signal.removeEventListener('abort', onAbort);
  }
  stderr.write(`sent ${flight.acked} message${flight.acked === 1 ? '' : 's'} to ${where}\n`);
  if (inputError) throw inputError;
  if (signal.aborted)
    throw new InterruptedError('interrupted; every line read before it was delivered');
}
