import { expect } from 'chai';
import { command, helpText, parseCommandLine, type Program } from '../../src/cli/args.js';
import { UsageError } from '../../src/errors.js';

const seen: Record<string, unknown>[] = [];
const options = {
  db: { type: 'string', value: 'URL', describe: 'Registry database URL' },
  'password-file': { type: 'string', value: 'FILE', describe: 'Password from a file' },
  message: { type: 'string', alias: 'm', describe: 'Send this one message' },
  timeout: { type: 'number', default: 30, describe: 'Seconds' },
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
        options: { db: options.db, idle: { type: 'number', default: 600, describe: 'Idle' } },
      },
      () => Promise.resolve(),
    ),
    command(
      {
        name: 'join',
        describe: 'Join a room',
        positionals: [{ name: 'room', describe: 'The six-digit room number', required: true }],
        options: { db: options.db },
      },
      () => Promise.resolve(),
    ),
  ],
  examples: [['$0 create', 'A room']],
  epilogue: 'Exit codes: 0 ok.',
};

function args(program: Program, argv: string[]): Record<string, unknown> {
  const parsed = parseCommandLine(program, argv);
  if (parsed.kind !== 'run') throw new Error(`expected a command, got ${parsed.kind}`);
  return parsed.args;
}

function usageError(program: Program, argv: string[]): string {
  try {
    parseCommandLine(program, argv);
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('command line', function () {
  it('reads values in every accepted form, with defaults and camelCase names', function () {
    expect(args(single, ['482913', '-m', 'hi'])).to.deep.equal({
      db: undefined,
      passwordFile: undefined,
      message: 'hi',
      timeout: 30,
      json: false,
      plain: undefined,
      room: '482913',
    });
    const a = args(single, ['--db=sqlite:/x.db', '--password-file', '-', '--timeout', '2.5', 'R']);
    expect(a).to.include({ db: 'sqlite:/x.db', passwordFile: '-', timeout: 2.5, room: 'R' });
    // A value is the next argument, whatever it looks like.
    expect(args(single, ['-m', '-5 degrees', '--db', '--json'])).to.include({
      message: '-5 degrees',
      db: '--json',
      json: false,
    });
    expect(args(single, ['--message=a=b'])).to.include({ message: 'a=b' });
  });

  it('reads switches, their negation and explicit true/false', function () {
    expect(args(single, ['--json'])).to.include({ json: true });
    expect(args(single, ['--json', '--no-json'])).to.include({ json: false });
    expect(args(single, ['--json=false', '--plain=true'])).to.include({ json: false, plain: true });
    expect(usageError(single, ['--json=yes'])).to.match(/--json is a switch/);
    expect(usageError(single, ['--no-json=true'])).to.match(/--no-json is a switch/);
    expect(usageError(single, ['--no-db'])).to.match(/unknown option --no-db/);
  });

  it('lets the last of a repeated option count, and `--` end the options', function () {
    expect(args(single, ['-m', 'a', '--message', 'b'])).to.include({ message: 'b' });
    expect(args(single, ['--', '--json'])).to.include({ room: '--json', json: false });
    expect(args(single, ['-'])).to.include({ room: '-' });
  });

  it('hands numbers that are not numbers to the command as NaN, for it to explain', function () {
    expect(Number.isNaN(args(single, ['--timeout', 'soon']).timeout)).to.equal(true);
    expect(Number.isNaN(args(single, ['--timeout=']).timeout)).to.equal(true);
    expect(args(single, ['--timeout', '-1']).timeout).to.equal(-1);
  });

  it('refuses what it does not know, suggesting the nearest name', function () {
    expect(usageError(single, ['--bogus'])).to.equal('unknown option --bogus; see publish --help');
    expect(usageError(single, ['--mesage', 'x'])).to.equal(
      'unknown option --mesage; did you mean --message?',
    );
    expect(usageError(single, ['-x'])).to.match(/unknown option -x/);
    expect(usageError(single, ['-m'])).to.equal('-m needs a value');
    expect(usageError(single, ['R', 'S'])).to.equal('unexpected argument "S"; see publish --help');
    expect(usageError(several, [])).to.equal('name a command: create or join');
    expect(usageError(several, ['jion'])).to.equal('unknown command "jion"; did you mean join?');
    expect(usageError(several, ['zzzzzz'])).to.equal(
      'unknown command "zzzzzz"; commands: create, join',
    );
    expect(usageError(several, ['join'])).to.equal(
      'missing <room> (the six-digit room number); see room join --help',
    );
    expect(usageError(several, ['create', '--room', 'x'])).to.match(/unknown option --room/);
  });

  it('finds the command among the options and parses the rest for it', function () {
    const parsed = parseCommandLine(several, ['--db', 'sqlite:/y.db', 'join', '123456']);
    expect(parsed.kind).to.equal('run');
    if (parsed.kind !== 'run') return;
    expect(parsed.command.name).to.equal('join');
    expect(parsed.args).to.deep.equal({ db: 'sqlite:/y.db', room: '123456' });
    expect(args(several, ['create'])).to.deep.equal({ db: undefined, idle: 600 });
  });

  it('answers --help and --version wherever they are, even on a bad line', function () {
    for (const argv of [['--help'], ['R', '-h'], ['--bogus', '--help']]) {
      const parsed = parseCommandLine(single, argv);
      expect(parsed.kind, argv.join(' ')).to.equal('help');
    }
    const top = parseCommandLine(several, ['-h']);
    const sub = parseCommandLine(several, ['create', '--help']);
    expect(top.kind === 'help' && top.text).to.include('room join <room>');
    expect(sub.kind === 'help' && sub.text)
      .to.include('--idle N')
      .and.not.include('Commands:');
    const version = parseCommandLine(single, ['--version']);
    expect(version.kind === 'version' && version.text).to.match(/^\d+\.\d+\.\d+/);
    // After `--`, --help is a value.
    expect(args(single, ['--', '--help'])).to.include({ room: '--help' });
  });

  it('writes help from the declarations, within the width', function () {
    const text = helpText(single, undefined, 60);
    for (const part of [
      'publish <room>',
      'Send messages.',
      '--db URL',
      '--password-file FILE',
      '-m, --message VALUE',
      '--timeout N',
      '(default: 30)',
      '-h, --help',
      '--version',
      'Examples:',
      'publish 482913 -m hi',
      'Exit codes: 0 ok.',
    ])
      expect(text).to.include(part);
    expect(text).to.not.include('(default: false)');
    for (const line of text.split('\n')) expect(line.length, line).to.be.at.most(60);
  });

  it('runs the command with what it parsed', async function () {
    const parsed = parseCommandLine(single, ['482913', '-m', 'hi']);
    if (parsed.kind !== 'run') throw new Error(parsed.kind);
    seen.length = 0;
    await parsed.command.run(parsed.args);
    expect(seen).to.have.length(1);
    expect(seen[0]).to.include({ room: '482913', message: 'hi' });
  });
});
