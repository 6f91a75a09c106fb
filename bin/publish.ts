#!/usr/bin/env node
// `publish`: send lines typed or piped on stdin (or one -m message) to a room.
import { command } from '../src/cli/args.js';
import {
  brokerOptions,
  commonOptions,
  configFromArgs,
  EPILOGUE,
  passwordOptions,
  roomPositional,
  targetOptions,
} from '../src/cli/options.js';
import { processIo, runCli } from '../src/cli/program.js';
import { abortOnSignals } from '../src/cli/signals.js';

const io = processIo();

void runCli({
  name: 'publish',
  usage: '$0 <room> [-m TEXT]',
  description:
    'Send one message, or every line of stdin, to a room. Exits 0 only when all were delivered.',
  main: command(
    {
      name: 'publish',
      describe: 'Send messages to a room',
      positionals: [roomPositional],
      options: {
        ...commonOptions,
        ...brokerOptions,
        ...passwordOptions,
        message: {
          type: 'string',
          alias: 'm',
          value: 'TEXT',
          describe: 'Send this one message instead of reading stdin',
        },
        timeout: {
          type: 'number',
          default: 30,
          value: 'SECONDS',
          describe: 'Give up when the broker acknowledges nothing for this many seconds',
        },
        window: {
          type: 'number',
          default: 1000,
          describe: 'Most messages sent but not yet acknowledged',
        },
        ...targetOptions,
      },
    },
    async (args) => {
      const { publish } = await import('../src/commands/publish.js');
      await publish(
        { config: configFromArgs(args, io.env), io },
        args,
        abortOnSignals((code) => process.exit(code)),
      );
    },
  ),
  examples: [
    ['$0 482913 -m "hello"', 'One message'],
    ['tail -f app.log | $0 482913', 'Pipe a log into a room, line by line'],
    ['$0 --topic chat/lobby --plain', 'Type to MQTT-Chat clients on a raw topic'],
  ],
  epilogue: EPILOGUE,
});
