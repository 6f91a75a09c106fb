// The room window's own lines, in real terminals (tmux panes), when the broker fails them: a line
// typed while the broker restarts (and forgets every session) shows once in both windows, and a
// line the broker takes and never delivers is reported in the window as not delivered.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { expect } from 'chai';
import { freePort } from '../helpers/brokers.js';
import { createRoomWithPassword, startProgram, type RunningProgram } from '../helpers/programs.js';
import { requireTmux, type Terminal } from '../helpers/terminal.js';
import { openChatWindow, scratchUser, typeLine } from '../helpers/window.js';
import { waitFor } from '../helpers/wait.js';

/** How often `text` occurs in `lines`. */
/** A window's rows as its lines: a long line's later rows (indented) joined back to it. */
function unwrapped(rows: string[]): string {
  return rows.join('\n').replace(/ *\n {9}/g, ' ');
}

function occurrences(lines: string[], text: string | RegExp): number {
  const all = lines.join('\n');
  return typeof text === 'string' ? all.split(text).length - 1 : (all.match(text) ?? []).length;
}

/**
 * An aedes broker on a fixed port that can be stopped and started again there, empty (as `room
 * serve` restarts: every session and subscription gone). It counts what each client published,
 * and can be told to take messages and deliver them to nobody.
 */
