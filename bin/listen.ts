#!/usr/bin/env node
// `listen`: print a room's conversation, as a live member of the room.
import { command } from '../src/cli/args.js';
import {
  brokerOptions,
  commonOptions,
  configFromArgs,
  EPILOGUE,
  jsonOption,
  passwordOptions,
  roomPositional,
  targetOptions,
} from '../src/cli/options.js';
import { processIo, runCli } from '../src/cli/program.js';
import { abortOnSignals } from '../src/cli/signals.js';

const io = processIo();

void runCli({
  name: 'listen',
  usage: '$0 <room>\n$0 --topic T --plain',
  description: "Print a room's conversation until Ctrl-C; you count as a member while it runs.",
  main: command(
    {
      name: 'listen',
      describe: "Print a room's conversation",
      positionals: [roomPositional],
      options: {
        ...commonOptions,
        ...brokerOptions,
        ...passwordOptions,
        ...jsonOption,
        count: {
          type: 'number',
          describe: 'Exit 0 after this many chat messages (notices do not count)',
        },
        ...targetOptions,
      },
    },
    async (args) => {
      const { listen } = await import('../src/commands/listen.js');
      await listen(
        { config: configFromArgs(args, io.env), io },
        args,
        abortOnSignals((code) => process.exit(code)),
      );
    },
  ),
  examples: [
    ['$0 482913', 'Follow room 482913 (remembered by room create or room join)'],
    ['$0 482913 --json --count 10', 'Ten messages as JSON lines, then exit'],
    ['$0 --topic chat/lobby --plain', 'Chat with MQTT-Chat clients on a raw topic'],
  ],
  epilogue: EPILOGUE,
});
