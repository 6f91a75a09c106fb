/** What every command receives: the resolved configuration and its streams, injected for tests. */
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config/config.js';
import { openStore, RegistryNotFoundError, type RoomStore } from '../db/index.js';
import { jsonText } from '../protocol/sanitise.js';
import { inOwnRegistry, notInOwnRegistry } from './sharing.js';

/** The streams a command talks through. */
export interface Io {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** `columns`: a terminal's width, where sunoye breaks long lines itself (wrap.ts). */
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
}

/** A command's environment. */
export interface CommandContext {
  config: Config;
  io: Io;
}

/** How a command opens the registry: `create` (`room create` only), and the room it is for. */
export interface OpenOptions {
  create?: boolean;
  room?: string | undefined;
}

/**
 * Opens the configured registry; only with `create` is a registry made where there is none. The
 * user's own default registry, not made yet (no `room create` yet), is refused as having no such room.
 */
export async function openRegistry(
  ctx: CommandContext,
  options: OpenOptions = {},
): Promise<RoomStore> {
  try {
    return await openStore(ctx.config.db, { create: options.create ?? false });
  } catch (err) {
    if (err instanceof RegistryNotFoundError && inOwnRegistry(ctx.config, ctx.io.env))
      throw notInOwnRegistry(err.registry, options.room);
    throw err;
  }
}

/** Opens the configured registry (see `openRegistry`), runs `fn`, and always closes it. */
export async function withStore<T>(
  ctx: CommandContext,
  fn: (store: RoomStore) => Promise<T>,
  options: OpenOptions = {},
): Promise<T> {
  const store = await openRegistry(ctx, options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Writes one JSON document on stdout, its strings shown as in human output (see `jsonText`). */
export function writeJson(io: Io, value: unknown): void {
  io.stdout.write(`${jsonText(value)}\n`);
}
