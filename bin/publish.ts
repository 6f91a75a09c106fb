#!/usr/bin/env node
// `publish`: send lines typed or piped on stdin (or one -m message) to a room.
import { publishCommand } from '../src/commands/publish.js';
import { EPILOGUE } from '../src/cli/options.js';
import { runCli } from '../src/cli/program.js';

void runCli(
  {
    name: 'publish',
    usage: '$0 <room> [words.. | -m TEXT]\n$0 --topic T --plain [words.. | -m TEXT]',
    description:
      'Send one message, or every line of stdin, to a room. Exits 0 only when all were delivered; stops with exit 3 when the room is closed.',
    main: publishCommand,
    examples: [
      ['$0 482913 hello everyone', 'One message: the words, joined by spaces'],
      ['$0 482913 -m "hello"', 'The same with -m (one argument, as mosquitto_pub takes it)'],
      ['tail -f app.log | $0 482913', 'Pipe a log into a room, line by line'],
      [
        '$0 482913 --json < notes.txt',
        'End with a JSON summary: {"room", "sent", "delivered", ...}',
      ],
      ['$0 482913 --broker broker.lan:1883', 'A broker named as host:port means mqtt://'],
      ['$0 --topic chat/lobby --plain', 'Type to MQTT-Chat clients on a raw topic'],
    ],
    epilogue: EPILOGUE,
  },
  (code) => process.exit(code),
);
