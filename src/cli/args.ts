/**
 * The command line of the three programs, on yargs: sunoye's declarations of commands and
 * options become one yargs instance that parses strictly, writes help and shell completion, and
 * turns every usage error into one line (exit 2).
 *
 * Rules, as getopt and most CLIs have them:
 * - `--name VALUE`, `--name=VALUE`, `-m VALUE`; an option that takes a value takes the next
 *   argument whatever it looks like (`-m -h` sends "-h", `--password-file -` reads stdin).
 * - `--flag`, `--flag=true|false` for switches. `--` ends the options, except first: npx passes
 *   on the `--` it is told to stop at (`npx listen -- --help` runs `listen -- --help`), and a
 *   `--` before any argument has no options to end, so it is dropped there.
 * - Giving an option twice is an error; unknown options and commands are errors, with the
 *   nearest known name suggested.
 * - Numbers are converted with Number(); the commands check ranges and say what they expect.
 *   Positionals stay strings (room 012345 keeps its zero).
 */
import yargs, { type Argv, type CommandModule, type Options } from 'yargs';
import type { Io } from '../room/context.js';
import { UsageError } from '../errors.js';
import { valueColumn, version, withCommandUsage, withValueNames } from './help.js';
import {
  COMPLETION,
  commandList,
  explain,
  refuseRepeats,
  usagePrefix,
  type Scope,
} from './usage-errors.js';

