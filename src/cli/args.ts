/**
 * The command line of the three programs: options declared once, parsed strictly, and `--help`
 * written from the same declarations.
 *
 * Deliberately small. Every start of a program parses its arguments, and a general-purpose parser
 * cost more time than the rest of `publish -m` together (connecting, checking the room, sending).
 *
 * Rules, as getopt and most CLIs have them:
 * - `--name VALUE`, `--name=VALUE`, `-m VALUE`; an option that takes a value takes the next
 *   argument whatever it looks like (`-m "-5 degrees"`, `--password-file -`).
 * - `--flag`, `--flag=true|false`, `--no-flag` for booleans.
 * - `--` ends the options. The same option given twice: the last one counts.
 * - Numbers are converted with Number(); the commands check ranges and say what they expect.
 * - `-h`/`--help` anywhere prints help (of the command, if one is named); `--version` the version.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** One option: its type, help text, one-letter alias, default, and what its value is called. */
export interface OptionSpec {
  readonly type: 'string' | 'number' | 'boolean';
  readonly describe: string;
  readonly alias?: string;
  readonly default?: string | number | boolean;
  /** The value's name in help, like URL or FILE (default VALUE, or N for numbers). */
  readonly value?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface PositionalSpec {
  readonly name: string;
  readonly describe: string;
  readonly required: boolean;
}

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;
type ValueOf<O extends OptionSpec> = O['type'] extends 'boolean'
  ? boolean
  : O['type'] extends 'number'
    ? number
    : string;

/** The parsed arguments of a command, typed from its declarations. */
export type Args<O extends OptionSpecs, P extends readonly PositionalSpec[]> = {
  [K in keyof O as CamelCase<K & string>]: O[K] extends { default: unknown }
    ? ValueOf<O[K]>
    : ValueOf<O[K]> | undefined;
} & {
  [Q in P[number] as Q['name']]: Q['required'] extends true ? string : string | undefined;
};

/** A command: what it takes, and what runs it. */
export interface Command {
  readonly name: string;
  readonly describe: string;
  readonly options: OptionSpecs;
  readonly positionals: readonly PositionalSpec[];
  readonly run: (args: Record<string, unknown>) => Promise<void>;
}

/** Declares a command whose `run` receives arguments typed from `options` and `positionals`. */
export function command<const O extends OptionSpecs, const P extends readonly PositionalSpec[]>(
  spec: { name: string; describe: string; options: O; positionals: P },
  run: (args: Args<O, P>) => Promise<void>,
): Command {
  return { ...spec, run: (args) => run(args as Args<O, P>) };
}

/** A program: one command (listen, publish) or several named ones (room). */
export interface Program {
  readonly name: string;
  /** Help's first lines, `$0` standing for the name: `$0 <room> [-m TEXT]`. */
  readonly usage: string;
  readonly description: string;
  /** A program of one command runs `main`; otherwise the first argument names a command. */
  readonly main?: Command;
  readonly commands?: readonly Command[];
  /** For a program of several commands: the options shown in its own help. */
  readonly options?: OptionSpecs;
  /** Examples for help: a command line (`$0` standing for the name) and what it does. */
  readonly examples: readonly (readonly [string, string])[];
  readonly epilogue: string;
}

/** What the command line asked for. */
export type Invocation =
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  | { kind: 'run'; command: Command; args: Record<string, unknown> };

const HELP: OptionSpec = { type: 'boolean', alias: 'h', describe: 'Show help' };
const VERSION: OptionSpec = { type: 'boolean', describe: 'Show the version' };

const camelCase = (name: string): string =>
  name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Parses `argv` (without node and the script) for `program`; throws UsageError on bad input. */
export function parseCommandLine(
  program: Program,
  argv: readonly string[],
  width = 80,
): Invocation {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  const wantsHelp = flags.includes('--help') || flags.includes('-h');
  let command = program.main;
  let rest = argv;
  if (!command) {
    const commands = program.commands ?? [];
    const first = commandIndex(argv, program.options ?? {});
    const named = first === -1 ? undefined : argv[first];
    if (named === undefined) {
      if (wantsHelp) return { kind: 'help', text: helpText(program, undefined, width) };
      if (flags.includes('--version')) return { kind: 'version', text: version() };
      const names = commands.map((c) => c.name);
      throw new UsageError(`name a command: ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`);
    }
    command = commands.find((c) => c.name === named);
    if (!command) {
      if (wantsHelp) return { kind: 'help', text: helpText(program, undefined, width) };
      const guess = closest(
        named,
        commands.map((c) => c.name),
      );
      throw new UsageError(
        `unknown command "${named}"` +
          (guess
            ? `; did you mean ${guess}?`
            : `; commands: ${commands.map((c) => c.name).join(', ')}`),
      );
    }
    rest = [...argv.slice(0, first), ...argv.slice(first + 1)];
  }
  if (wantsHelp) return { kind: 'help', text: helpText(program, command, width) };
  if (flags.includes('--version')) return { kind: 'version', text: version() };
  return { kind: 'run', command, args: parseArgs(program, command, rest) };
}

/** Where the command's name is: the first argument that is neither an option nor its value. */
function commandIndex(argv: readonly string[], options: OptionSpecs): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return -1;
    if (!arg.startsWith('-') || arg === '-') return i;
    const spec = arg.startsWith('--') && !arg.includes('=') ? options[arg.slice(2)] : undefined;
    if (spec && spec.type !== 'boolean') i++;
  }
  return -1;
}

