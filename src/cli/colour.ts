/** Colour for a stream: only on a terminal, never with NO_COLOR, always with FORCE_COLOR. */
import { Chalk, supportsColor, type ChalkInstance } from 'chalk';

/** A chalk instance for writing to `stream` under environment `env`. */
export function colourFor(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined>,
): ChalkInstance {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return new Chalk({ level: 0 });
  const forced = env.FORCE_COLOR !== undefined;
  if (!forced && !stream.isTTY) return new Chalk({ level: 0 });
  return new Chalk({ level: supportsColor ? supportsColor.level : forced ? 1 : 0 });
}
