/**
 * `listen`: subscribe to a room and print the conversation. A running listener is a live member
 * of the room (a heartbeat lease in the registry) and has a last will, so a crash is noticed.
 */
import { colourFor } from '../chat/colour.js';
import { keepYoungGenerationSmall } from '../cli/heap.js';
import { LineBatcher } from '../chat/output.js';
import { humanLine, jsonLine, WarningLimiter } from '../chat/render.js';
import { Sender } from '../chat/sender.js';
import {
  checkTargetFlags,
  rawTarget,
  roomTarget,
  type ChatTarget,
  type TargetFlags,
} from '../chat/target.js';
import { RecentIds, SeenSequences, senderOf, SequenceTracker } from '../chat/tracker.js';
import { openStore, type Member, type RoomStore } from '../db/index.js';
import type { SunoyeError } from '../errors.js';
import { UnavailableError, UsageError } from '../errors.js';
import { aclRefusal, isNotAuthorized } from '../mqtt/topics.js';
import {
  openConnection,
  publishAcked,
  randomClientId,
  type ChatConnection,
} from '../mqtt/connection.js';
import { brokerSettings } from '../config/broker.js';
import type { ChatPayload } from '../protocol/index.js';
import type { CommandContext } from '../chat/context.js';

export interface ListenOptions extends TargetFlags {
  json: boolean;
  count?: number | undefined;
}

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

/** Listens until interrupted (`signal`), until `--count` messages, or until the room closes. */
export async function listen(
  ctx: CommandContext,
  options: ListenOptions,
  signal: AbortSignal,
): Promise<void> {
  checkTargetFlags(options);
  checkCount(options.count);
  const settings = brokerSettings(ctx.config);
  const name = ctx.config.name;
  let store: RoomStore | undefined;
  let member: Member | undefined;
  let client: ChatConnection | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    let target: ChatTarget;
    if (options.room !== undefined) {
      store = await openStore(ctx.config.db);
      target = await roomTarget(ctx, store, options.room, options);
      member = await store.addMember(options.room, name, ctx.config.keepalive);
    } else {
      target = rawTarget(options.topic!);
    }
    const sender = new Sender(name);
    const will = target.codec.encode(sender.notice('lost', target.topic, target.room));
    client = await openConnection(settings, {
      clientId: randomClientId('l'),
      clean: false,
      will: { topic: target.topic, payload: will },
      signal,
    });
    await runListener(ctx, options, signal, { client, target, sender, store, member, timers });
    member = undefined; // runListener removed it
    await client.end({ endSession: true });
    client = undefined;
  } finally {
    for (const t of timers) clearInterval(t);
    client?.destroy();
    if (store && member) await withTimeout(store.removeMember(member.id), EXIT_DB_TIMEOUT_MS);
    await withTimeout(store?.close() ?? Promise.resolve(), EXIT_DB_TIMEOUT_MS);
  }
}

interface Running {
  client: ChatConnection;
  target: ChatTarget;
  sender: Sender;
  store: RoomStore | undefined;
  member: Member | undefined;
  timers: NodeJS.Timeout[];
}

