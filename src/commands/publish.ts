/**
 * `publish`: send one message (-m, or the words after the room) or every line of stdin to a room,
 * at QoS 1, with a bounded window of unacknowledged messages and backpressure on stdin, so any
 * amount of input runs in bounded memory. It exits 0 only when every accepted line was
 * acknowledged by the broker, and stops (exit 3) when the room is closed under it.
 */
import { command, type PositionalSpec } from '../cli/args.js';
import {
  brokerOptions,
  commandContext,
  commonOptions,
  passwordOptions,
  roomPositional,
  targetOptions,
} from '../cli/options.js';
import { abortOnSignals } from '../cli/signals.js';
import { watchClosure } from '../room/closure.js';
import { openRegistry, writeJson, type CommandContext } from '../room/context.js';
import { withTimeout } from '../conversation/deadline.js';
import { readLineGroups } from '../conversation/lines.js';
import { SendStatus } from '../terminal/status.js';
import { Sender } from '../conversation/sender.js';
import {
  checkTargetFlags,
  rawTarget,
  roomTarget,
  type ChatTarget,
  type TargetFlags,
} from '../room/target.js';
import { roomContext } from '../room/room-access.js';
import { keepHeapSmall } from '../cli/heap.js';
import type { RoomStore } from '../db/index.js';
import { InterruptedError, RefusedError, UsageError, type SunoyeError } from '../errors.js';
import { brokerSettings } from '../config/broker.js';
import { brokerUrls } from '../broker-url.js';
import { redactUrl } from '../redact.js';
import { MAX_TEXT_BYTES } from '../protocol/index.js';
import { Outbox } from '../conversation/outbox.js';
import { historyWriter, keepsHistory } from '../history/writer.js';

export interface PublishOptions extends TargetFlags {
  message?: string | undefined;
  /** The message as words, sent as one line joined by spaces (instead of -m). */
  words?: string[] | undefined;
  /** The end summary as one JSON object on stdout. */
  json?: boolean | undefined;
  /** Seconds without any acknowledgement, with messages outstanding, before giving up. */
  timeout: number;
  /** Most messages sent and not yet acknowledged. */
  window: number;
}

/** The words after the room: one message, as mosquitto_pub -m and ntfy take it. */
const wordsPositional = {
  name: 'words',
  describe: 'The message, instead of -m and stdin: the words are sent as one line',
  required: false,
  variadic: true,
} as const satisfies PositionalSpec;

