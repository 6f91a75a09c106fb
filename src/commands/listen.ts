/**
 * `listen`: subscribe to a room and print the conversation. A running listener is a live member
 * of the room (a heartbeat lease in the registry) and has a last will, so a crash is noticed.
 */
import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { isatty } from 'node:tty';
import { command } from '../cli/args.js';
import { claimListenerId, type ClaimedId } from '../home/listener-ids.js';
import { keepHeapSmall } from '../cli/heap.js';
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
import { colourFor } from '../terminal/colour.js';
import { openRegistry, type CommandContext } from '../room/context.js';
import type { joinChat } from '../conversation/announce.js';
import { withTimeout } from '../conversation/deadline.js';
import { SETTLE_MS } from '../conversation/echoes.js';
import { Inbox } from '../conversation/inbox.js';
import { Recovery } from '../history/recovery.js';
import { rowsOpener } from '../history/rows.js';
import { LineBatcher } from '../terminal/output.js';
import { Presence } from '../conversation/presence.js';
import { clockTime, humanLine, jsonLine, WarningLimiter } from '../terminal/render.js';
import { wrapToWidth } from '../terminal/wrap.js';
import { ReplayGuard } from '../conversation/replay.js';
import { KnownSenders } from '../conversation/senders.js';
import { pinsPath, roomFile, seenPath } from '../home/room-files.js';
import { Sender } from '../conversation/sender.js';
import {
  checkTargetFlags,
  rawTarget,
  roomTarget,
  type ChatTarget,
  type TargetFlags,
} from '../room/target.js';
import { roomContext } from '../room/room-access.js';
import { brokerSettings } from '../config/broker.js';
import type { RoomStore } from '../db/index.js';
import type { SunoyeError } from '../errors.js';
import { UsageError } from '../errors.js';
import { parseDuration } from './format.js';
import type { ChatConnection, publishAcked } from '../mqtt/connection.js';
import type { ChatPayload } from '../protocol/index.js';
import type { ShownWith } from '../conversation/inbox.js';
import {
  READ_LIMITS,
  readHistory,
  type HistoryRead,
  type HistoryRequest,
} from '../history/reader.js';
import { historyWriter, keepsHistory, type HistoryWriter } from '../history/writer.js';
import {
  CATCH_UP_MARGIN_MS,
  boundedReading,
  catchUp,
  RECOVERY_WAIT_MS,
  showHistory,
  type HistoryPlan,
} from '../history/show.js';

export interface ListenOptions extends TargetFlags {
  json: boolean;
  /** Live chat messages to show before leaving (exit 0); history is not counted. */
  count?: number | undefined;
  /** Seconds without a chat message after which the listener leaves (exit 0). */
  timeout?: number | undefined;
  /** History first: lines signed since this time (`10m`, `2h`, `3d`, or an ISO 8601 time). */
  since?: string | undefined;
  /** History first: the last this many chat messages (within `since` when both are given). */
  last?: number | undefined;
  /**
   * The room window's opening screenful of history: like `last`, but a room keeping no
   * history is no news (nobody asked for it).
   */
  openingScreen?: number | undefined;
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
  /** Keeps what we send in the room's history (a room that keeps one). */
  history: HistoryWriter | undefined;
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
  /** The history shown first has ended (`shown` lines): a line to print below it, if any. */
  historyEnd?(shown: number): string;
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
          'Print one JSON object per line (type, room, from, message or notice, event, action, ts, id, seq, key, trust, mine, late, recovered, history)',
      },
      count: {
        type: 'number',
        describe:
          'Exit 0 after this many live chat messages (notices and history lines do not count)',
      },
      timeout: {
        type: 'number',
        value: 'SECONDS',
        describe: 'Exit 0 after this many seconds without a chat message (like mosquitto_sub -W)',
      },
      since: {
        type: 'string',
        value: 'WHEN',
        describe:
          "First print the room's history since then (10m, 2h, 1h30m, 3d, or an ISO 8601 time such as 2026-12-05T09:30), then live; with --last, the last N since then",
      },
      last: {
        type: 'number',
        value: 'N',
        describe:
          'First print the last N messages of the room\'s history, with the N newest joins and leaves (marked (earlier); --json: "history": true), then live',
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
/** How long leaving may take, from the stop to the leave notice acknowledged (Ctrl-C ends within 2 s). */
const LEAVE_TIMEOUT_MS = 800;
/** How long the database may take to drop our membership on the way out (the lease ends anyway). */
const EXIT_DB_TIMEOUT_MS = 800;
/** On the way out, how long what is left of the room's history may take to be written. */
const HISTORY_EXIT_MS = 2000;

function checkCount(count: number | undefined): void {
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw new UsageError('--count must be a whole number of messages, 1 or more');
  }
}

