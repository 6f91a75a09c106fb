/**
 * `listen`: subscribe to a room and print the conversation. A running listener is a live member
 * of the room (a heartbeat lease in the registry) and has a last will, so a crash is noticed.
 */
import { readlinkSync } from 'node:fs';
import { isatty } from 'node:tty';
import { command } from '../cli/args.js';
import { claimListenerId, type ClaimedId } from '../home/listener-ids.js';
import { keepYoungGenerationSmall } from '../cli/heap.js';
import {
  brokerOptions,
  commandContext,
  commonOptions,
  passwordOptions,
  presenceOptions,
  roomPositional,
  targetOptions,
} from '../cli/options.js';
import { abortOnSignals } from '../cli/signals.js';
import { colourFor } from '../chat/colour.js';
import type { CommandContext } from '../chat/context.js';
import type { joinChat } from '../chat/announce.js';
import { withTimeout } from '../chat/deadline.js';
import { Inbox } from '../chat/inbox.js';
import { LineBatcher } from '../chat/output.js';
import { Presence } from '../chat/presence.js';
import { clockTime, humanLine, jsonLine, WarningLimiter } from '../chat/render.js';
import { wrapToWidth } from '../chat/wrap.js';
import { ReplayGuard, seenPath } from '../chat/replay.js';
import { KnownSenders, pinsPath } from '../chat/senders.js';
import { Sender } from '../chat/sender.js';
import {
  checkTargetFlags,
  rawTarget,
  roomTarget,
  type ChatTarget,
  type TargetFlags,
} from '../chat/target.js';
import { brokerSettings } from '../config/broker.js';
import { openStore, type RoomStore } from '../db/index.js';
import type { SunoyeError } from '../errors.js';
import { UsageError } from '../errors.js';
import type { ChatConnection, publishAcked } from '../mqtt/connection.js';
import type { ChatPayload } from '../protocol/index.js';
import type { ShownWith } from '../chat/inbox.js';

export interface ListenOptions extends TargetFlags {
  json: boolean;
  count?: number | undefined;
  /** Seconds without a chat message after which the listener leaves (exit 0). */
  timeout?: number | undefined;
}

/** What a room window (`room chat`) sees of the running listener it is built on. */
export interface ListenerSession {
  client: ChatConnection;
  target: ChatTarget;
  /** Stamps our payloads: the window's messages share the listener's stream. */
  sender: Sender;
  store: RoomStore | undefined;
  /** The room's senders as this user knows them (signed rooms). */
  senders: KnownSenders | undefined;
  /** Ends the listener: a normal leave. */
  leave(): void;
  /** A status line (with its newline) for the user. */
  say(line: string): void;
}

/**
 * A room window built on a listener: it renders the conversation its own way and sends what is
 * typed, on the listener's connection and under its name.
 */
export interface ListenerWindow {
  /** The text for a payload (whole lines; empty: nothing is shown). */
  render(payload: ChatPayload, at: Date, how: ShownWith): string;
  /** The listener has joined the room: the window takes input from now on. */
  start(session: ListenerSession): void;
  /** The broker connection went down (false) or came back (true; `via`: the node of a broker list). */
  connection(up: boolean, via?: string): void;
  /** Before the goodbye: what was typed is delivered, within a bound. */
  finish(): Promise<void>;
}

/** `listen`, as the command line declares it. */
export const listenCommand = command(
  {
    name: 'listen',
    describe: "Print a room's conversation",
    positionals: [roomPositional],
    options: {
      ...commonOptions,
      ...brokerOptions,
      ...presenceOptions,
      ...passwordOptions,
      json: {
        type: 'boolean',
        default: false,
        describe:
          'Print one JSON object per line (type, room, from, message or notice, event, ts, id, seq, key, trust, mine)',
      },
      count: {
        type: 'number',
        describe: 'Exit 0 after this many chat messages (notices do not count)',
      },
      timeout: {
        type: 'number',
        value: 'SECONDS',
        describe: 'Exit 0 after this many seconds without a chat message (like mosquitto_sub -W)',
      },
      ...targetOptions,
    },
  },
  (args, shell) => listen(commandContext(args, shell), args, abortOnSignals(shell.exit)),
);

