/**
 * Usage errors of the three programs in sunoye's words: what yargs reports about a command line
 * becomes one line that names the flag, suggests the nearest name or says where help is.
 */
import { SunoyeError, UsageError } from '../errors.js';
import type { Command, OptionSpec, Program } from './args.js';

/** Where a command line is being parsed: the program, and the command once it is known. */
export interface Scope {
  readonly program: Program;
  /** The command being parsed; none while a program of several has not found its command. */
  readonly command: Command | undefined;
  readonly argv: readonly string[];
}

/** yargs' own options, and their one-letter names. */
const HELP_OPTIONS = { help: 'h', version: undefined } as const;

/** What the options of a scope are, by every name they are given as. */
function optionsOf(scope: Scope): Map<string, { key: string; spec: OptionSpec }> {
  const specs = scope.command?.options ?? scope.program.options ?? {};
  const byName = new Map<string, { key: string; spec: OptionSpec }>();
  for (const [key, spec] of Object.entries(specs)) {
    byName.set(key, { key, spec });
    if (spec.alias) byName.set(spec.alias, { key, spec });
  }
  for (const [key, alias] of Object.entries(HELP_OPTIONS)) {
    const spec: OptionSpec = { type: 'boolean', describe: key };
    byName.set(key, { key, spec });
    if (alias) byName.set(alias, { key, spec });
  }
  return byName;
}

/** An argument as given: an option (`--name`, `-m`, maybe `=value`) or a positional. */
type Token =
  | { kind: 'option'; flag: string; name: string; inline: string | undefined }
  | { kind: 'positional'; text: string };

/** The arguments of `scope` as given, an option with a value taking the next one. */
function tokens(scope: Scope): Token[] {
  const options = optionsOf(scope);
  const out: Token[] = [];
  const { argv } = scope;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i + 1).map((text): Token => ({ kind: 'positional', text })));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.push({ kind: 'positional', text: arg });
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const name = flag.replace(/^--?/, '');
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    out.push({ kind: 'option', flag, name, inline });
    if (inline === undefined && options.get(name)?.spec.type !== 'boolean' && options.has(name))
      i++;
  }
  return out;
}

/**
 * Refuses an option given twice, and a switch given a value other than true or false. `lists`
 * names the positionals that take several arguments (their value is a list by right).
 */
export function refuseRepeats(
  args: Record<string, unknown>,
  scope: Scope,
  lists: readonly string[] = [],
): true {
  const options = optionsOf(scope);
  // Named as typed (`-m was given twice`); a switch given twice is no array for yargs (`--json
  // --json` is true), so the arguments as given are counted.
  const given = new Map<string, string>();
  for (const token of tokens(scope)) {
    if (token.kind !== 'option') continue;
    const known = options.get(token.name);
    const first = known && given.get(known.key);
    if (first !== undefined)
      throw new UsageError(
        first === token.flag
          ? `${token.flag} was given twice; give it once`
          : `${first} and ${token.flag} are one option, given twice; give it once`,
      );
    if (known) given.set(known.key, token.flag);
    if (token.inline === undefined) continue;
    if (known?.spec.type === 'boolean' && token.inline !== 'true' && token.inline !== 'false')
      throw new UsageError(`${token.flag} is a switch; it takes no value (or =true, =false)`);
  }
  for (const [name, value] of Object.entries(args))
    if (Array.isArray(value) && name !== '_' && !lists.includes(name))
      throw new UsageError(`${flagOf(name)} was given twice; give it once`);
  return true;
}

/** `--password-file` for yargs' key `passwordFile`. */
function flagOf(key: string): string {
  const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return kebab.length === 1 ? `-${kebab}` : `--${kebab}`;
}

/** Turns what yargs reports into sunoye's one-line usage errors. */
export function explain(msg: string | null, err: Error | undefined, scope: Scope): Error {
  if (err instanceof SunoyeError || (!msg && err)) return err;
  const text = msg ?? 'bad command line';
  const prefix = usagePrefix(scope);
  const positionals = tokens(scope).filter((t) => t.kind === 'positional');
  // A named command's own arguments come after its name.
  const own = scope.program.main ? positionals : positionals.slice(1);
  const commands = scope.program.commands ?? [];
  const unknownCommand = !scope.command && commands.length > 0 ? positionals[0]?.text : undefined;
  const recommended = /^Did you mean (.*)\?$/.exec(text);
  if (recommended && unknownCommand !== undefined)
    return new UsageError(`unknown command "${unknownCommand}"; did you mean ${recommended[1]}?`);
  const unknown = /^Unknown arguments?: (.*)$/.exec(text);
  if (unknown) {
    const options = optionsOf(scope);
    const flag = tokens(scope).find(
      (t): t is Extract<Token, { kind: 'option' }> => t.kind === 'option' && !options.has(t.name),
    );
    if (flag) {
      const names = [...options.values()].map(({ key }) => `--${key}`);
      const guess = flag.flag.startsWith('--') ? closest(flag.flag, names) : undefined;
      return new UsageError(
        `unknown option ${flag.flag}` +
          (guess ? `; did you mean ${guess}?` : `; see ${prefix} --help`),
      );
    }
    const extra = unknown[1]!.split(', ')[0]!;
    if (unknownCommand !== undefined)
      return new UsageError(
        `unknown command "${unknownCommand}"; commands: ${commandList(scope.program, ', ')}`,
      );
    return new UsageError(`unexpected argument "${extra}"; see ${prefix} --help`);
  }
  const following = /^Not enough arguments following: (.*)$/.exec(text);
  if (following) return new UsageError(`${flagOf(following[1]!)} needs a value`);
  const missing = scope.command?.positionals.find((p, i) => p.required && own[i] === undefined);
  if (/^Not enough non-option arguments/.test(text) && missing)
    return new UsageError(
      `missing <${missing.name}> (${missing.describe.toLowerCase()}); see ${prefix} --help`,
    );
  return new UsageError(text.charAt(0).toLowerCase() + text.slice(1));
}

/** The command yargs adds to every program of several commands: it prints a completion script. */
export const COMPLETION = 'completion';

/** The commands of a program of several, `completion` last, as its help lists them too. */
export function commandList(program: Program, last: string): string {
  const names = [...(program.commands ?? []).map((c) => c.name), COMPLETION];
  return last === ', '
    ? names.join(', ')
    : `${names.slice(0, -1).join(', ')}${last}${names.at(-1)}`;
}

export function usagePrefix(scope: Scope): string {
  const { program, command } = scope;
  return program.main || !command ? program.name : `${program.name} ${command.name}`;
}

/** The nearest of `names` to a mistyped `word`, if one is within two edits. */
function closest(word: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const d = editDistance(word, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = row;
  }
  return previous[b.length]!;
}
