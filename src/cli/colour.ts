/**
 * Colour for a stream: only on a terminal (not TERM=dumb), never with NO_COLOR, and as
 * FORCE_COLOR says when it is set. A handful of ANSI styles is all sunoye prints, so they are
 * written here rather than loaded from a library at every start.
 */

const STYLES = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
  greenBright: [92, 39],
  cyanBright: [96, 39],
  bold: [1, 22],
  dim: [2, 22],
} as const;

export type Style = keyof typeof STYLES;

/** Functions that wrap text in a style, or return it as it is when colour is off. */
export type Colour = Readonly<Record<Style, (text: string) => string>> & { enabled: boolean };

/** Styles on or off. */
export function colours(enabled: boolean): Colour {
  const colour: Record<string, unknown> = { enabled };
  for (const [name, [open, close]] of Object.entries(STYLES)) {
    colour[name] = enabled
      ? (text: string) => `\u001b[${open}m${text}\u001b[${close}m`
      : (text: string) => text;
  }
  return colour as Colour;
}

/** The colours for writing to `stream` under environment `env`. */
export function colourFor(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined>,
): Colour {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return colours(false);
  const forced = env.FORCE_COLOR;
  if (forced !== undefined) return colours(forced !== '0' && forced !== 'false');
  return colours(stream.isTTY === true && env.TERM !== 'dumb');
}
