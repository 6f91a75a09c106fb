#!/usr/bin/env node
// `room`: create, join, inspect, list, forget and close password-protected chat rooms.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  brokerOptions,
  commonOptions,
  configFromArgs,
  jsonOption,
  passwordOptions,
} from '../src/cli/options.js';
import { processIo, finishCli } from '../src/cli/program.js';
import { reportError } from '../src/cli/report.js';
import type { CommandContext } from '../src/commands/context.js';
import { DEFAULT_IDLE_SECONDS } from '../src/db/store.js';

const io = processIo();
const context = (argv: Parameters<typeof configFromArgs>[0]): CommandContext => ({
  config: configFromArgs(argv, io.env),
  io,
});
const roomArg = {
  type: 'string',
  demandOption: true,
  describe: 'The six-digit room number',
} as const;

try {
  await finishCli(yargs(hideBin(process.argv)))
    .scriptName('room')
    .usage(
      '$0 <command>\n\nPrivate chat rooms over MQTT: make a room, share its number and password, chat with `listen` and `publish`.',
    )
    .options({ ...commonOptions, ...brokerOptions })
    .command(
      'create',
      'Create a room; prints its number and a generated password',
      (y) =>
        y.options({
          ...passwordOptions,
          ...jsonOption,
          idle: {
            type: 'number',
            default: DEFAULT_IDLE_SECONDS,
            describe: 'Close the room after this many seconds without members',
          },
          plain: {
            type: 'boolean',
            default: false,
            describe: 'Send MQTT-Chat JSON unencrypted (for MQTT-Chat clients and debugging)',
          },
        }),
      async (argv) => {
        const { createRoom } = await import('../src/commands/create.js');
        await createRoom(context(argv), { ...argv, idleSeconds: argv.idle });
      },
    )
    .command(
      'join <room>',
      'Check a room password and remember the room, so listen and publish need none',
      (y) => y.positional('room', roomArg).options({ ...passwordOptions, ...jsonOption }),
      async (argv) => {
        const { joinRoom } = await import('../src/commands/join.js');
        await joinRoom(context(argv), argv);
      },
    )
    .command(
      'info <room>',
      'Show a room: state, mode and who is listening',
      (y) => y.positional('room', roomArg).options(jsonOption),
      async (argv) => {
        const { roomInfo } = await import('../src/commands/info.js');
        await roomInfo(context(argv), argv);
      },
    )
    .command(
      'list',
      'List the rooms remembered on this machine with their state',
      (y) => y.options(jsonOption),
      async (argv) => {
        const { listRooms } = await import('../src/commands/list.js');
        await listRooms(context(argv), argv);
      },
    )
    .command(
      'leave <room>',
      'Forget a remembered room (the room itself stays open)',
      (y) => y.positional('room', roomArg),
      async (argv) => {
        const { leaveRoom } = await import('../src/commands/leave.js');
        await leaveRoom(context(argv), argv);
      },
    )
    .command(
      'close <room>',
      'Close a room now, for good (needs the password or the remembered room)',
      (y) => y.positional('room', roomArg).options({ ...passwordOptions, ...jsonOption }),
      async (argv) => {
        const { closeRoom } = await import('../src/commands/close.js');
        await closeRoom(context(argv), argv);
      },
    )
    .command(
      'serve',
      'Run an MQTT broker inside sunoye, for one machine or a small LAN',
      (y) =>
        y.options({
          host: {
            type: 'string',
            default: '127.0.0.1',
            describe: 'Address to listen on (0.0.0.0: every interface)',
          },
          port: {
            type: 'number',
            default: 1883,
            describe: 'Port to listen on (0: a free one, printed)',
          },
        }),
      async (argv) => {
        const { serve } = await import('../src/commands/serve.js');
        const { abortOnSignals } = await import('../src/cli/signals.js');
        await serve(context(argv), argv, abortOnSignals());
      },
    )
    .example('$0 create', 'New encrypted room, with a generated password')
    .example('$0 create --idle 3600 --json', 'Room kept for an hour without members; JSON output')
    .example('$0 join 482913', 'Asks for the password, remembers the room')
    .example('$0 join 482913 --password-file ~/.room-pass', 'Password from a file')
    .example('$0 info 482913 --json', 'State and live members, as JSON')
    .example('$0 serve --port 0', 'An embedded broker on a free port (prints its URL)')
    .example('$0 list --db mysql://chat@db.example/sunoye', 'Rooms on a shared MySQL registry')
    .demandCommand(1, 'name a command: create, join, info, list, leave, close or serve')
    .recommendCommands()
    .parseAsync();
} catch (err) {
  process.exitCode = reportError('room', err, process.stderr, process.env);
}
