import { expect } from 'chai';
import { command, parseCommandLine, type Program } from '../../../src/cli/args.js';
import { ExitCode, UsageError } from '../../../src/errors.js';

const seen: Record<string, unknown>[] = [];
const options = {
  db: { type: 'string', value: 'URL', describe: 'Registry database URL' },
  'password-file': { type: 'string', value: 'FILE', describe: 'Password from a file' },
  message: { type: 'string', alias: 'm', value: 'TEXT', describe: 'Send this one message' },
  timeout: { type: 'number', default: 30, value: 'SECONDS', describe: 'Seconds' },
  json: { type: 'boolean', default: false, describe: 'Print JSON' },
  plain: { type: 'boolean', describe: 'Plain JSON' },
} as const;
const single: Program = {
  name: 'publish',
  usage: '$0 <room>',
  description: 'Send messages.',
  main: command(
    {
      name: 'publish',
      describe: 'Send',
      positionals: [{ name: 'room', describe: 'The room', required: false }],
      options,
    },
    (args) => {
      seen.push(args);
      return Promise.resolve();
    },
  ),
  examples: [['$0 482913 -m hi', 'One message']],
  epilogue: 'Exit codes: 0 ok.',
};
const several: Program = {
  name: 'room',
  usage: '$0 <command>',
  description: 'Rooms.',
  options: { db: options.db },
  commands: [
    command(
      {
        name: 'create',
        describe: 'Create a room',
        positionals: [],
        options: {
          db: options.db,
          idle: { type: 'number', default: 600, value: 'SECONDS', describe: 'Idle' },
        },
      },
      () => Promise.resolve(),
    ),
    command(
      {
        name: 'join',
        describe: 'Join a room',
        positionals: [{ name: 'room', describe: 'The six-digit room number', required: true }],
        options: { db: options.db, password: { type: 'string', describe: 'Room password' } },
      },
      () => Promise.resolve(),
    ),
    command(
      {
        name: 'serve',
        describe: 'Run a broker',
        positionals: [],
        options: { db: options.db, port: { type: 'number', default: 1883, describe: 'Port' } },
      },
      () => Promise.resolve(),
    ),
  ],
  examples: [['$0 create', 'A room']],
  epilogue: 'Exit codes: 0 ok.',
};

async function args(program: Program, argv: string[]): Promise<Record<string, unknown>> {
  const parsed = await parseCommandLine(program, argv);
  if (parsed.kind !== 'run') throw new Error(`expected a command, got ${parsed.kind}`);
  return parsed.args;
}

async function output(program: Program, argv: string[], width = 80): Promise<string> {
  const parsed = await parseCommandLine(program, argv, width);
  if (parsed.kind !== 'output') throw new Error(`expected output, got ${parsed.kind}`);
  return parsed.text;
}