/** One option, declared for yargs, with the name its value has in help (URL, FILE...). */
export interface OptionSpec {
  readonly type: 'string' | 'number' | 'boolean';
  readonly describe: string;
  readonly alias?: string;
  readonly default?: string | number | boolean;
  /** The value's name in help, like URL or FILE (default VALUE, or N for numbers). */
  readonly value?: string;
  /** Taken but not listed in help (a feature not ready for users yet). */
  readonly hidden?: boolean;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface PositionalSpec {
  readonly name: string;
  readonly describe: string;
  readonly required: boolean;
  /** The last positional may take every argument left (`[words..]`): a list, maybe empty. */
  readonly variadic?: boolean;
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
  [Q in P[number] as Q['name']]: Q['variadic'] extends true
    ? string[]
    : Q['required'] extends true
      ? string
      : string | undefined;
};

/** What a running command gets from its program besides its arguments. */
export interface Shell {
  /** The streams and environment to use. */
  readonly io: Io;
  /** Ends the process now with `code` (a second Ctrl-C); bin/ passes `process.exit`. */
  readonly exit: (code: number) => void;
  /**
   * Asks that the process end through `exit` once the command is done and its output written,
   * rather than once nothing holds it: what the process's end lets go of (a SQLite registry's
   * file) then need not be let go of first. Only where the command runs as the whole process.
   */
  readonly exitWhenDone?: () => void;
}

/** A command: what it takes, and what runs it. */
export interface Command {
  readonly name: string;
  readonly describe: string;
  readonly options: OptionSpecs;
  readonly positionals: readonly PositionalSpec[];
  /**
   * A named command's usage lines in its help (`$0` standing for the program's name), when its
   * positionals do not say it: a room that may be left out only for --topic is still `<room>`.
   */
  readonly usage?: string;
  /** A named command's own examples for its help: a command line and what it does. */
  readonly examples?: readonly (readonly [string, string])[];
  /** More about the command, shown in its own help before the program's epilogue. */
  readonly details?: string;
  readonly run: (args: Record<string, unknown>, shell: Shell) => Promise<void>;
}

/** Declares a command whose `run` receives arguments typed from `options` and `positionals`. */
export function command<const O extends OptionSpecs, const P extends readonly PositionalSpec[]>(
  spec: {
    name: string;
    describe: string;
    options: O;
    positionals: P;
    usage?: string;
    examples?: readonly (readonly [string, string])[];
    details?: string;
  },
  run: (args: Args<O, P>, shell: Shell) => Promise<void>,
): Command {
  return { ...spec, run: (args, shell) => run(args as Args<O, P>, shell) };
}

/** A program: one command (listen, publish) or several named ones (room). */
export interface Program {
  readonly name: string;
  /** Help's first line, `$0` standing for the name: `$0 <room> [-m TEXT]`. */
  readonly usage: string;
  readonly description: string;
  /** A program of one command runs `main`; otherwise the first argument names a command. */
  readonly main?: Command;
  readonly commands?: readonly Command[];
  /**
   * For a program of several commands: options taken before the command's name too (each
   * command still declares them, and refuses those it does not take).
   */
  readonly options?: OptionSpecs;
  /** Examples for help: a command line (`$0` standing for the name) and what it does. */
  readonly examples: readonly (readonly [string, string])[];
  readonly epilogue: string;
}

/** What the command line asked for: text to print (help, version, completion) or a command. */
export type Invocation =
  | { kind: 'output'; text: string }
  | { kind: 'run'; command: Command; args: Record<string, unknown> };

/** How yargs reads sunoye's command lines (see the rules at the top). */
const PARSER = {
  'nargs-eats-options': true,
  // Kept on so that a repeated option shows as an array, which is refused.
  'duplicate-arguments-array': true,
  'parse-positional-numbers': false,
  'boolean-negation': false,
  'dot-notation': false,
  'strip-aliased': true,
  'strip-dashed': true,
} as const;

/** What the completion script runs on Tab, for the words to offer. */
const COMPLETIONS = '--get-yargs-completions';

/** Receives the command the command line chose, with its arguments. */
type Choose = (command: Command, args: Record<string, unknown>) => void;

/** Builds the yargs instance for `program`: its commands, options, help and completion. */
function programCli(program: Program, argv: readonly string[], choose: Choose, width = 80): Argv {
  const cli = yargs()
    .scriptName(program.name)
    .locale('en')
    .parserConfiguration(PARSER)
    .strict()
    .help('help')
    .alias('help', 'h')
    .version('version', 'Show the version', version())
    .completion(
      COMPLETION,
      `Print a bash/zsh completion script (${program.name} completion >> ~/.bashrc)`,
    )
    .wrap(Math.max(40, width - valueColumn(program)))
    .exitProcess(false);
  (cli as Argv & { usageConfiguration(c: object): Argv }).usageConfiguration({
    'hide-types': true,
  });
  const scope = (command?: Command): Scope => ({ program, command, argv });
  cli.fail((msg, err) => {
    throw explain(msg, err, scope());
  });
  for (const [line, what] of program.examples) cli.example(line, what);
  cli.epilogue(program.epilogue);
  cli.usage(`${program.usage}\n\n${program.description}`);
  const { main } = program;
  if (main) {
    // Declared at the top too, so that `-m -h` is a message before yargs looks for --help.
    declareOptions(cli, main.options);
    // yargs would run the default command for `listen completion` rather than print the script.
    if (argv[0] === COMPLETION) cli.demandCommand(1);
    else cli.command(yargsCommand(main, scope(main), choose));
  } else {
    cli.demandCommand(1, `name a command: ${commandList(program, ' or ')}`).recommendCommands();
    // Not global: a command's help lists its own options, and it refuses those it does not take.
    declareOptions(cli, program.options ?? {}, false);
    for (const c of program.commands ?? []) cli.command(yargsCommand(c, scope(c), choose));
  }
  return cli;
}

/**
 * A program of several commands answers `help` (and nothing at all) with its help, and
 * `help COMMAND` with the command's: as `--help` and `COMMAND --help`.
 */
function helpAsked(program: Program, argv: readonly string[]): readonly string[] {
  if (!program.commands) return argv;
  if (argv.length === 0) return ['--help'];
  if (argv[0] !== 'help') return argv;
  const [, name, ...rest] = argv;
  // `room help --help` and `room help help`: help is all there is to say about help.
  if (name === undefined || (rest.length === 0 && ['--help', '-h', 'help'].includes(name)))
    return ['--help'];
  const named = name === COMPLETION || program.commands.some((c) => c.name === name);
  if (rest.length > 0 || !named)
    throw new UsageError(
      `\`${program.name} help\` takes one command: ${commandList(program, ' or ')}`,
    );
  return [name, '--help'];
}

/**
 * `room completion --help` (`-h`): the completion command's help, rather than the script yargs
 * prints whatever follows its name.
 */
function completionHelpAsked(program: Program, argv: readonly string[]): string | undefined {
  if (argv[0] !== COMPLETION || !argv.slice(1).some((a) => a === '--help' || a === '-h'))
    return undefined;
  const name = program.name;
  return [
    `${name} ${COMPLETION}`,
    '',
    `Print a bash/zsh completion script: with it, Tab completes ${name}'s ${program.commands ? 'commands and ' : ''}options.`,
    '',
    'Examples:',
    `  ${name} ${COMPLETION} >> ~/.bashrc  For new bash shells`,
    `  ${name} ${COMPLETION} >> ~/.zshrc   For new zsh shells`,
  ].join('\n');
}

/** A program of several commands given none: its command came after `--`, or not at all. */
function noCommand(program: Program, argv: readonly string[]): UsageError {
  const end = argv.indexOf('--');
  const after = end === -1 ? undefined : argv[end + 1];
  return new UsageError(
    after === undefined
      ? `name a command: ${commandList(program, ' or ')}`
      : `"${after}" comes after --, where no command is looked for; name a command before it: ${commandList(program, ' or ')}`,
  );
}

/** Parses `argv` for `program`: help, version or completion text, or the command to run. */
export async function parseCommandLine(
  program: Program,
  given: readonly string[],
  width = 80,
): Promise<Invocation> {
  const argv = helpAsked(program, given[0] === '--' ? given.slice(1) : given);
  const completionHelp = completionHelpAsked(program, argv);
  if (completionHelp) return { kind: 'output', text: completionHelp };
  let chosen: { command: Command; args: Record<string, unknown> } | undefined;
  let output = '';
  // yargs only chooses the command; it runs after parsing, outside yargs.
  const cli = programCli(program, argv, (command, args) => (chosen = { command, args }), width);
  await cli.parseAsync([...argv], {}, (_err, _args, text) => {
    output = text;
  });
  // Output (help, version, completion) is all that was asked for when there is any.
  if (output || (!chosen && argv.includes(COMPLETIONS)))
    return { kind: 'output', text: withCommandUsage(withValueNames(output, program), program) };
  // What follows a `--` is no command (`room -- create`): yargs chooses none, and says nothing.
  if (!chosen) throw noCommand(program, argv);
  return { kind: 'run', ...chosen };
}

/** One sunoye command as a yargs command module. */
function yargsCommand(c: Command, scope: Scope, choose: Choose): CommandModule {
  const main = scope.program.main === c;
  const positionals = c.positionals
    .map((p) => {
      const name = p.variadic ? `${p.name}..` : p.name;
      return p.required ? `<${name}>` : `[${name}]`;
    })
    .join(' ');
  return {
    command: `${main ? '$0' : c.name}${positionals ? ` ${positionals}` : ''}`,
    // A program's one command is the program: its usage says it all, not a line of Commands.
    describe: main ? false : c.describe,
    builder: (y) => {
      skipHelpCache(y);
      const variadic = c.positionals.filter((p) => p.variadic).map((p) => p.name);
      for (const p of c.positionals) y.positional(p.name, { type: 'string', describe: p.describe });
      // A named command's help shows its own options: yargs' --version is the program's.
      if (!main) {
        const epilogue = [c.details, scope.program.epilogue].filter(Boolean).join('\n\n');
        declareOptions(y, c.options).epilogue(epilogue).hide('version');
        if (c.usage) y.usage(`${c.usage}\n\n${c.describe}`);
        for (const [line, what] of c.examples ?? []) y.example(line, what);
      }
      y.check((args) => refuseRepeats(args, scope, variadic));
      y.fail((msg, err) => {
        throw explain(msg, err, scope);
      });
      return y;
    },
    handler: (args) => {
      const { _: rest, ...plain } = args as Record<string, unknown> & { _: unknown[] };
      delete plain.$0;
      // What follows `--` stays in `_`: it fills the positionals not yet given.
      const extra = rest.slice(main ? 0 : 1).map(String);
      for (const p of c.positionals) {
        if (p.variadic)
          plain[p.name] = [
            ...((plain[p.name] as string[] | undefined) ?? []),
            ...extra.splice(0),
          ].map(String);
        else if (plain[p.name] === undefined) plain[p.name] = extra.shift();
      }
      if (extra.length > 0)
        throw new UsageError(`unexpected argument "${extra[0]}"; see ${usagePrefix(scope)} --help`);
      choose(c, plain);
    },
  };
}

/**
 * yargs lays out the whole help text of every subcommand it runs, in case its handler asks to show
 * help later (`cacheHelpMessage`); sunoye's handlers never do, and laying it out loads
 * `string-width` and its Unicode tables: about 20 ms of every `room info`. Help asked for with
 * `--help` is laid out as usual.
 */
function skipHelpCache(y: Argv): void {
  const usage = (
    y as Argv & {
      getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } };
    }
  )
    .getInternalMethods?.()
    .getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function')
    usage.cacheHelpMessage = () => undefined;
}

/** Declares options: those with a value take exactly the next argument. */
function declareOptions(y: Argv, specs: OptionSpecs, global = true): Argv {
  for (const [name, spec] of Object.entries(specs)) {
    const shown = spec.default === undefined || spec.default === false;
    const option: Options = {
      global,
      type: spec.type,
      describe: shown ? spec.describe : `${spec.describe} (default: ${String(spec.default)})`,
    };
    if (spec.alias) option.alias = spec.alias;
    if (spec.hidden) option.hidden = true;
    if (spec.default !== undefined) option.default = spec.default;
    if (spec.type !== 'boolean') option.nargs = 1;
    y.option(name, option);
  }
  return y;
}
