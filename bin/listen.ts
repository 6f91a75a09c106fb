#!/usr/bin/env node
// `listen`: print a room's conversation, as a live member of the room.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  brokerOptions,
  commonOptions,
  configFromArgs,
  jsonOption,
  passwordOptions,
  roomPositional,
  targetOptions,
} from '../src/cli/options.js';
import { processIo, finishCli } from '../src/cli/program.js';
import { reportError } from '../src/cli/report.js';
import { abortOnSignals } from '../src/cli/signals.js';

const io = processIo();

try {
  const argv = await finishCli(yargs(hideBin(process.argv)))
    .scriptName('listen')
    .usage(
      "$0 <room>\n$0 --topic T --plain\n\nPrint a room's conversation until Ctrl-C; you count as a member while it runs.",
    )
    .command('$0 [room]', false, (y) => y.positional('room', roomPositional))
    .options({
      ...commonOptions,
      ...brokerOptions,
      ...passwordOptions,
      ...jsonOption,
      count: {
        type: 'number',
        describe: 'Exit 0 after this many chat messages (notices do not count)',
      },
      ...targetOptions,
    })
    .example('$0 482913', 'Follow room 482913 (remembered by room create or room join)')
    .example('$0 482913 --json --count 10', 'Ten messages as JSON lines, then exit')
    .example('$0 --topic chat/lobby --plain', 'Chat with MQTT-Chat clients on a raw topic')
    .parseAsync();
  const { listen } = await import('../src/commands/listen.js');
  await listen({ config: configFromArgs(argv, io.env), io }, argv, abortOnSignals());
} catch (err) {
  process.exitCode = reportError('listen', err, process.stderr, process.env);
}