async function usageError(program: Program, argv: string[]): Promise<string> {
  try {
    await parseCommandLine(program, argv);
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    expect((err as UsageError).exitCode).to.equal(ExitCode.usage);
    return (err as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('command line (yargs)', function () {
  it('reads values in every accepted form, with defaults and camelCase names', async function () {
    expect(await args(single, ['482913', '-m', 'hi'])).to.deep.equal({
      message: 'hi',
      timeout: 30,
      json: false,
      room: '482913',
    });
    const a = await args(single, [
      '--db=sqlite:/x.db',
      '--password-file',
      '-',
      '--timeout',
      '2.5',
      'R',
    ]);
    expect(a).to.include({ db: 'sqlite:/x.db', passwordFile: '-', timeout: 2.5, room: 'R' });
    expect(a).to.not.have.property('password-file');
    expect(await args(single, ['--message=a=b'])).to.include({ message: 'a=b' });
  });

  it('gives a value option the next argument, whatever it looks like', async function () {
    expect(await args(single, ['R', '-m', '-h'])).to.include({ room: 'R', message: '-h' });
    expect(await args(single, ['-m', '--help'])).to.include({ message: '--help' });
    expect(await args(single, ['-m', '-5 degrees', '--db', '--json'])).to.include({
      message: '-5 degrees',
      db: '--json',
      json: false,
    });
    expect(await args(several, ['join', '482913', '--password', '-h'])).to.include({
      password: '-h',
    });
  });

  it('keeps room numbers as strings and converts numbers for the commands to check', async function () {
    expect(await args(single, ['012345'])).to.include({ room: '012345' });
    expect(await args(several, ['join', '012345'])).to.include({ room: '012345' });
    expect(Number.isNaN((await args(single, ['--timeout', 'soon'])).timeout)).to.equal(true);
    expect((await args(single, ['--timeout', '-1'])).timeout).to.equal(-1);
  });

  it('reads switches and explicit true/false, and refuses other values', async function () {
    expect(await args(single, ['--json'])).to.include({ json: true });
    expect(await args(single, ['--json=false', '--plain=true'])).to.include({
      json: false,
      plain: true,
    });
    expect(await usageError(single, ['--json=yes'])).to.equal(
      '--json is a switch; it takes no value (or =true, =false)',
    );
    expect(await usageError(single, ['--no-json'])).to.match(/^unknown option --no-json/);
    expect(await usageError(single, ['--no-db'])).to.match(/^unknown option --no-db/);
  });

  it('refuses an option given twice, and lets `--` end the options', async function () {
    expect(await usageError(single, ['-m', 'a', '-m', 'b'])).to.equal(
      '-m was given twice; give it once',
    );
    expect(await usageError(single, ['-m', 'a', '--message', 'b'])).to.equal(
      '-m and --message are one option, given twice; give it once',
    );
    expect(await usageError(single, ['--timeout', '1', '--timeout', '2'])).to.match(
      /--timeout was given twice/,
    );
    expect(await args(single, ['-m', 'x', '--', '--json'])).to.include({
      room: '--json',
      json: false,
    });
    // A switch given twice is refused too, however it is spelled.
    expect(await usageError(single, ['--json', '--json'])).to.equal(
      '--json was given twice; give it once',
    );
    expect(await usageError(single, ['--json=false', '--json'])).to.equal(
      '--json was given twice; give it once',
    );
  });

  it('drops a `--` that comes first, as npx passes it on (`npx listen -- --help`)', async function () {
    expect(await args(single, ['--', '--json', 'R'])).to.include({ room: 'R', json: true });
    expect(await output(single, ['--', '--help'])).to.equal(await output(single, ['--help']));
    expect(await usageError(several, ['--', '--', 'create'])).to.match(
      /^"create" comes after --, where no command is looked for/,
    );
  });

  it('gives a last positional that takes the rest (publish R some words) every argument left', async function () {
    const withWords: Program = {
      ...single,
      main: command(
        {
          name: 'publish',
          describe: 'Send',
          positionals: [
            { name: 'room', describe: 'The room', required: false },
            { name: 'words', describe: 'The message', required: false, variadic: true },
          ],
          options,
        },
        () => Promise.resolve(),
      ),
    };
    expect(await args(withWords, ['R', 'some', 'words'])).to.deep.include({
      room: 'R',
      words: ['some', 'words'],
    });
    expect(await args(withWords, ['R'])).to.deep.include({ room: 'R', words: [] });
    expect(await args(withWords, ['R', 'a', '--', '-m', '--json'])).to.deep.include({
      room: 'R',
      words: ['a', '-m', '--json'],
      json: false,
    });
    expect(await args(withWords, ['R', '007'])).to.deep.include({ words: ['007'] });
    expect(await usageError(withWords, ['R', 'a', '-m', 'x', '-m', 'y'])).to.equal(
      '-m was given twice; give it once',
    );
  });

  it('refuses what it does not know, suggesting the nearest name', async function () {
    expect(await usageError(single, ['--bogus'])).to.equal(
      'unknown option --bogus; see publish --help',
    );
    expect(await usageError(single, ['--mesage', 'x'])).to.equal(
      'unknown option --mesage; did you mean --message?',
    );
    expect(await usageError(single, ['-x'])).to.match(/^unknown option -x/);
    expect(await usageError(single, ['-m'])).to.equal('-m needs a value');
    expect(await usageError(single, ['--password-file'])).to.equal('--password-file needs a value');
    expect(await usageError(single, ['R', 'S'])).to.equal(
      'unexpected argument "S"; see publish --help',
    );
    expect(await usageError(several, ['jion'])).to.equal(
      'unknown command "jion"; did you mean join?',
    );
    expect(await usageError(several, ['zzzzzz'])).to.equal(
      'unknown command "zzzzzz"; commands: create, join, serve, completion',
    );
    expect(await usageError(several, ['join'])).to.equal(
      'missing <room> (the six-digit room number); see room join --help',
    );
    expect(await usageError(several, ['create', '--idel', '5'])).to.equal(
      'unknown option --idel; did you mean --idle?',
    );
    expect(await usageError(several, ['create', '--room', 'x'])).to.equal(
      'unknown option --room; see room create --help',
    );
    expect(await usageError(several, ['join', '482913', 'extra'])).to.equal(
      'unexpected argument "extra"; see room join --help',
    );
  });

  it('refuses option names that are object properties', async function () {
    expect(await usageError(single, ['--constructor', 'x'])).to.match(
      /^unknown option --constructor/,
    );
    expect(await usageError(single, ['--__proto__', 'x'])).to.match(/^unknown option --__proto__/);
    expect(await usageError(single, ['--__proto__'])).to.match(/^unknown option --__proto__/);
    expect(({} as Record<string, unknown>).x).to.equal(undefined);
  });

  it('finds the command among the options and parses the rest for it', async function () {
    const parsed = await parseCommandLine(several, ['--db', 'sqlite:/y.db', 'join', '123456']);
    expect(parsed.kind).to.equal('run');
    if (parsed.kind !== 'run') return;
    expect(parsed.command.name).to.equal('join');
    expect(parsed.args).to.deep.equal({ db: 'sqlite:/y.db', room: '123456' });
    expect(await args(several, ['create'])).to.deep.equal({ idle: 600 });
  });

  it('answers --help and --version, even on a bad line', async function () {
    for (const argv of [['--help'], ['R', '-h'], ['--bogus', '--help']])
      expect(await output(single, argv), argv.join(' ')).to.include('Options:');
    expect(await output(single, ['--version'])).to.match(/^\d+\.\d+\.\d+$/);
    expect(await output(several, ['--version'])).to.match(/^\d+\.\d+\.\d+$/);
    // After `--` (but a first one, npx's), --help is a value.
    expect(await args(single, ['--', '--', '--help'])).to.include({ room: '--help' });
    expect(await args(single, ['-m', 'x', '--', '--help'])).to.include({ room: '--help' });
  });

  it('writes help with value names, defaults, examples and the epilogue, within the width', async function () {
    const text = await output(single, ['--help'], 60);
    for (const part of [
      'publish <room>',
      'Send messages.',
      '--db URL',
      '--password-file FILE',
      '-m, --message TEXT',
      '--timeout SECONDS',
      '(default: 30)',
      '-h, --help',
      '--version',
      'Examples:',
      'publish 482913 -m hi',
      'Exit codes: 0 ok.',
    ])
      expect(text).to.include(part);
    expect(text).to.not.include('(default: false)');
    expect(text).to.not.match(/\[(string|number|boolean)\]/);
    for (const line of text.split('\n')) expect(line.length, line).to.be.at.most(60);
  });

  it("lists each command's own options only", async function () {
    const top = await output(several, ['-h']);
    expect(top).to.include('room join <room>').and.include('room completion');
    const create = await output(several, ['create', '--help']);
    expect(create).to.include('--idle SECONDS').and.include('--db URL');
    expect(create).to.not.include('--port').and.not.include('--password');
    expect(create).to.include('Exit codes: 0 ok.').and.not.include('Examples:');
    const serve = await output(several, ['serve', '--help']);
    expect(serve).to.include('--port N').and.not.include('--idle');
    const join = await output(several, ['join', '--help']);
    expect(join).to.include('--password VALUE').and.not.include('--idle');
  });

  it('answers `help`, `help COMMAND` and nothing at all with help, and hides what a command does not take', async function () {
    const top = await output(several, ['--help']);
    expect(await output(several, [])).to.equal(top);
    expect(await output(several, ['help'])).to.equal(top);
    expect(await output(several, ['help', 'join'])).to.equal(
      await output(several, ['join', '--help']),
    );
    expect(await usageError(several, ['help', 'jion'])).to.equal(
      '`room help` takes one command: create, join, serve or completion',
    );
    expect(await output(several, ['help', '--help'])).to.equal(top);
    expect(await output(several, ['help', 'help'])).to.equal(top);
    expect(await usageError(several, ['help', 'join', 'create'])).to.match(/takes one command/);
    // The program's --version is not one of a command's options.
    expect(top).to.include('--version');
    expect(await output(several, ['join', '--help'])).to.not.include('--version');
    // A program option given before a command that does not take it is refused.
    const narrow: Program = {
      ...several,
      commands: [
        ...several.commands!,
        command({ name: 'whoami', describe: 'Who', positionals: [], options: {} }, () =>
          Promise.resolve(),
        ),
      ],
    };
    expect(await output(narrow, ['whoami', '--help'])).to.not.include('--db');
    expect(await usageError(narrow, ['--db', 'sqlite:/y.db', 'whoami'])).to.match(
      /^unknown option --db/,
    );
    expect(await usageError(narrow, ['whoami', '--db', 'sqlite:/y.db'])).to.match(
      /^unknown option --db/,
    );
    // A program of one command has no line of Commands for itself.
    expect(await output(single, ['--help'])).to.not.match(/^\s+publish \[room\]/m);
  });

  it('prints a shell completion script naming the program', async function () {
    for (const program of [several, single]) {
      const script = await output(program, ['completion']);
      expect(script).to.include(`${program.name} --get-yargs-completions`);
      expect(script).to.match(new RegExp(`^complete .* ${program.name}$`, 'm'));
    }
    // Its help is help, not the script.
    for (const args of [
      ['completion', '--help'],
      ['completion', '-h'],
      ['help', 'completion'],
    ])
      expect(await output(several, args)).to.match(/^room completion\n\nPrint a bash\/zsh/);
    expect(await output(single, ['completion', '--help'])).to.match(/^publish completion\n/);
    const words = await output(several, ['--get-yargs-completions', 'room', 'create', '--i']);
    expect(words.split('\n')).to.include('--idle');
  });

  it('runs the command with what it parsed', async function () {
    const parsed = await parseCommandLine(single, ['482913', '-m', 'hi']);
    if (parsed.kind !== 'run') throw new Error(parsed.kind);
    seen.length = 0;
    await parsed.command.run(parsed.args, {
      io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: {} },
      exit: () => undefined,
    });
    expect(seen).to.have.length(1);
    expect(seen[0]).to.include({ room: '482913', message: 'hi' });
  });
});
