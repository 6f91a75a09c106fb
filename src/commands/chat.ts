/**
 * `room chat`: the room window. One terminal: the conversation scrolls above, the line you type
 * stays at the bottom. It is a listener (a live member of the room, with its join, leave and last
 * will) that also sends what you type, on the same connection, under the same name and key, so a
 * `room chat`, a `listen` and a `publish` in one room see each other.
 */
import { clearLine, cursorTo } from 'node:readline';
import { Writable } from 'node:stream';
import { command } from '../cli/args.js';
import {
  brokerOptions,
  commandContext,
  commonOptions,
  passwordOptions,
  presenceOptions,
  roomPositional,
  targetOptions,
} from '../cli/options.js';
import { abortOnSignals, interrupt } from '../cli/signals.js';
import { colourFor, type Colour } from '../terminal/colour.js';
import type { CommandContext } from '../room/context.js';
import { withTimeout } from '../conversation/deadline.js';
import { BurstFolder, BURST_GAP_MS } from '../terminal/bursts.js';
import { Echoes } from '../conversation/echoes.js';
import { ownLinesInHistory } from '../history/recovery.js';
import { rowsOpener } from '../history/rows.js';
import { keepsHistory } from '../history/writer.js';
import {
  memberLine,
  presentLine,
  viewerOf,
  viewMember,
  type MemberView,
} from '../terminal/members.js';
import { Outbox } from '../conversation/outbox.js';
import { ACTION_PREFIX, HISTORY_DIVIDER, windowLine } from '../terminal/render.js';
import { wrapToWidth } from '../terminal/wrap.js';
import { visibleLine, visibleName } from '../protocol/sanitise.js';
import { ChatScreen, PASTE_ASK_LINES } from '../terminal/screen.js';
import { UnavailableError } from '../errors.js';
import { MAX_TEXT_BYTES } from '../protocol/index.js';
import { listen, type ListenerSession, type ListenerWindow, type ListenOptions } from './listen.js';

/** `room chat`, as the command line declares it. */
export const chatCommand = command(
  {
    name: 'chat',
    describe: 'Chat in a room: read and type in one terminal',
    positionals: [roomPositional],
    // The room may be left out only for --topic.
    usage: '$0 chat <room>\n$0 chat --topic T --plain',
    options: {
      ...commonOptions,
      ...brokerOptions,
      ...presenceOptions,
      ...passwordOptions,
      ...targetOptions,
    },
    examples: [
      ['$0 chat 482913', 'The room window (asks for the password unless you joined)'],
      ['$0 chat 482913 --name alice', 'As alice, whatever your login name'],
      ['$0 chat --topic chat/general --plain', 'A raw topic, with MQTT-Chat clients'],
    ],
    details: [
      'In the window: type a line and press Enter to send it. /who lists who is in the room,',
      '/me waves says what you do, /help the commands, /quit (or Ctrl-D, Ctrl-C) leaves. // at',
      'the start sends a line that starts with /.',
    ].join('\n'),
  },
  (args, shell) =>
    chat(
      commandContext(args, shell),
      { ...args, json: false, count: undefined },
      // The terminal closed (SIGHUP) is a leave like Ctrl-C: the others see "bob left".
      abortOnSignals(shell.exit, { hangup: true }),
    ),
);

/**
 * On the way out, how long what was typed may take to be acknowledged: short enough that with a
 * broker that has stopped answering the goodbye is still tried and the window says what was not
 * acknowledged, within the 2 s a Ctrl-C has.
 */
const FINISH_TIMEOUT_MS = 500;
/** Most messages typed and not yet acknowledged (a paste of more waits for acknowledgements). */
const WINDOW = 1000;

/** Lines of a burst shown: a screenful, less the prompt and the lines about the burst. */
function burstShown(rows: number | undefined): number {
  return Math.max(10, (rows ?? 24) - 4);
}

/** Messages of history the window opens with: a screenful, less the lines below them. */
function historyShown(rows: number | undefined): number {
  return Math.max(10, (rows ?? 24) - 5);
}

const HELP = [
  'Type a line and press Enter to send it; a pasted block is sent line by line, in order',
  `(one of more than ${PASTE_ASK_LINES} lines is asked about first: y sends it, n drops it).`,
  '/me waves  says what you do: "* bob waves" (MQTT-Chat clients show "/me waves")',
  '/who   who is in the room now, each by the key that signed its presence',
  '/help  this help',
  '/quit  leave the room (Ctrl-D and Ctrl-C too)',
  'A line that starts with // sends the rest starting with /.',
  'Up and Down recall the lines you typed here.',
  `A sender's burst (lines each within ${BURST_GAP_MS / 1000} s of the last) shows a screenful, then a count.`,
];

