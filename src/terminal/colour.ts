/**
 * Colour for a stream, written by chalk under sunoye's policy: only on a terminal (not
 * TERM=dumb), never with NO_COLOR, and as FORCE_COLOR says when it is set. sunoye decides the
 * level from the stream and environment it is given and hands it to chalk, which would otherwise
 * look at the process's own (and ignore NO_COLOR).
 */
import { Chalk, type ColorSupportLevel } from 'chalk';

const STYLES = [
  'red',
  'green',
  'yellow',
  'blue',
  'magenta',
  'cyan',
  'gray',
  'greenBright',
  'cyanBright',
  'magentaBright',
  'blueBright',
  'bold',
  'dim',
] as const;

export type Style = (typeof STYLES)[number];

/** Functions that wrap text in a style, or return it as it is when colour is off. */
export type Colour = Readonly<Record<Style, (text: string) => string>> & { enabled: boolean };

function atLevel(level: ColorSupportLevel): Colour {
  const chalk = new Chalk({ level });
  const colour: Record<string, unknown> = { enabled: level > 0 };
  for (const style of STYLES) colour[style] = chalk[style];
  return colour as Colour;
}

/** Styles on or off. */
export function colours(enabled: boolean): Colour {
  return atLevel(enabled ? 1 : 0);
}

/** The chalk level FORCE_COLOR asks for: off for `0`/`false`, else 1 unless it names 2 or 3. */
function forcedLevel(value: string): ColorSupportLevel {
  if (value === '0' || value === 'false') return 0;
  const level = Number.parseInt(value, 10);
  return level >= 2 ? (Math.min(level, 3) as ColorSupportLevel) : 1;
}

/** The colours for writing to `stream` under environment `env`. */
export function colourFor(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined>,
): Colour {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return atLevel(0);
  if (env.FORCE_COLOR !== undefined) return atLevel(forcedLevel(env.FORCE_COLOR));
  return atLevel(stream.isTTY === true && env.TERM !== 'dumb' ? 1 : 0);
}
