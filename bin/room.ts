#!/usr/bin/env node
// `room`: create, join, inspect, list, forget and close password-protected chat rooms.
import { command } from '../src/cli/args.js';
import {
  brokerOptions,
  commonOptions,
  configFromArgs,
  EPILOGUE,
  jsonOption,
  passwordOptions,
} from '../src/cli/options.js';
import { processIo, runCli } from '../src/cli/program.js';
import type { CommandContext } from '../src/chat/context.js';
import { DEFAULT_IDLE_SECONDS } from '../src/db/store.js';

const io = processIo();
const context = (args: Parameters<typeof configFromArgs>[0]): CommandContext => ({
  config: configFromArgs(args, io.env),
  io,
});
/** Options every room command takes. */
const shared = { ...commonOptions, ...brokerOptions } as const;
const roomArg = [{ name: 'room', describe: 'The six-digit room number', required: true }] as const;

void runCli({
  name: 'room',
  usage: '$0 <command>',
  description:
    'Private chat rooms over MQTT: make a room, share its number and password, chat with `listen` and `publish`.',
  options: shared,
  commands: [
    command(
      {
        name: 'create',
        describe: 'Create a room; prints its number and a generated password',
        positionals: [],
        options: {
          ...shared,
          ...passwordOptions,
          ...jsonOption,
          idle: {
            type: 'number',
            default: DEFAULT_IDLE_SECONDS,
            value: 'SECONDS',
            describe: 'Close the room after this many seconds without members',
          },
          plain: {
            type: 'boolean',
            default: false,
            describe: 'Send MQTT-Chat JSON unencrypted (for MQTT-Chat clients and debugging)',
          },
        },
      },
      async (args) => {
        const { createRoom } = await import('../src/commands/create.js');
        await createRoom(context(args), { ...args, idleSeconds: args.idle });
      },
    ),
    command(
      {
        name: 'join',
        describe: 'Check a room password and remember the room, so listen and publish need none',
        positionals: roomArg,
        options: { ...shared, ...passwordOptions, ...jsonOption },
      },
      async (args) => {
        const { joinRoom } = await import('../src/commands/join.js');
        await joinRoom(context(args), args);
      },
    ),
    command(
      {
        name: 'info',
        describe: 'Show a room: state, mode and who is listening',
        positionals: roomArg,
        options: { ...shared, ...jsonOption },
      },
      async (args) => {
        const { roomInfo } = await import('../src/commands/info.js');
        await roomInfo(context(args), args);
      },
    ),
    command(
      {
        name: 'list',
        describe: 'List the rooms remembered on this machine with their state',
        positionals: [],
        options: { ...shared, ...jsonOption },
      },
      async (args) => {
        const { listRooms } = await import('../src/commands/list.js');
        await listRooms(context(args), args);
      },
    ),
    command(
      {
        name: 'leave',
        describe: 'Forget a remembered room (the room itself stays open)',
        positionals: roomArg,
        options: shared,
      },
      async (args) => {
        const { leaveRoom } = await import('../src/commands/leave.js');
        await leaveRoom(context(args), args);
      },
    ),
    command(
      {
        name: 'close',
        describe: 'Close a room now, for good (needs the password or the remembered room)',
        positionals: roomArg,
        options: { ...shared, ...passwordOptions, ...jsonOption },
      },
      async (args) => {
        const { closeRoom } = await import('../src/commands/close.js');
        await closeRoom(context(args), args);
      },
    ),
    command(
      {
        name: 'serve',
        describe: 'Run an MQTT broker inside sunoye, for one machine or a small LAN',
        positionals: [],
        options: {
          ...shared,
          host: {
            type: 'string',
            default: '127.0.0.1',
            value: 'ADDRESS',
            describe: 'Address to listen on (0.0.0.0: every interface)',
          },
          port: {
            type: 'number',
            default: 1883,
            describe: 'Port to listen on (0: a free one, printed)',
          },
          'ws-port': {
            type: 'number',
            describe:
              'Also serve MQTT over WebSocket on this port (0: a free one); none unless given',
          },
        },
      },
      async (args) => {
        const { serve } = await import('../src/commands/serve.js');
        const { abortOnSignals } = await import('../src/cli/signals.js');
        await serve(
          context(args),
          args,
          abortOnSignals((code) => process.exit(code)),
        );
      },
    ),
  ],
  examples: [
    ['$0 create', 'New encrypted room, with a generated password'],
    ['$0 create --idle 3600 --json', 'Room kept for an hour without members; JSON output'],
    ['$0 join 482913', 'Asks for the password, remembers the room'],
    ['$0 join 482913 --password-file ~/.room-pass', 'Password from a file'],
    ['$0 info 482913 --json', 'State and live members, as JSON'],
    ['$0 serve --port 0', 'An embedded broker on a free port (prints its URL)'],
    ['$0 serve --ws-port 8080', 'Also over WebSocket, at ws://127.0.0.1:8080'],
    ['$0 list --db mysql://chat@db.example/sunoye', 'Rooms on a shared MySQL registry'],
  ],
  epilogue: EPILOGUE,
});