/** How long to hold other messages back while waiting for our own join notice to come round. */
const JOIN_ECHO_TIMEOUT_MS = 10_000;
/** How long the broker may take to acknowledge the join notice. */
const JOIN_ACK_TIMEOUT_MS = 10_000;
/** How long the leave notice may take on the way out (Ctrl-C ends within 2 s). */
const LEAVE_TIMEOUT_MS = 800;
/** How long the database may take to drop our membership on the way out (the lease ends anyway). */
const EXIT_DB_TIMEOUT_MS = 800;

function checkCount(count: number | undefined): void {
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw new UsageError('--count must be a whole number of messages, 1 or more');
  }
}

/** The longest --timeout: what a timer can wait (about 24 days). */
const MAX_TIMEOUT_SECONDS = 2_147_483;

function checkTimeout(timeout: number | undefined): void {
  if (timeout !== undefined && !(timeout > 0 && timeout <= MAX_TIMEOUT_SECONDS)) {
    throw new UsageError(
      `--timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}`,
    );
  }
}

/** The terminal this listener runs in (the path of the first standard stream that is a tty). */
function terminalOf(): string | undefined {
  for (const fd of [0, 1, 2]) {
    if (!isatty(fd)) continue;
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return undefined; // no /proc: every listener gets a fresh id
    }
  }
  return undefined;
}

/** How often what was shown is written down (and on the way out), for the replay defence. */
const SAVE_SEEN_MS = 2000;
/** After a reconnect, how long a sender that was mid-stream may stay silent before we say so. */
const SILENT_AFTER_RECONNECT_MS = 10_000;
/** A sender quiet this long when that time is up has stopped (or lost what it sent). */
const QUIET_MS = 5000;

/** The room's pins and replay defence (signed rooms only: plain rooms have no keys). */
function guards(
  ctx: CommandContext,
  target: ChatTarget,
  startedAt: number,
  warn: (line: string) => void,
): { senders: KnownSenders | undefined; replay: ReplayGuard | undefined } {
  const { identity, room, store } = target;
  if (!identity || room === undefined || store === undefined)
    return { senders: undefined, replay: undefined };
  const home = ctx.config.home;
  return {
    senders: new KnownSenders(
      pinsPath(home, store, room),
      { name: ctx.config.name, publicKey: identity.signer.publicKey },
      warn,
    ),
    replay: new ReplayGuard(seenPath(home, store, room), startedAt, warn),
  };
}

/**
 * After a reconnect: a sender whose stream is open (it sent messages and no end marker) and that
 * has gone quiet may have sent lines that the broker lost: one that was mid-stream when the
 * connection went, or one whose first lines came from a session the broker restored after a
 * crash (a crash loses the end of what it held). Say so, once per reconnect.
 */
function reportSilentStreams(
  inbox: Inbox,
  lostAt: number,
  report: (line: string) => void,
  timers: NodeJS.Timeout[],
): void {
  const timer = setTimeout(() => {
    const quietSince = Date.now() - QUIET_MS;
    for (const s of inbox.openStreams()) {
      if (s.at > quietSince) continue; // still sending
      report(
        `nothing more arrived from ${s.name} after the connection was lost at ${clockTime(new Date(lostAt))} ` +
          `(last message seq ${s.seq} at ${clockTime(new Date(s.at))}, and no end of its stream); if ${s.name} sent more meanwhile, the broker lost it`,
      );
    }
  }, SILENT_AFTER_RECONNECT_MS);
  timer.unref();
  timers.push(timer);
}