/** The longest `--since` span: no room keeps history longer than this. */
const MAX_SINCE_DAYS = 366;
const SPAN_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** An ISO 8601 date, with a time of day and a zone if given. */
const ISO_TIME =
  /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;
/** How far ahead of our clock a --since time may be (another machine's clock). */
const SINCE_AHEAD_MS = 120_000;

/** The time `--since` names (ms since the epoch), or a usage error that says how to write it. */
export function parseSince(text: string, now = Date.now()): number {
  const how = `--since takes a time span (10m, 2h, 3d: at most ${MAX_SINCE_DAYS}d) or an ISO 8601 time (2026-12-05T09:30), not "${text}"`;
  const tooOld = `--since ${text} is more than ${MAX_SINCE_DAYS} days back: no room keeps history that long`;
  // A span as `room create --history` takes one: 10m, 2h, 1h30m, 3d.
  const seconds = ISO_TIME.test(text) ? undefined : parseDuration(text);
  if (seconds !== undefined) {
    const ms = seconds * 1000;
    if (ms <= 0) throw new UsageError(how);
    if (ms > MAX_SINCE_DAYS * SPAN_UNITS.d!) throw new UsageError(tooOld);
    return now - ms;
  }
  if (!ISO_TIME.test(text)) throw new UsageError(how);
  const time = Date.parse(text.replace(' ', 'T'));
  if (!Number.isFinite(time)) throw new UsageError(how);
  if (time < now - MAX_SINCE_DAYS * SPAN_UNITS.d!) throw new UsageError(tooOld);
  if (time > now + SINCE_AHEAD_MS)
    throw new UsageError(`--since ${text} is in the future: give a time before now`);
  return time;
}

function checkHistoryFlags(options: ListenOptions): number | undefined {
  const { last } = options;
  if (last !== undefined && (!Number.isInteger(last) || last < 1 || last > READ_LIMITS.payloads))
    throw new UsageError(`--last must be a whole number of messages, 1 to ${READ_LIMITS.payloads}`);
  const since = options.since === undefined ? undefined : parseSince(options.since);
  if (options.topic !== undefined && (since !== undefined || last !== undefined))
    throw new UsageError(
      `${since !== undefined ? '--since' : '--last'} reads a room's history in the registry: a raw topic (--topic) has none`,
    );
  return since;
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
/**
 * After a reconnect, how long a sender that was mid-stream may stay silent before we say so: past
 * the room window's second sending of what it typed meanwhile (SETTLE_MS after its reconnect), so
 * that a line that arrives only then counts, and some more for that line to arrive.
 */
const SILENT_AFTER_RECONNECT_MS = SETTLE_MS + 5000;
/** A sender quiet this long when that time is up has stopped (or lost what it sent). */
const QUIET_MS = 5000;
/**
 * How many numbers past the last one heard are looked up in the room's history for a stream gone
 * quiet across a reconnect (one bounded query whatever the number).
 */
const QUIET_LOOKUP_SPAN = 100_000;

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
      roomFile(pinsPath(home, store, room)),
      { name: ctx.config.name, publicKey: identity.signer.publicKey },
      warn,
    ),
    replay: new ReplayGuard(roomFile(seenPath(home, store, room)), startedAt, warn),
  };
}

/** What a reconnect found, for `reportSilentStreams`. */
interface Reconnect {
  /** When the connection was lost and when it was back (ms since the epoch). */
  lostAt: number;
  backAt: number;
  /** The broker kept our session: what it held for us comes first, as a backlog. */
  sessionKept: boolean;
  /** Our own stream (`key/sender`): the room window follows its own lines (see echoes.ts). */
  own: string;
}