async function runListener(
  ctx: CommandContext,
  options: ListenOptions,
  signal: AbortSignal,
  run: Running,
): Promise<void> {
  const { client, target, sender, store } = run;
  const { stdout, stderr } = ctx.io;
  const colour = colourFor(stdout, ctx.io.env);
  // A reader that cannot keep up pauses the subscription rather than filling memory.
  const out = new LineBatcher(stdout, client);
  // Printed lines go out first, so warnings keep their place in the conversation.
  const warnings = new WarningLimiter((line) => {
    out.flush();
    stderr.write(line);
  });
  const seen = new RecentIds(); // payloads with an id and no seq
  const seenSeq = new SeenSequences(); // sunoye's payloads: id and seq
  const sequences = new SequenceTracker();
  let member = run.member;
  let messages = 0;
  let joined = false;
  const held: { payload: ChatPayload; at: Date }[] = [];
  type Reason = 'signal' | 'count' | 'closed' | 'fatal';
  let stopWith: ((reason: Reason) => void) | undefined;
  const stopped = new Promise<Reason>((resolve) => (stopWith = resolve));
  const stop = (reason: Reason): void => stopWith?.(reason);
  let fatal: SunoyeError | undefined;
  if (signal.aborted) stop('signal');
  signal.addEventListener('abort', () => stop('signal'), { once: true });

  const show = (payload: ChatPayload, at: Date): void => {
    // --count reached: nothing more is shown (a batch may hold more than was asked for).
    if (options.count !== undefined && messages >= options.count) return;
    out.write(
      options.json ? jsonLine(payload, at) : humanLine(payload, ctx.config.name, colour, at),
    );
    if (payload.type === 'message') {
      messages += 1;
      if (options.count !== undefined && messages >= options.count) stop('count');
    }
  };
  const flushHeld = (): void => {
    joined = true;
    for (const h of held.splice(0)) show(h.payload, h.at);
  };
  const joinId = sender.notice('join', target.topic, target.room);

  const onClosedNotice = async (): Promise<void> => {
    if (!store || !target.room) return;
    const status = await store.status(target.room).catch(() => undefined);
    if (status?.room.state === 'closed') stop('closed');
    else warnings.warn(`ignored a "closed" notice for room ${target.room}, which is still open`);
  };

  const handle = (payload: ChatPayload, at: Date): void => {
    if (payload.id !== undefined) {
      const isNew =
        payload.seq !== undefined
          ? seenSeq.add(senderOf(payload.id), payload.seq)
          : seen.add(payload.id);
      if (!isNew) return;
    }
    if (payload.id !== undefined && payload.seq !== undefined) {
      const gap = sequences.note(senderOf(payload.id), payload.seq);
      if (gap) {
        const n = gap.to - gap.from + 1;
        warnings.warn(
          `${n} message${n === 1 ? '' : 's'} from ${payload.from} did not arrive (seq ${gap.from}-${gap.to})`,
        );
      }
    }
    if (!joined) {
      if (payload.id === joinId.id) {
        show(payload, at);
        flushHeld();
      } else held.push({ payload, at });
      return;
    }
    show(payload, at);
    if (payload.type === 'notice' && payload.event === 'closed') void onClosedNotice();
  };
  client.onMessage = (_topic, raw) => {
    const decoded = target.codec.decodeAll(raw);
    if (!decoded.ok) {
      warnings.warn(`ignored a payload on ${target.topic}: ${decoded.reason}`);
      return;
    }
    const at = new Date();
    for (const payload of decoded.payloads) handle(payload, at);
  };
  client.onOffline = () => warnings.warn(`lost the broker connection; reconnecting`);
  client.onSessionLost = () =>
    warnings.warn(
      "the broker lost this listener's session while it was away: messages sent meanwhile may be missing",
    );
  client.onFatal = (err) => {
    fatal = err;
    stop('fatal');
  };

  keepYoungGenerationSmall();
  const granted = await client.subscribe(target.topic);
  if (granted.some((code) => code > 2)) throw aclRefusal(target.topic);
  try {
    await withDeadline(
      publishAcked(client, target.topic, target.codec.encode(joinId)),
      JOIN_ACK_TIMEOUT_MS,
      () =>
        new UnavailableError(
          `the broker did not acknowledge our join notice within ${JOIN_ACK_TIMEOUT_MS / 1000} s`,
        ),
    );
  } catch (err) {
    if (isNotAuthorized(err)) throw aclRefusal(target.topic);
    if ((err as { code?: unknown }).code === 0x95)
      throw new UnavailableError(`cannot send our join notice: ${(err as Error).message}`);
    throw err;
  }
  const echo = setTimeout(() => {
    if (joined) return;
    warnings.warn(
      `the broker did not deliver our join notice; it may deny publishing to ${target.topic}`,
    );
    flushHeld();
  }, JOIN_ECHO_TIMEOUT_MS);
  run.timers.push(echo);

  // The presence heartbeat: one at a time, and none once the listener is stopping.
  let beating: Promise<void> = Promise.resolve();
  let leaving = false;
  let beatTimer: NodeJS.Timeout | undefined;
  if (store && member && target.room) {
    const room = target.room;
    let failing = false;
    const beat = async (): Promise<void> => {
      if (leaving) return;
      try {
        if (await store.heartbeat(member!.id)) {
          if (failing) stderr.write('database reachable again: presence renewed\n');
          failing = false;
          return;
        }
        const status = await store.status(room);
        if (!status || status.room.state === 'closed') return stop('closed');
        if (leaving) return;
        member = await store.addMember(room, ctx.config.name, ctx.config.keepalive);
        failing = false;
      } catch (err) {
        if (!failing)
          warnings.warn(
            `cannot renew presence in the database (${(err as Error).message}); the chat goes on`,
          );
        failing = true;
      }
    };
    beatTimer = setInterval(
      () => {
        beating = beating.then(beat);
      },
      Math.max(250, (ctx.config.keepalive * 1000) / 3),
    );
    run.timers.push(beatTimer);
  }

  const reason = await stopped;
  out.flush();
  leaving = true;
  clearInterval(beatTimer);
  warnings.flush();
  clearTimeout(echo);
  if (!joined) flushHeld();
  out.flush();
  // The database and the broker are told at once, each within its own bound: one Ctrl-C ends
  // the program within 2 s even when either has stopped answering.
  const leaveRegistry = withTimeout(
    beating.then(async () => {
      if (store && member) await store.removeMember(member.id);
    }),
    EXIT_DB_TIMEOUT_MS,
  );
  if (reason === 'closed') stderr.write(`room ${target.room} was closed\n`);
  const goodbye =
    reason === 'signal' || reason === 'count'
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

/** Waits for `promise` at most `ms`, or throws what `late` makes. */
async function withDeadline<T>(promise: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(late()), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `promise` at most `ms`; a late or failed promise is not an error here. */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}
