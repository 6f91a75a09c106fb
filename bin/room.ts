#!/usr/bin/env node
// `room`: create, join, inspect, list, forget and close password-protected chat rooms.
import { chatCommand } from '../src/commands/chat.js';
import { closeCommand } from '../src/commands/close.js';
import { createCommand } from '../src/commands/create.js';
import { infoCommand } from '../src/commands/info.js';
import { joinCommand } from '../src/commands/join.js';
import { leaveCommand } from '../src/commands/leave.js';
import { listCommand } from '../src/commands/list.js';
import { serveCommand } from '../src/commands/serve.js';
import { whoamiCommand } from '../src/commands/whoami.js';
import { EPILOGUE } from '../src/cli/options.js';
import { runCli } from '../src/cli/program.js';

void runCli(
  {
    name: 'room',
    usage: '$0 <command> [options]\n$0 help <command>',
    description:
      'Private chat rooms over MQTT: make a room, share its number and password, chat in it with `room chat`, or pipe with `listen` and `publish`.',
    commands: [
      createCommand,
      joinCommand,
      chatCommand,
      infoCommand,
      listCommand,
      leaveCommand,
      closeCommand,
      serveCommand,
      whoamiCommand,
    ],
    examples: [
      ['$0 create', 'New encrypted room, with a generated password'],
      ['$0 create --idle 3600 --json', 'Room kept for an hour without members; JSON output'],
      ['$0 create --history 1h', 'A room that keeps an hour of sealed history (24h by default)'],
      ['$0 join 482913', 'Asks for the password, remembers the room'],
      ['$0 chat 482913', 'The room window: read and type in one terminal'],
      ['$0 join 482913 --password-file ~/.room-pass', 'Password from a file'],
      ['$0 info 482913 --json', 'State and live members, as JSON'],
      ['$0 whoami', 'Your key fingerprint, for others to compare'],
      ['$0 serve --port 0', 'An embedded broker on a free port (prints its URL)'],
      ['$0 serve --ws-port 8080', 'Also over WebSocket, at ws://127.0.0.1:8080'],
      ['$0 serve --web', 'And the room page for a browser (prints its http:// address)'],
      ['$0 list --db mysql://chat@db.example/sunoye', 'Rooms on a shared MySQL registry'],
    ],
    epilogue: EPILOGUE,
  },
  (code) => process.exit(code),
);
