/**
 * Where `listen` and `publish` chat: a registry room (its topic, and its codec from the room's
 * mode and key), or a raw topic in MQTT-Chat's plain JSON, without the registry.
 */
import type { CommandContext } from './context.js';
import { checkRoomArg, unlockRoom, type PasswordFlags } from './room-access.js';
import type { HistoryRetention, RoomStore } from '../db/index.js';
import { UsageError } from '../errors.js';
import { loadIdentity, type Identity } from '../home/identity.js';
import { checkTopic, roomTopic } from '../mqtt/topics.js';
import { plainCodec, roomCodec, type RoomCodec } from '../protocol/index.js';

/** The chat's topic and wire format; `room` is undefined for a raw topic. */
export interface ChatTarget {
  topic: string;
  codec: RoomCodec;
  room: string | undefined;
  /** The registry's password-free label (a registry room only). */
  store: string | undefined;
  /** Our signing identity (an encrypted room only: plain rooms are unsigned). */
  identity: Identity | undefined;
  /** What the room keeps of its history, as its record says (a registry room only). */
  history?: HistoryRetention | undefined;
}

/** What the command line said about where to chat. */
export interface TargetFlags extends PasswordFlags {
  room?: string | undefined;
  topic?: string | undefined;
  plain: boolean;
}

/** Checks the room/topic flags before anything is opened. */
export function checkTargetFlags(flags: TargetFlags): void {
  if (flags.topic !== undefined) {
    if (flags.room !== undefined) throw new UsageError('give a room number or --topic, not both');
    if (!flags.plain) {
      throw new UsageError("--topic needs --plain: raw topics carry MQTT-Chat's unencrypted JSON");
    }
    checkTopic(flags.topic);
    return;
  }
  if (flags.room === undefined)
    throw new UsageError('name a room number (or --topic T --plain for a raw topic)');
  checkRoomArg(flags.room);
}

/** A raw topic target (no registry). */
export function rawTarget(topic: string): ChatTarget {
  return {
    topic: checkTopic(topic),
    codec: plainCodec(),
    room: undefined,
    store: undefined,
    identity: undefined,
  };
}

/**
 * A registry room target: the room must exist and be open, and the user must prove the right to
 * it (remembered secret or password).
 */
export async function roomTarget(
  ctx: CommandContext,
  store: RoomStore,
  room: string,
  flags: PasswordFlags,
): Promise<ChatTarget> {
  const { secret, mode, status } = await unlockRoom(ctx, store, room, flags, {
    useRemembered: true,
    touch: false,
    refuseClosed: true,
  });
  const identity = mode === 'encrypted' ? loadIdentity(ctx.config.home) : undefined;
  const codec = roomCodec(room, mode, secret, identity?.signer);
  return {
    topic: roomTopic(ctx.config.topicPrefix, room),
    codec,
    room,
    store: store.label,
    identity,
    history: status.room.history,
  };
}
