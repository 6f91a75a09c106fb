#!/usr/bin/env node
// `listen`: print a room's conversation, as a live member of the room.
import { listenCommand } from '../src/commands/listen.js';
import { EPILOGUE } from '../src/cli/options.js';
import { runCli } from '../src/cli/program.js';

void runCli(
  {
    name: 'listen',
    usage: '$0 <room>\n$0 --topic T --plain',
    description: "Print a room's conversation until Ctrl-C; you count as a member while it runs.",
    main: listenCommand,
    examples: [
      ['$0 482913', 'Follow room 482913 (remembered by room create or room join)'],
      ['$0 482913 --last 20', 'The last 20 messages of the room history, then live'],
      ['$0 482913 --since 2h', 'What was said in the last two hours, then live'],
      ['$0 482913 --json --count 10', 'Ten messages as JSON lines, then exit'],
      ['$0 482913 --json --timeout 60', 'JSON lines until a minute passes without a message'],
      ['$0 --topic chat/lobby --plain', 'Chat with MQTT-Chat clients on a raw topic'],
    ],
    epilogue: EPILOGUE,
  },
  (code) => process.exit(code),
);