class RestartableBroker {
  /** While true, the broker acknowledges publishes on `topic` and delivers them to no one. */
  swallow = false;
  /** Payloads published on the room's topics, as many times as they were published. */
  readonly published: string[] = [];
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(readonly port: number) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker({
      authorizeForward: (_client, packet) =>
        this.swallow && packet.topic.startsWith('sunoye/') ? null : packet,
    });
    aedes.on('publish', (packet, client) => {
      if (client && packet.topic.startsWith('sunoye/')) this.published.push(String(packet.payload));
    });
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      aedes.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.aedes = aedes;
    this.server = server;
  }

  async stop(): Promise<void> {
    const { aedes, server } = this;
    this.aedes = undefined;
    this.server = undefined;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('room chat: lines the broker lost or never delivered (tmux, aedes)', function () {
  this.timeout(120_000);
  let dir: string;
  let broker: RestartableBroker;
  let password: string;
  let room: string;
  const terminals: Terminal[] = [];
  const user = (name: string, extra: Record<string, string> = {}) =>
    scratchUser(dir, broker.url, name, extra);

  /** Opens `room chat` for `name` and waits for its own join line. */
  const chatWindow = (name: string) =>
    openChatWindow(room, user(name, { SUNOYE_PASSWORD: password }), terminals, {
      columns: 100,
      rows: 30,
    });

  before(async function () {
    await requireTmux(this);
    dir = mkdtempSync(join(tmpdir(), 'sunoye-delivery-'));
    broker = new RestartableBroker(await freePort());
    await broker.start();
  });
  beforeEach(async function () {
    broker.swallow = false;
    ({ room, password } = await createRoomWithPassword(user('alice')));
  });
  afterEach(async function () {
    for (const t of terminals.splice(0)) await t.close();
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a line typed while the broker restarts empty shows once in both windows', async function () {
    const alice = await chatWindow('alice');
    const bob = await chatWindow('bob');
    await alice.waitFor('bob joining', (rows) => rows.some((r) => /-- bob joined \[key /.test(r)));
    await broker.stop();
    for (const t of [alice, bob])
      await t.waitFor('the connection lost', (rows) =>
        rows.some((r) => r.includes('connection lost; reconnecting')),
      );
    const before = broker.published.length;
    await typeLine(bob, 'typed while the broker was down');
    await bob.waitFor('the line shown as waiting', (rows) =>
      rows.some((r) => r === 'waiting for the connection: typed while the broker was down'),
    );
    await broker.start();
    const mine = 'bob (you): typed while the broker was down';
    // alice shows it live, or (when bob sent it before she was subscribed again) found in the
    // room's history, which she reads once back without her session: once either way.
    const theirs = /bob( \(late: found in the room's history\))?: typed while the broker was down/g;
    await bob.waitFor('the line back in bob', (rows) => occurrences(rows, mine) > 0, {
      history: true,
      timeoutMs: 40_000,
    });
    await alice.waitFor('the line in alice', (rows) => occurrences(rows, theirs) > 0, {
      history: true,
      timeoutMs: 40_000,
    });
    // Some payload was published twice since (the resend, after every window had time to be
    // back): the copy is dropped by both windows, silently.
    await waitFor(
      'a copy of the line sent again',
      () => {
        const since = broker.published.slice(before);
        return since.some((p, i) => since.indexOf(p) !== i);
      },
      30_000,
    );
    // A later line, after the copy: both windows have handled the copy by the time it shows.
    await typeLine(bob, 'and a later line');
    await alice.waitFor(
      'the later line',
      (rows) => rows.some((r) => r.endsWith('bob: and a later line')),
      {
        timeoutMs: 20_000,
      },
    );
    await bob.waitFor('the later line in bob', (rows) =>
      rows.some((r) => r.endsWith('bob (you): and a later line')),
    );
    const a = await alice.history();
    const b = await bob.history();
    expect(occurrences(b, mine), b.join('\n')).to.equal(1);
    expect(occurrences(a, theirs), a.join('\n')).to.equal(1);
    for (const rows of [a, b]) {
      const text = rows.join('\n');
      expect(text, text).not.to.match(/did not arrive|replayed|not delivered|ignored/);
    }
  });

  it('after a broker restart, warns of a sender that went quiet across it, not of itself or of one heard from since', async function () {
    const alice = await chatWindow('alice');
    const bob = await chatWindow('bob');
    await alice.waitFor('bob joining', (rows) => rows.some((r) => /-- bob joined \[key /.test(r)));
    for (const [name, t] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      await t.type(`hello from ${name}`);
      await t.press('Enter');
    }
    // carol: a publish whose stream is open (no end marker) when the broker goes, killed meanwhile:
    // what it sent then is really lost, and the windows say so.
    const carol: RunningProgram = startProgram(
      'publish',
      [room],
      user('carol', { SUNOYE_PASSWORD: password }),
    );
    carol.child.stdin.write('carol before the restart\n');
    for (const t of [alice, bob])
      await t.waitFor('every line', (rows) =>
        ['alice: hello from alice', 'bob: hello from bob', 'carol: carol before the restart'].every(
          (line) => rows.some((r) => r.replace(/ \(you\)| \[key [^\]]*\]/, '').endsWith(line)),
        ),
      );
    await broker.stop();
    for (const t of [alice, bob])
      await t.waitFor('the connection lost', (rows) =>
        rows.some((r) => r.includes('connection lost; reconnecting')),
      );
    carol.child.kill('SIGKILL');
    await carol.exited;
    // A line typed while the broker is down arrives after the reconnect: bob is not quiet.
    await bob.type('typed while the broker was down');
    await bob.press('Enter');
    await broker.start();
    const quiet = /nothing more arrived from carol/;
    for (const t of [alice, bob])
      await t.waitFor('the warning about carol', (rows) => quiet.test(rows.join('\n')), {
        history: true,
        timeoutMs: 60_000,
      });
    // A window gives its warnings of a reconnect at once: by now each has said what it will.
    const named = async (t: Terminal): Promise<string[]> => {
      const text = (await t.history()).join('\n').replace(/ *\n {9}/g, ' ');
      expect(text, text).to.match(
        /bob( \(you\)| \(late: found in the room's history\))?: typed while the broker was down/,
      );
      const warnings = [
        ...text.matchAll(
          /nothing more arrived from (\w+) after the connection was lost at ([\d:]+) \(last message seq \d+ at ([\d:]+)/g,
        ),
      ];
      // Never a message "after" the loss that it says nothing arrived after.
      for (const [line, , lost, last] of warnings) expect(last! <= lost!, line).to.equal(true);
      return warnings.map((w) => w[1]!).sort();
    };
    // alice's window: not alice (its own lines), not bob (heard from since the reconnect).
    expect(await named(alice)).to.deep.equal(['carol']);
    // bob's window: alice went quiet across the reconnect, with no end of her stream, as carol did.
    expect(await named(bob)).to.deep.equal(['alice', 'carol']);
  });

  for (const kind of ['no history', 'plain', 'history'] as const)
    it(`a line the broker takes and never delivers is reported in the window as ${kind === 'history' ? 'not sent back, found in the room history' : `not delivered (${kind === 'plain' ? 'plain room' : 'a room without history'})`}`, async function () {
      const plain = kind === 'plain';
      const options = { plain: ['--plain'], 'no history': ['--history', '0'], history: [] }[kind];
      ({ room, password } = await createRoomWithPassword(user('alice'), options));
      // In a plain room nothing is signed: no "(you)" beside our own name.
      const mine = plain ? 'bob: ' : 'bob (you): ';
      const alice = await chatWindow('alice');
      const bob = await chatWindow('bob');
      await alice.waitFor('bob joining', (rows) => rows.some((r) => r.includes('-- bob joined')));
      // A line that comes back is never reported, however long after.
      await typeLine(bob, 'a line that comes back');
      await alice.waitFor('the line that came back', (r) =>
        r.some((row) => row.endsWith('bob: a line that comes back')),
      );
      await bob.waitFor('the line back in bob', (r) =>
        r.some((row) => row.endsWith(`${mine}a line that comes back`)),
      );
      broker.swallow = true;
      await typeLine(bob, 'a line the broker swallows');
      const report =
        kind === 'history'
          ? 'not sent back: "a line the broker swallows" (the broker did not send it back; it is in the room\'s history, where the others\' listeners find it)'
          : 'not delivered: "a line the broker swallows" (the broker did not send it back)';
      const rows = await bob.waitFor('the line reported', (r) => unwrapped(r).includes(report), {
        timeoutMs: 30_000,
        history: true,
      });
      expect(occurrences(rows, `${mine}a line the broker swallows`)).to.equal(0);
      const a = await alice.history();
      expect(occurrences(a, 'a line the broker swallows'), a.join('\n')).to.equal(0);
      broker.swallow = false;
      // Ctrl-D: lines still come (bob's end of stream, which shows the swallowed line missing)
      // while the window leaves, after readline has closed; the window ends well (exit 0).
      await bob.press('C-d');
      const code = await bob.exited();
      const shown = await bob.history();
      expect(code, shown.join('\n')).to.equal(0);
      // Told once, by the window: its own stream's gap is not reported again as a loss.
      expect(shown.join('\n')).to.not.include('did not arrive');
      expect(
        occurrences(shown, kind === 'history' ? 'not sent back' : 'not delivered'),
        shown.join('\n'),
      ).to.equal(1);
      if (kind === 'history')
        // bob's end of stream showed alice the gap: she found the line in the history, once.
        await alice.waitFor(
          'the line found in the history',
          (r) =>
            occurrences(
              [unwrapped(r)],
              "bob (late: found in the room's history): a line the broker swallows",
            ) === 1,
          { history: true },
        );
    });
});
