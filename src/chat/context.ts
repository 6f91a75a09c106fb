/** What every command receives: the resolved configuration and its streams, injected for tests. */
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config/config.js';
import { openStore, type RoomStore } from '../db/index.js';
import { jsonText } from './sanitise.js';

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

/** Opens the configured registry, runs `fn`, and always closes it. */
export async function withStore<T>(
  ctx: CommandContext,
  fn: (store: RoomStore) => Promise<T>,
): Promise<T> {
  const store = await openStore(ctx.config.db);
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