/**
 * After a reconnect: a sender whose stream is open (it sent messages and no end marker) and that
 * went quiet across the reconnect may have sent lines that the broker lost: one that was
 * mid-stream when the connection went, or one whose first lines came from a session the broker
 * restored after a crash (a crash loses the end of what it held). Say so, once per reconnect.
 * Not of a stream heard from since: after a broker that lost our session, anything that arrives
 * was sent after the reconnect; with a kept session the backlog comes first, so only a stream
 * heard from in the last QUIET_MS. Never of our own stream.
 */
function reportSilentStreams(
  inbox: Inbox,
  back: Reconnect,
  report: (line: string) => void,
  timers: NodeJS.Timeout[],
): void {
  const timer = setTimeout(() => {
    // Without a session nothing arrives between the loss and the reconnect: a stream heard from
    // since the loss was heard after the reconnect (the reconnect's own callback may come after
    // the first messages of the new subscription).
    const heardSince = back.sessionKept ? Date.now() - QUIET_MS : back.lostAt;
    for (const s of inbox.openStreams()) {
      if (s.stream === back.own || s.at >= heardSince) continue;
      const silent = (): void =>
        report(
          `nothing more arrived from ${s.name} after the connection was lost at ${clockTime(new Date(back.lostAt))} ` +
            `(last message seq ${s.seq} at ${clockTime(new Date(s.at))}, and no end of its stream); if ${s.name} sent more meanwhile, the broker lost it`,
        );
      // With a room history: what it sent past the last line heard is looked up first.
      if (!inbox.recoverQuiet(s.stream, QUIET_LOOKUP_SPAN, silent)) silent();
    }
  }, SILENT_AFTER_RECONNECT_MS);
  timer.unref();
  timers.push(timer);
}

