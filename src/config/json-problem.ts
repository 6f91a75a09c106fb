/**
 * Where a JSON text is broken, as line and column, with what is wrong there: for a config file
 * a person edits. JSON.parse knows the place but says it differently by Node version ("at
 * position 18", "(line 3 column 5)", or, for an unexpected character, only the character); the
 * place is taken from the message where it is given, and found where it is not. The message
 * never quotes the text, which may hold a password.
 */

/** Line and column (from 1) of the character at `offset` of `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

const END_OF_INPUT = /unexpected end of json input/i;

/** What `JSON.parse` says of `text`, or undefined when it parses. */
function parseError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A message of JSON.parse without the text it quotes (`Unexpected token 'x', "..." is not…`). */
function withoutQuote(message: string): string {
  return message.replace(/, (?:\.\.\.)?"[\s\S]*$/, '');
}

/**
 * The offset of the character JSON.parse stumbled on, for a message that does not say: the
 * shortest start of the text that fails with the same message ends with it (a start that ends
 * before it fails otherwise, by ending too soon).
 */
function searchOffset(text: string, message: string): number {
  const same = withoutQuote(message);
  const stumbles = (length: number): boolean => {
    const failed = parseError(text.slice(0, length));
    return failed !== undefined && withoutQuote(failed) === same;
  };
  let low = 0; // does not stumble there (nothing read yet)
  let high = text.length; // stumbles there
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (stumbles(mid)) high = mid;
    else low = mid;
  }
  return high - 1;
}

/**
 * Why `text` (which JSON.parse refused with `message`) is not valid JSON: what is wrong, at
 * `line L, column C`. Node's wording is kept, lower-cased, without the text it quotes.
 */
export function jsonProblem(text: string, message: string): string {
  let place: { line: number; column: number };
  const said = /\(?line (\d+) column (\d+)\)?/i.exec(message);
  const at = /at position (\d+)/i.exec(message);
  if (said) place = { line: Number(said[1]), column: Number(said[2]) };
  else if (at) place = lineAndColumn(text, Number(at[1]));
  else if (END_OF_INPUT.test(message)) place = lineAndColumn(text, text.length);
  else place = lineAndColumn(text, searchOffset(text, message));
  const what = END_OF_INPUT.test(message)
    ? 'the text ends too soon'
    : withoutQuote(message)
        .replace(/\s*\(?line \d+ column \d+\)?/i, '')
        .replace(/\s*(in JSON )?at position \d+/i, '')
        .trim();
  const words = what === '' ? 'not valid JSON' : what.charAt(0).toLowerCase() + what.slice(1);
  return `${words} at line ${place.line}, column ${place.column}`;
}