/** The options and positionals of one command. */
function parseArgs(
  program: Program,
  command: Command,
  argv: readonly string[],
): Record<string, unknown> {
  const options = command.options;
  const byAlias = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) if (spec.alias) byAlias.set(spec.alias, name);
  const args: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) args[camelCase(name)] = spec.default;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    let name: string | undefined;
    let negated = false;
    if (flag.startsWith('--')) {
      name = flag.slice(2);
      if (
        !(name in options) &&
        name.startsWith('no-') &&
        options[name.slice(3)]?.type === 'boolean'
      ) {
        name = name.slice(3);
        negated = true;
      }
    } else if (flag.length === 2) {
      name = byAlias.get(flag.slice(1));
    }
    const spec = name === undefined ? undefined : options[name];
    if (name === undefined || !spec) throw unknownOption(program, command, flag);
    const key = camelCase(name);
    if (spec.type === 'boolean') {
      if (inline === undefined) args[key] = !negated;
      else if (!negated && (inline === 'true' || inline === 'false')) args[key] = inline === 'true';
      else throw new UsageError(`${flag} is a switch; it takes no value (or =true, =false)`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
      value = argv[++i]!;
    }
    args[key] = spec.type === 'number' ? (value.trim() === '' ? NaN : Number(value)) : value;
  }
  const declared = command.positionals;
  if (positionals.length > declared.length) {
    const extra = positionals[declared.length]!;
    throw new UsageError(
      `unexpected argument "${extra}"; see ${usagePrefix(program, command)} --help`,
    );
  }
  declared.forEach((p, i) => {
    if (positionals[i] === undefined && p.required)
      throw new UsageError(
        `missing <${p.name}> (${p.describe.toLowerCase()}); see ${usagePrefix(program, command)} --help`,
      );
    args[p.name] = positionals[i];
  });
  return args;
}

function unknownOption(program: Program, command: Command, flag: string): UsageError {
  const names = Object.keys(command.options).map((n) => `--${n}`);
  const guess = flag.startsWith('--') ? closest(flag, names) : undefined;
  return new UsageError(
    `unknown option ${flag}` +
      (guess ? `; did you mean ${guess}?` : `; see ${usagePrefix(program, command)} --help`),
  );
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

function usagePrefix(program: Program, command: Command): string {
  return program.main ? program.name : `${program.name} ${command.name}`;
}

/** The version in package.json, two folders above the program (dist/bin or dist/src/cli). */
function version(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'sunoye' && pkg.version) return pkg.version;
    } catch {
      // Not there; try the next.
    }
  }
  return 'unknown';
}

// ------------------------------------------------------------------------------------------ help

/** The help of a program, or of one of its commands. */
export function helpText(program: Program, command: Command | undefined, width: number): string {
  const out: string[] = [];
  if (command && !program.main) {
    const positionals = command.positionals.map((p) =>
      p.required ? ` <${p.name}>` : ` [${p.name}]`,
    );
    out.push(`${program.name} ${command.name}${positionals.join('')}`, '', `${command.describe}.`);
  } else {
    out.push(program.usage.replaceAll('$0', program.name), '', program.description);
  }
  if (!command && program.commands) {
    out.push('', 'Commands:');
    const rows = program.commands.map((c): [string, string] => [
      `${program.name} ${c.name}${c.positionals.map((p) => ` <${p.name}>`).join('')}`,
      c.describe,
    ]);
    out.push(...table(rows, width));
  }
  const shown = command ?? program.main;
  if (shown && shown.positionals.length > 0) {
    out.push('', 'Arguments:');
    out.push(
      ...table(
        shown.positionals.map((p) => [p.name, p.describe]),
        width,
      ),
    );
  }
  const options = { ...(shown?.options ?? program.options ?? {}), help: HELP, version: VERSION };
  out.push('', 'Options:');
  out.push(
    ...table(
      Object.entries(options).map(([name, spec]) => {
        const flag = `${spec.alias ? `-${spec.alias}, ` : '    '}--${name}`;
        const value =
          spec.type === 'boolean'
            ? ''
            : ` ${spec.value ?? (spec.type === 'number' ? 'N' : 'VALUE')}`;
        const fallback =
          spec.default === undefined || spec.default === false
            ? ''
            : ` (default: ${String(spec.default)})`;
        return [flag + value, spec.describe + fallback];
      }),
      width,
    ),
  );
  if (!command || program.main) {
    out.push('', 'Examples:');
    out.push(
      ...table(
        program.examples.map(([line, what]) => [line.replaceAll('$0', program.name), what]),
        width,
      ),
    );
  }
  out.push('', program.epilogue, '');
  return out.join('\n');
}

/** Two columns, the second wrapped to `width`; the first as wide as its longest cell (≤ 40). */
function table(rows: readonly (readonly [string, string])[], width: number): string[] {
  const left = Math.min(40, Math.max(...rows.map(([a]) => a.length)));
  const room = Math.max(30, width - left - 4);
  const lines: string[] = [];
  for (const [a, b] of rows) {
    const wrapped = wrap(b, room);
    if (a.length > left) lines.push(`  ${a}`, ...wrapped.map((w) => `${' '.repeat(left + 4)}${w}`));
    else lines.push(...wrapped.map((w, i) => `  ${(i === 0 ? a : '').padEnd(left)}  ${w}`));
  }
  return lines;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}