/** Listens until interrupted (`signal`), until `--count` messages, or until the room closes. */
export async function listen(
  given: CommandContext,
  options: ListenOptions,
  signal: AbortSignal,
  window?: ListenerWindow,
): Promise<void> {
  checkTargetFlags(options);
  const sinceMs = checkHistoryFlags(options);
  // A remembered room: the registry and broker it was joined with, unless others are given.
  const ctx = roomContext(given, options.room);
  checkCount(options.count);
  checkTimeout(options.timeout);
  const settings = brokerSettings(ctx.config);
  const name = ctx.config.name;
  let store: RoomStore | undefined;
  let presence: Presence | undefined;
  let client: ChatConnection | undefined;
  let claimed: ClaimedId | undefined;
  let history: Running['history'];
  const timers: NodeJS.Timeout[] = [];
  try {
    let target: ChatTarget;
    if (options.room !== undefined) {
      store = await openRegistry(ctx, { room: options.room });
      target = await roomTarget(ctx, store, options.room, options);
      const signer = target.identity?.signer;
      const member = await store.addMember(options.room, name, ctx.config.lease, signer);
      presence = new Presence(store, options.room, name, ctx.config.lease, member, signer);
      const plan = historyPlan(options, target, sinceMs);
      if (plan) {
        const held = new Held(Date.now());
        history = {
          plan,
          held,
          first: firstHistoryRead(plan, store, target, held),
          startedAt: held.sinceMs,
        };
      }
    } else {
      target = rawTarget(options.topic!);
    }
    // MQTT.js loads only once there is something to listen to: not for --help or a usage error.
    const { openConnection, publishAcked, randomClientId } = await import('../mqtt/connection.js');
    const { joinChat } = await import('../conversation/announce.js');
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
      sinceMs,
      history,
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
  /** `--since`, as a time (ms since the epoch). */
  sinceMs: number | undefined;
  /**
   * The history asked for, and its first read: started as soon as the room is known, while the
   * broker connection is made (the seam's second read takes what is stored meanwhile).
   */
  history:
    | {
        plan: HistoryPlan;
        /** What arrives live meanwhile, held until the history is shown. */
        held: Held;
        first: Promise<HistoryRead | Error>;
        startedAt: number;
      }
    | undefined;
}

/** The history to show first, if any is asked for and the room keeps it. */
function historyPlan(
  options: ListenOptions,
  target: ChatTarget,
  sinceMs: number | undefined,
): HistoryPlan | undefined {
  const last = options.last ?? options.openingScreen;
  if (sinceMs === undefined && last === undefined) return undefined;
  if (!keepsHistory(target)) return undefined;
  return { sinceMs, last };
}

/**
 * Live payloads held while the history is shown, bounded: past the bound, live goes on. A row of
 * history is the payload as the broker carried it, so one held here is known by its bytes: the
 * history passes it over, and it shows as live (said as the listener started, not before).
 */
class Held {
  private readonly held: [Buffer, boolean][] = [];
  /** Only rows signed from then on are left to their live copy (see HistoryRequest.live). */
  constructor(readonly sinceMs: number) {}

  private readonly digests = new Set<string>();
  private bytes = 0;

  /** Holds one; false when the bound is reached (it is not held). */
  add(raw: Buffer, retained: boolean): boolean {
    if (this.held.length >= MAX_HELD || this.bytes + raw.length > MAX_HELD_BYTES) return false;
    this.held.push([raw, retained]);
    this.digests.add(digest(raw));
    this.bytes += raw.length;
    return true;
  }

  /** Whether `payload` arrived live (and is held). */
  has(payload: Buffer): boolean {
    return this.digests.size > 0 && this.digests.has(digest(payload));
  }

  take(): [Buffer, boolean][] {
    this.digests.clear();
    return this.held.splice(0);
  }
}

function digest(payload: Buffer): string {
  return createHash('sha256').update(payload).digest('base64');
}

/** Most live payloads (and their bytes) held while the history is read and shown. */
const MAX_HELD = 100_000;
const MAX_HELD_BYTES = 64 * 1024 * 1024;
/** What the catch-up after the broker lost our session reads at most. */
const CATCH_UP_LIMITS = { payloads: 20_000, bytes: 16 * 1024 * 1024 };

/** One read of the room's history, bounded in time: what it read, or why it could not. */
function boundedRead(
  store: RoomStore,
  target: ChatTarget,
  request: HistoryRequest,
  limits = READ_LIMITS,
): Promise<HistoryRead | Error> {
  return boundedReading(readHistory(store, target.room!, target.codec, request, limits));
}

/** The first read of the history `plan` asks for (started before the broker connection). */
function firstHistoryRead(
  plan: HistoryPlan,
  store: RoomStore,
  target: ChatTarget,
  held: Held,
): Promise<HistoryRead | Error> {
  return boundedRead(store, target, { sinceMs: plan.sinceMs, last: plan.last, live: held });
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
  // Once stopping, nothing found later is shown.
  let over = false;
  const stop = (reason: Reason): void => {
    over = true;
    stopWith?.(reason);
  };
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
  // Rooms that keep a history only (never plain rooms or raw topics).
  const historyRoom = target.room;
  const recovery =
    store && historyRoom !== undefined && keepsHistory(target)
      ? new Recovery({
          rows: (query) => store.readHistory(historyRoom, query),
          open: rowsOpener(target.codec),
          warn: (line) => warnings.warn(line),
        })
      : undefined;
  /** Our own leave notice, once sent: told when it has come round and been shown. */
  let ownLeave: { id: string; shown: () => void } | undefined;
  const inbox = new Inbox(
    {
      topic: target.topic,
      codec: target.codec,
      joinId: joinId.id,
      count: options.count,
      senders,
      replay,
      recovery,
    },
    {
      show: (payload, at, how) => {
        const line = options.json
          ? jsonLine(payload, at, how, where)
          : window
            ? window.render(payload, at, how)
            : wrapToWidth(humanLine(payload, colour, at, how), width(stdout));
        const closing = payload.type === 'notice' && payload.event === 'closed';
        // A "closed" notice of the history is old news: shown as it is, nothing waits on it.
        if (closing && !how.ownWords && !how.history && store && target.room) held = line;
        else out.write(line);
        if (payload.type === 'message') quiet?.refresh();
        if (ownLeave !== undefined && payload.id === ownLeave.id) ownLeave.shown();
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
  // History first: what arrives live is held while the history is read and shown, then handed
  // to the inbox, which drops what the history showed.
  const asked = run.history;
  let heldBack: Held | undefined = asked?.held;
  const goLive = (): void => {
    const held = heldBack;
    heldBack = undefined;
    for (const [raw, retained] of held?.take() ?? []) inbox.receive(raw, retained);
  };
  client.onMessage = (_topic, raw, retained) => {
    if (heldBack?.add(raw, retained)) return;
    if (heldBack) {
      warnings.report(
        'live messages came faster than the history could be read: showing them, the rest of the history left out',
      );
      goLive();
    }
    inbox.receive(raw, retained);
  };
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
    const back: Reconnect = {
      lostAt: since,
      backAt: Date.now(),
      sessionKept: client.sessionPresent,
      own: `${target.identity?.signer.publicKey.toString('base64url') ?? 'plain'}/${sender.id}`,
    };
    reportSilentStreams(inbox, back, (line) => warnings.report(line), run.timers);
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
  client.onSessionLost = () => {
    const away = "the broker lost this listener's session while it was away";
    if (!recovery || !store || target.room === undefined) {
      warnings.report(`${away}: messages sent meanwhile may be missing`);
      return;
    }
    // In a room that keeps history, what was sent meanwhile is read there, once senders have
    // stored it (as a gap is): every stream, also one that began and ended while we were away.
    const since = Math.max(run.startedAt, (lostAt ?? Date.now()) - CATCH_UP_MARGIN_MS);
    const later = setTimeout(() => {
      void catchUp(
        boundedRead(store, target, { writtenSinceMs: since }, CATCH_UP_LIMITS),
        away,
        inbox,
        { over: () => over, report: (line) => warnings.report(line) },
      );
    }, RECOVERY_WAIT_MS);
    run.timers.push(later);
  };
  client.onFatal = (err) => {
    fatal = err;
    stop('fatal');
  };

  keepHeapSmall();
  // What we send to the room (notices, and the window's lines) is kept in its history.
  const history = historyWriter(store, target, (message) => warnings.report(message));
  const joined = await joinChat(client, target, joinId, JOIN_ACK_TIMEOUT_MS);
  history?.acked(joined, [joinId]);
  history?.start();
  if (asked && store) {
    const shown = await Promise.race([
      showHistory(asked, target.room!, (request) => boundedRead(store, target, request), inbox, {
        live: () => heldBack === undefined,
        nextTurn: () => new Promise((resolve) => setImmediate(resolve)),
        warn: (line) => warnings.report(line),
        // The window opens with a screenful and asks for nothing: no --last to explain.
        note: (line) => {
          if (window) return;
          out.flush();
          stderr.write(wrapToWidth(`${line}\n`, width(stderr)));
        },
      }),
      stopped.then(() => 0),
    ]);
    const divider = window?.historyEnd?.(shown);
    if (divider) out.write(divider);
    // The history is on the screen before anything else is said (the window's own lines).
    out.flush();
    goLive();
  } else if (options.since !== undefined || options.last !== undefined) {
    warnings.warn(
      `room ${target.room} keeps no history (${target.identity ? 'made with --history 0, or before rooms kept any' : 'a plain room'}): showing live messages only`,
    );
  }
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
    history,
    leave: () => stop('signal'),
    say: (line) => {
      out.flush();
      stderr.write(line);
    },
  });

  const reason = await stopped;
  // The leave notice's time counts from here: a room window's own goodbye (what was typed, sent
  // and acknowledged, up to 0.5 s) comes out of it, so that one Ctrl-C ends within 2 s with
  // room to spare on a busy machine even when the broker has stopped answering.
  const leaving = Date.now();
  await window?.finish();
  // Gaps still waiting for their lookup are reported now, as without history.
  recovery?.close();
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
  const sayGoodbye = async (): Promise<void> => {
    const leave = sender.notice('leave', target.topic, target.room);
    const payload = target.codec.encode(leave);
    // Its own leave notice is the last line a listener prints: it waits for it to come round
    // (within the leave's bound), not only for the broker's acknowledgement.
    const cameRound = new Promise<void>(
      (resolve) => (ownLeave = { id: leave.id!, shown: resolve }),
    );
    await publishAcked(client, target.topic, payload);
    history?.acked(payload, [leave]);
    if (reason !== 'output') await cameRound;
  };
  const goodbye =
    reason === 'signal' || reason === 'count' || reason === 'timeout' || reason === 'output'
      ? withTimeout(sayGoodbye(), Math.max(0, leaving + LEAVE_TIMEOUT_MS - Date.now()))
      : Promise.resolve();
  // After Ctrl-C, the history shares the leave notice's time: one Ctrl-C ends within 2 s.
  const kept = goodbye.then(() =>
    history?.close(reason === 'signal' ? leaving + LEAVE_TIMEOUT_MS - Date.now() : HISTORY_EXIT_MS),
  );
  await Promise.all([leaveRegistry, kept]);
  if (reason === 'fatal') throw fatal!;
}
