// Help as a newcomer meets it (issue 12, 2.6): each command lists its own options only, bare
// `room` and `room help` print help, `--json` says what it prints, and `room create` does not
// print its result like an error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { runProgram } from '../helpers/cli.js';

/** The long options a help text lists. */
function optionsIn(help: string): string[] {
  const start = help.indexOf('\nOptions:\n');
  const end = help.indexOf('\n\n', start + 1);
  const options = help.slice(start, end === -1 ? undefined : end);
  return [...options.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!);
}

describe('help', function () {
  this.timeout(60_000);
  let dir: string;
  let env: Record<string, string>;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-help-'));
    env = { HOME: dir, SUNOYE_HOME: join(dir, 'home'), SUNOYE_DB: `sqlite:${join(dir, 'r.db')}` };
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const help = async (program: 'room' | 'listen' | 'publish', args: string[]) => {
    const run = await runProgram(program, args, { env });
    expect(run.code, `${program} ${args.join(' ')}: ${run.stderr}`).to.equal(0);
    expect(run.stderr).to.equal('');
    return run.stdout;
  };

  it('lists, for each command, its own options and no others', async function () {
    const registry = ['--db', '--home'];
    const password = ['--password', '--password-file'];
    const tls = [
      '--ca',
      '--cert',
      '--key',
      '--topic-prefix',
      '--keepalive',
      '--mqtt-version',
      '--connect-timeout',
    ];
    const expected: Record<string, string[]> = {
      create: [
        ...registry,
        '--broker',
        '--name',
        ...password,
        '--json',
        '--idle',
        '--plain',
        '--history',
        '--history-size',
      ],
      join: [...registry, '--broker', ...password, '--json'],
      info: [...registry, '--broker', '--name', '--json'],
      list: [...registry, '--json', '--all'],
      leave: registry,
      close: [...registry, '--broker', '--name', ...tls, ...password, '--json'],
      serve: ['--host', '--port', '--ws-port', '--web', '--web-broker', '--db'],
      whoami: ['--name', '--home', '--json'],
      chat: [
        ...registry,
        '--broker',
        '--name',
        ...tls,
        '--lease',
        ...password,
        '--topic',
        '--plain',
      ],
    };
    for (const [name, options] of Object.entries(expected)) {
      const text = await help('room', [name, '--help']);
      expect(optionsIn(text).sort(), name).to.deep.equal(['--help', ...options].sort());
      expect(await help('room', ['help', name]), `room help ${name}`).to.equal(text);
    }
    // A command refuses an option it does not list, wherever it is given.
    for (const args of [
      ['whoami', '--db', 'sqlite:/x.db'],
      ['--db', 'sqlite:/x.db', 'whoami'],
      ['serve', '--broker', 'mqtt://x'],
      ['list', '--password', 'x'],
    ]) {
      const run = await runProgram('room', args, { env });
      expect(run.code, args.join(' ')).to.equal(2);
      expect(run.stderr).to.match(/^room: unknown option --\w+; see room \w+ --help\n$/);
    }
    // The room window's help says how to use the window, with examples.
    const chat = await help('room', ['chat', '--help']);
    expect(chat).to.match(/Examples:\n\s+room chat 482913 /);
    expect(chat).to.include('/who lists who is in the room');
    const listen = await help('listen', ['--help']);
    for (const option of [
      '--count',
      '--timeout',
      '--since',
      '--last',
      '--json',
      '--topic',
      '--plain',
      '--password',
      '--lease',
    ])
      expect(optionsIn(listen)).to.include(option);
    expect(optionsIn(listen)).to.not.include.members(['--message', '--window', '--idle']);
    // The program's one command is not listed as a command of its own.
    expect(listen).to.not.match(/^\s+listen \[room\]/m);
    const publish = await help('publish', ['--help']);
    expect(optionsIn(publish)).to.include.members(['--message', '--timeout', '--window']);
    expect(optionsIn(publish)).to.not.include.members(['--count', '--json', '--idle']);
    // A database cluster stalls for about 5 s when a node crashes: the default timeout is 5 s.
    expect(listen).to.match(/h3:3306\/db\?timeout=10/);
  });

  it('prints help for bare `room` and `room help`, exit 0', async function () {
    const top = await help('room', ['--help']);
    expect(await help('room', [])).to.equal(top);
    expect(await help('room', ['help'])).to.equal(top);
    expect(top).to.match(/^room <command> \[options\]\nroom help <command>\n/);
    for (const command of ['create', 'join', 'info', 'list', 'leave', 'close', 'serve', 'whoami'])
      expect(top).to.match(new RegExp(`^  room ${command}\\b`, 'm'));
    // The commands' options are theirs, not the program's.
    expect(optionsIn(top).sort()).to.deep.equal(['--help', '--version']);
    const wrong = await runProgram('room', ['help', 'crate'], { env });
    expect(wrong.code).to.equal(2);
    expect(wrong.stderr).to.match(/^room: `room help` takes one command: create, join, /);
  });

  it('shows <room> in the usage of every command that needs a room, and answers --help everywhere', async function () {
    const needsRoom = ['join', 'chat', 'info', 'leave', 'close'];
    for (const name of [
      'create',
      'join',
      'chat',
      'info',
      'list',
      'leave',
      'close',
      'serve',
      'whoami',
    ]) {
      const first = (await help('room', [name, '--help'])).split('\n')[0];
      expect(first, name).to.equal(
        needsRoom.includes(name) ? `room ${name} <room>` : `room ${name}`,
      );
    }
    expect(await help('room', ['chat', '--help'])).to.match(
      /^room chat <room>\nroom chat --topic T --plain\n/,
    );
    expect(await help('listen', ['--help'])).to.match(/^listen <room>\nlisten --topic T --plain\n/);
    expect(await help('publish', ['--help'])).to.match(
      /^publish <room> \[words\.\. \| -m TEXT\]\npublish --topic T --plain /,
    );
    // `completion --help` is help, not the script; `room help --help` is room's help.
    for (const program of ['room', 'listen', 'publish'] as const) {
      const text = await help(program, ['completion', '--help']);
      expect(text).to.match(new RegExp(`^${program} completion\n\nPrint a bash/zsh completion`));
      expect(text).to.include(`${program} completion >> ~/.bashrc`);
      expect(text).to.not.include('yargs command completion script');
    }
    expect(await help('room', ['help', 'completion'])).to.equal(
      await help('room', ['completion', '-h']),
    );
    const top = await help('room', ['--help']);
    expect(await help('room', ['help', '--help'])).to.equal(top);
    expect(await help('room', ['help', 'help'])).to.equal(top);
  });

  it('says what --json prints: one document, or one object per line for listen', async function () {
    for (const command of ['create', 'join', 'info', 'list', 'close', 'whoami'])
      expect(await help('room', [command, '--help']), command).to.match(
        /--json +Print one JSON document on stdout\n/,
      );
    expect(await help('listen', ['--help'])).to.match(/--json +Print one JSON object per line/);
  });

  it('prints what `room create` made as data, not like an error', async function () {
    // On a terminal, with colours on: nothing red, no "room:" prefix that reads as an error.
    const created = await runProgram('room', ['create'], { env: { ...env, FORCE_COLOR: '1' } });
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.match(/^Room number: \d{6}\nPassword: +[a-z0-9-]{19}\n$/);
    const all = created.stdout + created.stderr;
    expect(all).to.not.match(/^room:/m);
    expect(all).to.not.match(/warning|error/i);
    expect(all).to.not.include('\u001b[31m');
    expect(created.stderr).to.match(/^Created encrypted room \d{6};/);
  });
});