/** Opens the room window in the terminal and runs it until you leave or the room closes. */
export async function chat(
  ctx: CommandContext,
  options: ListenOptions,
  signal: AbortSignal,
): Promise<void> {
  const window = new RoomWindow(ctx);
  try {
    // The listener writes through the window: above the line being typed.
    const io = { ...ctx.io, stdout: window.stream(), stderr: window.stream() };
    // Like any chat program, the window opens with the room's last screenful of history.
    const opening = historyShown((ctx.io.stdout as { rows?: number }).rows);
    await listen({ ...ctx, io }, { ...options, openingScreen: opening }, signal, window);
  } finally {
    window.close();
  }
  window.checkDelivered();
}

/** The window over a running listener: the screen, the commands, and the outbox of typed lines. */
class RoomWindow implements ListenerWindow {
  /** The screen, once the listener has joined (a password prompt may come before). */
  private screen: ChatScreen | undefined;
  private readonly colour: Colour;
  private session: ListenerSession | undefined;
  private outbox: Outbox | undefined;
  /** Our own lines until they come back from the broker. */
  private echoes: Echoes | undefined;
  /** Lines entered in one go (a paste) go out as one batch, in order. */
  private pending: string[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private online = true;
  private offlineSince: number | undefined;
  private leaving = false;
  /** The registry asked whether the room is closed, after a "closed" notice. */
  private closing: Promise<void> | undefined;
  private undelivered = 0;
  /** Others' bursts of lines, folded after a screenful. */
  private bursts: BurstFolder | undefined;

  constructor(private readonly ctx: CommandContext) {
    this.colour = colourFor(ctx.io.stdout, ctx.io.env);
  }

  /**
   * A stream whose lines are printed above the typed line (straight to stdout before the window
   * opens), with the terminal's backpressure.
   */
  stream(): Writable & { isTTY?: boolean } {
    const { stdout } = this.ctx.io;
    const writable = new Writable({
      decodeStrings: false,
      write: (chunk: string | Buffer, _encoding, done) => {
        if (this.print(chunk.toString())) done();
        else stdout.once('drain', () => done());
      },
    });
    return Object.assign(writable, { isTTY: stdout.isTTY });
  }

  private print(text: string): boolean {
    if (this.screen) return this.screen.print(text);
    // Before the window opens the terminal echoes what is typed: the row is cleared first (what
    // was typed is kept, and shows in the input line once the window opens).
    const { stdout, env } = this.ctx.io;
    if (stdout.isTTY && env.TERM !== 'dumb') {
      cursorTo(stdout, 0);
      clearLine(stdout, 0);
      return stdout.write(wrapToWidth(text, stdout.columns));
    }
    return stdout.write(text);
  }

  render(...args: Parameters<ListenerWindow['render']>): string {
    const [payload, at, how] = args;
    const room = this.session?.target.room;
    const store = this.session?.store;
    // Our own last will, sent by the broker when it lost us (it went down or restarted) and
    // delivered once we were back: about this very window, in words that say so.
    const own = this.session?.sender.id;
    if (
      payload.type === 'notice' &&
      payload.event === 'lost' &&
      how.sender.trust === 'you' &&
      own !== undefined &&
      payload.id?.startsWith(`${own}-`) === true
    )
      return `${this.colour.dim('-- the broker told the room that you lost connection (you are back)')}\n`;
    // One of our lines, back from the broker (in a plain room, unsigned: known by its id).
    if (
      payload.type === 'message' &&
      (how.sender.trust === 'you' || how.sender.trust === 'unsigned') &&
      own !== undefined &&
      payload.id?.startsWith(`${own}-`) === true
    )
      this.echoes?.back(payload.id);
    const mine = own !== undefined && payload.id?.startsWith(`${own}-`) === true;
    const folded = mine ? undefined : this.bursts?.fold(payload, how);
    if (folded !== undefined) return folded;
    const line = windowLine(payload, this.colour, at, how, room ?? '');
    if (payload.type !== 'notice' || payload.event !== 'closed' || how.ownWords) return line;
    if (room === undefined || store === undefined) return line;
    // Anyone in the room can send a "closed" notice: "room 482913 closed by bob" is shown once
    // the registry says the room is closed (else the listener warns that it ignored one).
    this.closing = store
      .status(room)
      .then((status) => {
        if (status?.room.state === 'closed') this.print(line);
      })
      .catch(() => undefined);
    return '';
  }

  historyEnd(shown: number): string {
    return shown > 0 ? `${this.colour.dim(HISTORY_DIVIDER)}\n` : '';
  }

  start(session: ListenerSession): void {
    this.session = session;
    const { stdin, stdout, env } = this.ctx.io;
    this.screen = new ChatScreen(stdin, stdout, this.prompt(), env, {
      line: (text) => this.entered(text),
      end: () => this.leave(),
      interrupt: () => this.leave(),
    });
    this.outbox = new Outbox(session.client, session.target, session.sender, WINDOW);
    this.bursts = new BurstFolder(
      () => burstShown((stdout as { rows?: number }).rows),
      (line) => session.say(line),
      this.colour,
    );
    const { client, target, store } = session;
    // A room that may keep a history: a line not sent back is looked for there before it is
    // reported (the sender stores what the broker acknowledged).
    const { room } = target;
    const inHistory =
      store && room !== undefined && target.identity && keepsHistory(target)
        ? ownLinesInHistory(
            { rows: (query) => store.readHistory(room, query), open: rowsOpener(target.codec) },
            target.identity.signer.publicKey,
            session.sender.id,
          )
        : undefined;
    const echoes = new Echoes(
      // A line sent again is kept in the history once acknowledged, as the first sending is (a
      // row kept already stays as it is).
      (payload, onAck, payloads) =>
        client.publish(target.topic, payload, (err) => {
          if (!err) session.history?.acked(payload, payloads);
          onAck(err);
        }),
      (line) => this.say(this.colour.yellow(line)),
      {},
      inHistory,
    );
    this.echoes = echoes;
    this.outbox.observe((payload, payloads) => echoes.published(payload, payloads));
    // What the broker acknowledged is kept in the room's history (a room that keeps one).
    if (session.history) this.outbox.observe(session.history.observer());
    const where = session.target.room ? `room ${session.target.room}` : session.target.topic;
    this.say(
      this.colour.dim(
        `You are in ${where} as ${visibleName(session.sender.name)}. /help lists the commands.`,
      ),
    );
    void this.present();
    if (this.pending.length > 0) this.flush();
  }

  connection(up: boolean, via?: string): void {
    this.online = up;
    this.screen?.setPrompt(this.prompt());
    if (!up) {
      this.echoes?.offline();
      this.offlineSince ??= Date.now();
      this.say(
        this.colour.yellow('connection lost; reconnecting (what you type is sent when it is back)'),
      );
      return;
    }
    const away = Math.round((Date.now() - (this.offlineSince ?? Date.now())) / 1000);
    this.offlineSince = undefined;
    const where = via === undefined ? '' : ` via ${via}`;
    this.say(
      this.colour.green(`connection back${where} after ${away} s; what was sent meanwhile follows`),
    );
    this.echoes?.reconnected(this.session?.client.sessionPresent !== true);
  }

  async finish(): Promise<void> {
    this.leaving = true;
    this.bursts?.flush();
    const outbox = this.outbox;
    const sent = this.flushing.then(async () => {
      await outbox?.end();
      await outbox?.drained();
      // And back from the broker: what is not, is reported as not delivered.
      await this.echoes?.allBack();
    });
    // Offline, nothing more is acknowledged: what was typed and not sent is counted at once.
    await Promise.all([
      withTimeout(sent, this.online ? FINISH_TIMEOUT_MS : 0),
      // The room closed: who closed it shows before the window ends.
      withTimeout(this.closing ?? Promise.resolve(), FINISH_TIMEOUT_MS),
    ]);
    this.echoes?.stop();
    // A half-typed line is not lost from sight: it stays on the screen, marked as never sent.
    const unsent = this.screen?.close() ?? '';
    if (unsent.trim() !== '')
      this.ctx.io.stdout.write(this.colour.yellow(`not sent: ${visibleLine(unsent)}`) + '\n');
    this.undelivered = outbox?.flight.outstanding ?? 0;
  }

  close(): void {
    this.screen?.close();
  }

  /** After the window closed: lines typed and never acknowledged are an error, not a silence. */
  checkDelivered(): void {
    const n = this.undelivered;
    if (n > 0)
      throw new UnavailableError(
        `${n} line${n === 1 ? '' : 's'} you typed ${n === 1 ? 'was' : 'were'} not acknowledged by the broker before you left`,
      );
  }

  private prompt(): string {
    const mark = this.online ? '' : this.colour.yellow('(offline) ');
    return `${mark}> `;
  }

  private say(text: string): void {
    this.print(`${text}\n`);
  }

  /** Leaves the room: Ctrl-C, Ctrl-D, /quit; within the bound a Ctrl-C has, whatever answers. */
  private leave(): void {
    if (this.leaving) return;
    this.leaving = true;
    interrupt();
    this.session?.leave();
  }

  private entered(text: string): void {
    if (this.leaving) return;
    if (text.startsWith('/') && !text.startsWith('//')) return this.command(text);
    const line = text.startsWith('//') ? text.slice(1) : text;
    if (line.trim() === '') return;
    const bytes = Buffer.byteLength(line);
    if (bytes > MAX_TEXT_BYTES) {
      this.say(
        this.colour.yellow(
          `not sent: that line is ${bytes} bytes, and a message holds at most ${MAX_TEXT_BYTES}`,
        ),
      );
      return;
    }
    // Offline, the line cannot come back as a message yet: it shows as waiting meanwhile.
    if (!this.online) this.say(this.colour.dim(`waiting for the connection: ${visibleLine(line)}`));
    this.pending.push(line);
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  /** Sends what was entered since the last turn of the event loop, after what went before. */
  private flush(): void {
    const outbox = this.outbox;
    if (!outbox || this.pending.length === 0) return;
    const lines = this.pending.map((text) => ({ number: undefined, text }));
    this.pending = [];
    this.flushing = this.flushing
      .then(() => outbox.send(lines))
      .catch((err: Error) => this.say(this.colour.yellow(`not sent: ${err.message}`)));
  }

  private command(text: string): void {
    const [name] = text.slice(1).split(/\s+/, 1);
    switch (name) {
      case 'quit':
      case 'exit':
      case 'q':
        return this.leave();
      case 'help':
        return this.say(HELP.join('\n'));
      case 'me': {
        const does = text.slice(1 + name.length).replace(/^ /, '');
        if (does.trim() === '')
          return this.say(this.colour.yellow('/me needs what you do: /me waves'));
        // "//" sends a line that starts with "/": the action as it travels.
        return this.entered(`/${ACTION_PREFIX}${does}`);
      }
      case 'who':
        return void this.who();
      default:
        this.say(
          this.colour.yellow(`unknown command /${visibleLine(name ?? '')}; /help lists them`),
        );
    }
  }

  /**
   * The room's live members, from the registry, each by the key that signed it (`members.ts`);
   * undefined (and said why) when there is no room or the registry does not answer.
   */
  private async members(): Promise<{ room: string; views: MemberView[] } | undefined> {
    const session = this.session;
    const room = session?.target.room;
    if (!session?.store || room === undefined) {
      this.say('/who needs a room: on a raw topic nobody is registered');
      return undefined;
    }
    try {
      session.senders?.save();
      const status = await session.store.status(room);
      const members = status?.members ?? [];
      const identity = session.target.identity;
      const me = { name: this.ctx.config.name, publicKey: identity?.signer.publicKey };
      const { home } = this.ctx.config;
      const viewer = viewerOf(home, session.store.label, room, me, identity !== undefined);
      return { room, views: members.map((m) => viewMember(m, viewer)) };
    } catch (err) {
      this.say(
        this.colour.yellow(
          `cannot ask the registry who is here: ${visibleLine((err as Error).message)}`,
        ),
      );
      return undefined;
    }
  }

  /** /who: one member a line (a name like "carol, dave" in a list would pass for two members). */
  private async who(): Promise<void> {
    const found = await this.members();
    if (!found) return;
    const { room, views } = found;
    const lines = views.map((view) => `  ${memberLine(view, this.colour)}`);
    this.say(
      views.length === 0
        ? `nobody is in room ${room}`
        : [`in room ${room} (${views.length}):`, ...lines].join('\n'),
    );
  }

  /**
   * On entering a room: who else is there (IRC's NAMES on join), as /who checks them. Our own
   * rows are "you": in a signed room the rows under our key, in a plain one our name's first row.
   */
  private async present(): Promise<void> {
    if (this.session?.target.room === undefined) return; // a raw topic: nobody is registered
    const found = await this.members();
    if (!found || this.leaving) return;
    let others = found.views;
    let mine = 1;
    if (this.session.target.identity !== undefined) {
      others = found.views.filter((v) => v.trust !== 'you');
      mine = Math.max(1, found.views.length - others.length);
    } else {
      const at = others.findIndex((v) => v.name === this.ctx.config.name);
      if (at >= 0) others = others.filter((_, i) => i !== at);
    }
    this.say(this.colour.dim(presentLine(others, mine, this.colour)));
  }
}