/** Listens until interrupted (`signal`), until `--count` messages, or until the room closes. */
export async function listen(
  ctx: CommandContext,
  options: ListenOptions,
  signal: AbortSignal,
  window?: ListenerWindow,
): Promise<void> {
  checkTargetFlags(options);
  checkCount(options.count);
  checkTimeout(options.timeout);
  const settings = brokerSettings(ctx.config);
  const name = ctx.config.name;
  let store: RoomStore | undefined;
  let presence: Presence | undefined;
  let client: ChatConnection | undefined;
  let claimed: ClaimedId | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    let target: ChatTarget;
    if (options.room !== undefined) {
      store = await openStore(ctx.config.db);
      target = await roomTarget(ctx, store, options.room, options);
      const signer = target.identity?.signer;
      const member = await store.addMember(options.room, name, ctx.config.lease, signer);
      presence = new Presence(store, options.room, name, ctx.config.lease, member, signer);
    } else {
      target = rawTarget(options.topic!);
    }
    // MQTT.js loads only once there is something to listen to: not for --help or a usage error.
    const { openConnection, publishAcked, randomClientId } = await import('../mqtt/connection.js');
    const { joinChat } = await import('../chat/announce.js');
    const sender = new Sender(name);
    const will = target.codec.encode(sender.notice('lost', target.topic, target.room));
    claimed =
      target.room !== undefined && target.store !== undefined
        ? claimListenerId(ctx.config.home, target.store, target.room, terminalOf(), () =>
            randomClientId('l'),
          )
        : undefined;
    client = await openConnection(settings, {
      clientId: claimed?.id ?? randomClientId('l'),
      clean: false,
      will: { topic: target.topic, payload: will },
      signal,
      // Someone waiting at a terminal is told why nothing happens yet.
      onRetry: ctx.io.stderr.isTTY ? (line) => ctx.io.stderr.write(`${line}\n`) : undefined,
    });
    // A session kept from a listener that crashed in this terminal: what was sent since it
    // started is live; a new session starts now.
    let startedAt = Date.now();
    if (claimed && client.sessionPresent) startedAt = claimed.since;
    else claimed?.restart(startedAt);
    await runListener(ctx, options, signal, {
      startedAt,
      client,
      target,
      sender,
      store,
      presence,
      timers,
      mqtt: { joinChat, publishAcked },
      window,
    });
    await client.end({ endSession: true });
    client = undefined;
  } finally {
    for (const t of timers) clearInterval(t);
    client?.destroy();
    claimed?.release();
    if (presence && !presence.left) await withTimeout(presence.leave(), EXIT_DB_TIMEOUT_MS);
    await withTimeout(store?.close() ?? Promise.resolve(), EXIT_DB_TIMEOUT_MS);
  }
}

interface Running {
  /** When the listener started (ms since the epoch): older signed messages are not live. */
  startedAt: number;
  client: ChatConnection;
  target: ChatTarget;
  sender: Sender;
  store: RoomStore | undefined;
  presence: Presence | undefined;
  timers: NodeJS.Timeout[];
  /** What the listener does on the broker, loaded with MQTT.js. */
  mqtt: { joinChat: typeof joinChat; publishAcked: typeof publishAcked };
  /** The room window this listener runs under, if any. */
  window: ListenerWindow | undefined;
}