/** `publish`, as the command line declares it. */
export const publishCommand = command(
  {
    name: 'publish',
    describe: 'Send messages to a room',
    positionals: [roomPositional, wordsPositional],
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
      json: {
        type: 'boolean',
        default: false,
        describe:
          'Print the end summary as one JSON object on stdout (room, topic, read, sent, delivered)',
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
  (args, shell) => {
    // The process ends through exit once this is done: its registry need not be closed first.
    shell.exitWhenDone?.();
    const exiting = shell.exitWhenDone !== undefined;
    return publish(commandContext(args, shell), args, abortOnSignals(shell.exit), exiting);
  },
);

/** After Ctrl-C or the room's closing, how long acknowledgements of what was sent are waited for. */
const ABORT_GRACE_MS = 1200;
/** How long the database may take to let go on the way out. */
const EXIT_DB_TIMEOUT_MS = 800;
/** On the way out, how long what is left of the room's history may take to be written. */
const HISTORY_EXIT_MS = 2000;
/** The same after Ctrl-C, whose whole way out has 1.9 s (src/cli/signals.ts). */
const HISTORY_ABORT_MS = 500;

/**
 * The command line's message in one place: the words after the room become the message (with
 * --topic, every argument is a word: there is no room), and may not come with -m.
 */
function withWords(options: PublishOptions): PublishOptions {
  let { room, words = [] } = options;
  if (options.topic !== undefined && room !== undefined) {
    words = [room, ...words];
    room = undefined;
  }
  if (words.length === 0) return { ...options, room, words: [] };
  if (options.message !== undefined)
    throw new UsageError('give the message as words after the room or with -m, not both');
  return { ...options, room, words: [], message: words.join(' ') };
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

/**
 * The target, and the registry kept open (a room) to learn of its closing (`keepStore`) or to
 * keep what is sent in the room's history. `exiting`: see `RoomStore.close`.
 */
async function resolveTarget(
  ctx: CommandContext,
  options: PublishOptions,
  keepStore: boolean,
  exiting: boolean,
): Promise<{ target: ChatTarget; store: RoomStore | undefined }> {
  if (options.room === undefined) return { target: rawTarget(options.topic!), store: undefined };
  const store = await openRegistry(ctx, { room: options.room });
  let kept = false;
  try {
    const target = await roomTarget(ctx, store, options.room, options);
    kept = keepStore || keepsHistory(target);
    return { target, store: kept ? store : undefined };
  } finally {
    if (!kept) await store.close({ exiting });
  }
}

/** "1 line", "2 lines". */
function lines(n: number): string {
  return `${n} line${n === 1 ? '' : 's'}`;
}

/**
 * Publishes and returns once every message is acknowledged; throws if any could not be. With
 * `exiting`, the process ends through \`process.exit\` right after (see \`RoomStore.close\`).
 */
export async function publish(
  context: CommandContext,
  given: PublishOptions,
  signal: AbortSignal,
  exiting = false,
): Promise<void> {
  const options = withWords(given);
  checkOptions(options);
  // A remembered room: the registry and broker it was joined with, unless others are given.
  const ctx = roomContext(context, options.room);
  const settings = brokerSettings(ctx.config);
  const { target, store } = await resolveTarget(
    ctx,
    options,
    options.message === undefined,
    exiting,
  );
  try {
    await send(ctx, options, signal, settings, target, store, exiting);
  } finally {
    if (store) await withTimeout(store.close({ exiting }), EXIT_DB_TIMEOUT_MS);
  }
}

/** Connects and sends what there is to send: the message, or stdin until it ends. */
async function send(
  ctx: CommandContext,
  options: PublishOptions,
  signal: AbortSignal,
  settings: ReturnType<typeof brokerSettings>,
  target: ChatTarget,
  store: RoomStore | undefined,
  exiting: boolean,
): Promise<void> {
  const where = target.room ? `room ${target.room}` : target.topic;
  const sender = new Sender(ctx.config.name);
  // MQTT.js loads only once there is something to send: not for --help or a usage error.
  const { openPublisher } = await import('../mqtt/connection.js');
  const { stdin, stderr } = ctx.io;
  // Someone waiting at a terminal is told why nothing happens yet.
  const publisher = await openPublisher(
    settings,
    signal,
    stderr.isTTY ? (line) => stderr.write(`${line}\n`) : undefined,
  ).catch((err: unknown) => {
    // Stopped before anything could go: say so, not only that it was interrupted.
    if (err instanceof InterruptedError)
      throw new InterruptedError(
        `${err.message}; ${options.message === undefined ? 'nothing was sent' : 'the message was not sent'}`,
      );
    throw err;
  });
  const outbox = new Outbox(publisher, target, sender, options.window);
  const { flight } = outbox;
  const reading = options.message === undefined;
  const status = new SendStatus(stderr, {
    prompt: reading && stdin.isTTY === true,
    progress: reading && stdin.isTTY !== true && stderr.isTTY === true,
    where,
    timeoutSeconds: options.timeout,
    delivered: () => flight.acked,
  });
  // What the broker acknowledged is kept in the room's history, off the sending path.
  const history = historyWriter(store, target, (message) => status.say(`warning: ${message}`));
  if (history) {
    outbox.observe(history.observer());
    history.start();
  }
  // A cluster's node: which one took over (what was not acknowledged is sent there again). Said
  // once back, or at the end when the acknowledgements sent again there came first (the end
  // then came before the connection was back for good).
  let unsaid = false;
  const sayVia = (): void => {
    if (!unsaid) return;
    unsaid = false;
    if (publisher.via !== undefined)
      status.say(`connection lost; reconnected via ${publisher.via}`);
  };
  publisher.onOffline = () => {
    unsaid = true;
    status.lost();
  };
  publisher.onReconnect = () => {
    status.back();
    sayVia();
  };
  // Ctrl-C: a moment for the acknowledgements of what was sent, then stop (exit 130).
  const interrupted = new InterruptedError('interrupted');
  let grace: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    grace = setTimeout(() => flight.fail(interrupted), ABORT_GRACE_MS);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const stopWatching = outbox.watch(options.timeout);
  // The room closed under us: nothing more is read or sent.
  let closed = false;
  // (Not for -m: one message goes at once; the registry is kept open then only for its history.)
  const stopWatchingRoom =
    store && target.room !== undefined && reading
      ? watchClosure(
          publisher,
          store,
          { ...target, room: target.room },
          {
            closed: () => {
              closed = true;
              outbox.stop(new RefusedError(`room ${target.room} was closed`));
              stdin.destroy();
            },
            warn: (message) => status.say(`warning: ${message}`),
          },
        )
      : undefined;
  let read = 0;
  let inputError: SunoyeError | undefined;
  let failure: Error | undefined;
  // Taken over, refused on a reconnect: nothing more can be delivered.
  publisher.onFatal = (err) => flight.fail(err);
  try {
    if (options.message !== undefined) {
      read = 1;
      await outbox.end([{ number: undefined, text: options.message }]);
    } else {
      keepHeapSmall();
      status.begin();
      // Ctrl-C stops reading at once; what was already accepted is still delivered below.
      const stopReading = (): void => void stdin.destroy();
      signal.addEventListener('abort', stopReading, { once: true });
      try {
        for await (const group of readLineGroups(stdin, MAX_TEXT_BYTES)) {
          if (closed) break;
          read += group.length;
          await outbox.send(group);
          status.taken();
        }
      } catch (err) {
        if (err instanceof UsageError) inputError = err;
        else if (!signal.aborted && !closed) throw err;
      } finally {
        signal.removeEventListener('abort', stopReading);
      }
      status.end();
      if (!flight.failed && !closed) await outbox.end();
    }
    if (closed) await withTimeout(outbox.drained(), ABORT_GRACE_MS);
    else await outbox.drained();
    // Every line acknowledged after the connection was lost: it was back, on the node named.
    if (!flight.failed && !closed) sayVia();
    await publisher.end({ exiting });
  } catch (err) {
    publisher.destroy();
    // Named as every message names a broker: no query (a token), one URL at a time.
    const shown = brokerUrls(settings.url).map(redactUrl).join(',');
    if (!closed) failure = outbox.failure(shown, options.timeout) ?? (err as Error);
  } finally {
    stopWatching();
    stopWatchingRoom?.();
    status.end();
    clearTimeout(grace);
    signal.removeEventListener('abort', onAbort);
    // What the broker acknowledged and is not in the history yet: written now, within a bound.
    await history?.close(signal.aborted ? HISTORY_ABORT_MS : HISTORY_EXIT_MS);
  }
  if (options.json) {
    const { sent, acked: delivered } = flight;
    writeJson(ctx.io, { room: target.room ?? null, topic: target.topic, read, sent, delivered });
  }
  if (closed)
    throw new RefusedError(
      `room ${target.room} was closed; ${lines(flight.acked)} sent before it, ${read - flight.acked} not sent`,
    );
  if (failure !== undefined) throw failure;
  if (!options.json)
    stderr.write(`sent ${flight.acked} message${flight.acked === 1 ? '' : 's'} to ${where}\n`);
  if (inputError) throw inputError;
  if (signal.aborted)
    throw new InterruptedError('interrupted; every line read before it was delivered');
}
