#!/usr/bin/env node
// `publish`: send lines typed or piped on stdin (or one -m message) to a room.
import { publishCommand } from '../src/commands/publish.js';
import { EPILOGUE } from '../src/cli/options.js';
import { runCli } from '../src/cli/program.js';

void runCli(
  {
    name: 'publish',
    usage: '$0 <room> [-m TEXT]',
    description:
      'Send one message, or every line of stdin, to a room. Exits 0 only when all were delivered.',
    main: publishCommand,
    examples: [
      ['$0 482913 -m "hello"', 'One message'],
      ['tail -f app.log | $0 482913', 'Pipe a log into a room, line by line'],
      ['$0 --topic chat/lobby --plain', 'Type to MQTT-Chat clients on a raw topic'],
    ],
    epilogue: EPILOGUE,
  },
  (code) => process.exit(code),
);