async function runListener(
  ctx: CommandContext,
  options: ListenOptions,
  signal: AbortSignal,
  run: Running,
): Promise<void> {
  const { client, target, sender, store, presence, window } = run;
  const { joinChat, publishAcked } = run.mqtt;
  const { stdout, stderr } = ctx.io;
  const colour = colourFor(stdout, ctx.io.env);
  // A reader that cannot keep up pauses the subscription rather than filling memory.
  const out = new LineBatcher(stdout, client);
  // At a terminal, lines longer than it are broken by sunoye, their later rows indented.
  const width = (stream: typeof stdout): number | undefined =>
    stream.isTTY ? stream.columns : undefined;
  // Printed lines go out first, so warnings keep their place in the conversation.
  const warnings = new WarningLimiter((line) => {
    out.flush();
    stderr.write(wrapToWidth(line, width(stderr)));
  });
  type Reason = 'signal' | 'count' | 'timeout' | 'closed' | 'fatal' | 'output';
  let stopWith: ((reason: Reason) => void) | undefined;
  const stopped = new Promise<Reason>((resolve) => (stopWith = resolve));
  const stop = (reason: Reason): void => stopWith?.(reason);
  let fatal: SunoyeError | undefined;
  if (signal.aborted) stop('signal');
  signal.addEventListener('abort', () => stop('signal'), { once: true });
  // Whoever read the output is gone (`listen R | head -3`): a quiet, normal leave, exit 0.
  stdout.on('error', () => {
    out.discard();
    stop('output');
  });

  // Anyone in the room can send a "closed" notice: its line (`held`) is printed once the
  // registry says the room is closed, never before; else the listener warns that it ignored it.
  const onClosedNotice = async (held: string | undefined): Promise<void> => {
    if (!store || !target.room) return;
    const status = await store.status(target.room).catch(() => undefined);
    if (status?.room.state === 'closed') {
      if (held !== undefined) out.write(held);
      stop('closed');
    } else warnings.warn(`ignored a "closed" notice for room ${target.room}, which is still open`);
  };
  let held: string | undefined;
  const joinId = sender.notice('join', target.topic, target.room);
  const { senders, replay } = guards(ctx, target, run.startedAt, (line) => warnings.report(line));
  // --timeout: the wait for a chat message starts once we have joined, and again at each one.
  let quiet: NodeJS.Timeout | undefined;
  const where = target.room ?? target.topic;
  const inbox = new Inbox(
    {
      topic: target.topic,
      codec: target.codec,
      joinId: joinId.id,
      count: options.count,
      senders,
      replay,
    },
    {
      show: (payload, at, how) => {
        const line = options.json
          ? jsonLine(payload, at, how, where)
          : window
            ? window.render(payload, at, how)
            : wrapToWidth(humanLine(payload, colour, at, how), width(stdout));
        const closing = payload.type === 'notice' && payload.event === 'closed';
        if (closing && !how.ownWords && store && target.room) held = line;
        else out.write(line);
        if (payload.type === 'message') quiet?.refresh();
      },
      warn: (message, kind) =>
        kind === 'loss' ? warnings.report(message) : warnings.warn(message),
      closedNotice: () => {
        const line = held;
        held = undefined;
        void onClosedNotice(line);
      },
      countReached: () => stop('count'),
    },
  );
  client.onMessage = (_topic, raw, retained) => inbox.receive(raw, retained);
  let lostAt: number | undefined;
  client.onOffline = () => {
    lostAt ??= Date.now();
    if (window) window.connection(false);
    else warnings.warn(`lost the broker connection; reconnecting`);
  };
  client.onReconnect = () => {
    if (lostAt === undefined) return;
    const since = lostAt;
    lostAt = undefined;
    // With a broker list (a cluster): the node that took over is named.
    window?.connection(true, client.via);
    if (!window && client.via !== undefined)
      warnings.warn(`connection lost; reconnected via ${client.via}`);
    reportSilentStreams(inbox, since, (line) => warnings.report(line), run.timers);
  };
  if (target.room !== undefined && !target.identity)
    warnings.warn(
      `room ${target.room} is plain: its messages are unencrypted and unsigned, so names are not verified`,
    );
  const save = (): void => {
    senders?.save();
    replay?.save();
  };
  if (senders || replay) run.timers.push(setInterval(save, SAVE_SEEN_MS).unref());
  client.onSessionLost = () =>
    warnings.report(
      "the broker lost this listener's session while it was away: messages sent meanwhile may be missing",
    );
  client.onFatal = (err) => {
    fatal = err;
    stop('fatal');
  };

  keepYoungGenerationSmall();
  await joinChat(client, target, joinId, JOIN_ACK_TIMEOUT_MS);
  const echo = setTimeout(() => {
    if (inbox.hasJoined) return;
    warnings.warn(
      `the broker did not deliver our own join notice back: it may deny publishing to ${target.topic}, or not be delivering this subscription (seen on a NATS cluster missing a node: start listen again)`,
    );
    inbox.release();
  }, JOIN_ECHO_TIMEOUT_MS);
  run.timers.push(echo);
  if (options.timeout !== undefined) {
    quiet = setTimeout(() => stop('timeout'), options.timeout * 1000);
    run.timers.push(quiet);
  }
  presence?.start({
    warn: (message) => warnings.warn(message),
    say: (line) => stderr.write(line),
    closed: () => stop('closed'),
  });
  window?.start({
    client,
    target,
    sender,
    store,
    senders,
    leave: () => stop('signal'),
    say: (line) => {
      out.flush();
      stderr.write(line);
    },
  });

  const reason = await stopped;
  await window?.finish();
  out.flush();
  save();
  // The database and the broker are told at once, each within its own bound: one Ctrl-C ends
  // the program within 2 s even when either has stopped answering.
  const leaveRegistry = withTimeout(presence?.leave() ?? Promise.resolve(), EXIT_DB_TIMEOUT_MS);
  warnings.flush();
  clearTimeout(echo);
  if (!inbox.hasJoined) inbox.release();
  out.flush();
  if (reason === 'closed') stderr.write(`room ${target.room} was closed\n`);
  if (reason === 'timeout') stderr.write(`no message for ${options.timeout} s\n`);
  const goodbye =
    reason === 'signal' || reason === 'count' || reason === 'timeout' || reason === 'output'
      ? withTimeout(
          publishAcked(
            client,
            target.topic,
            target.codec.encode(sender.notice('leave', target.topic, target.room)),
          ),
          LEAVE_TIMEOUT_MS,
        )
      : Promise.resolve();
  await Promise.all([leaveRegistry, goodbye]);
  if (reason === 'fatal') throw fatal!;
}
