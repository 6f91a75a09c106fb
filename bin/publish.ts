#!/usr/bin/env node
// `publish`: send lines typed or piped on stdin (or one -m message) to a room.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  brokerOptions,
  commonOptions,
  configFromArgs,
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
    .scriptName('publish')
    .usage(
      '$0 <room> [-m TEXT]\n\nSend one message, or every line of stdin, to a room. Exits 0 only when all were delivered.',
    )
    .command('$0 [room]', false, (y) => y.positional('room', roomPositional))
    .options({
      ...commonOptions,
      ...brokerOptions,
      ...passwordOptions,
      message: {
        alias: 'm',
        type: 'string',
        describe: 'Send this one message instead of reading stdin',
      },
      timeout: {
        type: 'number',
        default: 30,
        describe: 'Give up when the broker acknowledges nothing for this many seconds',
      },
      window: {
        type: 'number',
        default: 1000,
        describe: 'Most messages sent but not yet acknowledged',
      },
      ...targetOptions,
    })
    .example('$0 482913 -m "hello"', 'One message')
    .example('tail -f app.log | $0 482913', 'Pipe a log into a room, line by line')
    .example('$0 --topic chat/lobby --plain', 'Type to MQTT-Chat clients on a raw topic')
    .parseAsync();
  const { publish } = await import('../src/commands/publish.js');
  await publish({ config: configFromArgs(argv, io.env), io }, argv, abortOnSignals());
} catch (err) {
  process.exitCode = reportError('publish', err, process.stderr, process.env);
}
