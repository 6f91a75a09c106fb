// `room chat` against what irssi and WeeChat do, in real terminals (tmux panes): entering a room
// says who is there, /me is an action, a paste of many lines is asked about, and a sender's burst
// of lines is folded into a count instead of pushing the conversation out of the scrollback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { writeSqlite } from '../helpers/registries.js';
import {
  createRoomWithPassword,
  joinedListener,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { requireTmux, type Terminal } from '../helpers/terminal.js';
import { openChatWindow, scratchUser, typeLine } from '../helpers/window.js';

describe('room chat: the conventions of IRC clients', function () {
  this.timeout(90_000);
  let dir: string;
  let broker: TestBroker;
  let password: string;
  let room: string;
  const running: RunningProgram[] = [];
  const terminals: Terminal[] = [];
  const user = (name: string, extra: Record<string, string> = {}) =>
    scratchUser(dir, broker.url, name, extra);
  const inRoom = (name: string) => user(name, { SUNOYE_PASSWORD: password });

  /** Opens `room chat` for `name` and waits for its own join line. */
  const chatWindow = (name: string, size = { columns: 100, rows: 24 }) =>
    openChatWindow(room, inRoom(name), terminals, size);

  async function createRoom(plain = false): Promise<void> {
    ({ room, password } = await createRoomWithPassword(user('alice'), plain ? ['--plain'] : []));
  }

  before(async function () {
    await requireTmux(this);
    dir = mkdtempSync(join(tmpdir(), 'sunoye-conventions-'));
    broker = await startAedes();
  });
  afterEach(async function () {
    for (const t of terminals.splice(0)) await t.close();
    await stopAll(running);
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('entering a room says who is already there, each as /who checks them', async function () {
    await createRoom();
    const alice = await chatWindow('alice');
    await alice.waitFor('nobody else', (rows) => rows.includes('nobody else is in the room'));
    // A row the database's writer added, signed by nobody: never shown as someone's.
    writeSqlite(
      join(dir, 'registry.db'),
      'INSERT INTO members (id, room, name, joined_at, heartbeat_at, lease_ms) VALUES (?, ?, ?, ?, ?, ?)',
      ['e'.repeat(32), room, 'carol, dave', Date.now(), Date.now(), 3_600_000],
    );
    const bob = await chatWindow('bob');
    await bob.waitFor('who is there', (rows) =>
      rows.includes('in the room: alice, "carol, dave" [unverified] (and you)'),
    );
  });

  it('/me sends an action: "* bob waves" in windows, `"action": true` in listen --json', async function () {
    await createRoom();
    const alice = await chatWindow('alice');
    const observer = await joinedListener(room, [], inRoom('carol'), running);
    const human = startProgram('listen', [room], inRoom('dave'));
    running.push(human);
    await human.line('dave joined', (l) => l.includes('dave'));
    const bob = await chatWindow('bob');
    await typeLine(bob, '/me waves at alice');
    await bob.waitFor('the action in bob', (rows) =>
      rows.some((r) => r.endsWith('* bob (you) waves at alice')),
    );
    await alice.waitFor('the action in alice', (rows) =>
      rows.some((r) => /\* bob( \[key [^\]]+\])? waves at alice$/.test(r)),
    );
    await human.line('the action in listen', (l) =>
      /\* bob( \[key [^\]]+\])? waves at alice$/.test(l),
    );
    const got = await observer.line('the action', (l) => l.includes('waves at alice'));
    // It travels as IRC's "/me" text, which MQTT-Chat clients show as it is.
    expect(JSON.parse(got)).to.include({
      type: 'message',
      from: 'bob',
      message: '/me waves at alice',
      action: true,
    });
    // A message is no action: no "action" field.
    await typeLine(bob, 'plain words');
    const plain = await observer.line('the message', (l) => l.includes('plain words'));
    expect(JSON.parse(plain)).not.to.have.property('action');
    await typeLine(bob, '/me');
    await bob.waitFor('what /me needs', (rows) =>
      rows.includes('/me needs what you do: /me waves'),
    );
    await typeLine(bob, '/help');
    await bob.waitFor('/me in the help', (rows) => rows.some((r) => r.startsWith('/me waves')));
  });

  it('a paste of more than 5 lines is asked about first: n drops it, y sends it in order', async function () {
    await createRoom();
    const observer = await joinedListener(room, [], inRoom('carol'), running);
    const bob = await chatWindow('bob');
    const lines = (tag: string) => Array.from({ length: 12 }, (_, i) => `${tag} ${i + 1}`);
    const question = 'paste 12 lines? y sends them, n drops them';
    const asked = (rows: string[]) => rows.filter((r) => r === question).length;
    await bob.paste(lines('dropped').join('\n') + '\n');
    await bob.waitFor('the question', (rows) => asked(rows) === 1);
    await bob.press('n');
    await bob.waitFor('the paste dropped', (rows) =>
      rows.includes('dropped the paste of 12 lines'),
    );
    await typeLine(bob, 'after the question');
    await observer.line('the typed line', (l) => l.includes('after the question'));
    // A terminal without bracketed paste: the keys that came in one chunk are asked about too.
    await bob.paste(lines('sent').join('\n') + '\n', { bracketed: false });
    await bob.waitFor('the question again', (rows) => asked(rows) === 2);
    await bob.press('y');
    await observer.line('the last pasted line', (l) => l.includes('"message":"sent 12"'));
    const messages = jsonLines(observer.stdoutLines)
      .filter((m) => m.type === 'message')
      .map((m) => m.message);
    expect(messages).to.deep.equal(['after the question', ...lines('sent')]);
  });

  it('a pasted last line without a line end is counted: n drops all of it, y leaves it typed', async function () {
    await createRoom();
    const observer = await joinedListener(room, [], inRoom('carol'), running);
    const bob = await chatWindow('bob');
    const seven = Array.from({ length: 7 }, (_, i) => `line ${i + 1}`).join('\n');
    const question = 'paste 7 lines? y sends 6 and leaves the last one typed, n drops all 7';
    const asked = (rows: string[]) => rows.filter((r) => r === question).length;
    await bob.paste(seven);
    await bob.waitFor('the question', (rows) => asked(rows) === 1);
    await bob.press('n');
    await bob.waitFor('the paste dropped', (rows) => rows.includes('dropped the paste of 7 lines'));
    // Nothing of it is left typed.
    await bob.press('Enter');
    await bob.paste(seven);
    await bob.waitFor('the question again', (rows) => asked(rows) === 2);
    await bob.press('y');
    await observer.line('the sixth line', (l) => l.includes('"message":"line 6"'));
    await bob.waitFor('the last line typed', (rows) => rows.includes('> line 7'));
    await bob.type(' typed on');
    await bob.press('Enter');
    await observer.line('the last line', (l) => l.includes('line 7 typed on'));
    const messages = jsonLines(observer.stdoutLines)
      .filter((m) => m.type === 'message')
      .map((m) => m.message);
    expect(messages).to.deep.equal([
      ...Array.from({ length: 6 }, (_, i) => `line ${i + 1}`),
      'line 7 typed on',
    ]);
  });

  it('a burst from a pipe shows a screenful, then a count; the counts add up', async function () {
    await createRoom();
    const bob = await chatWindow('bob', { columns: 80, rows: 24 });
    const input = Array.from({ length: 2000 }, (_, i) => `${i + 1}\n`).join('');
    const sent = await runProgram('publish', [room], { env: inRoom('dave'), input });
    expect(sent.code, sent.stderr).to.equal(0);
    const history = await bob.waitFor(
      'the count of what was not shown',
      (rows) => rows.some((r) => r.includes('more lines from dave')),
      { history: true },
    );
    // 24 rows: 20 lines of the burst, the line that says the rest is counted, and the count.
    const shown = history.flatMap((r) => /dave( \[key [^\]]+\])?: (\d+)$/.exec(r)?.[2] ?? []);
    expect(shown).to.deep.equal(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    expect(history).to.include(
      '… dave is sending many lines: the window counts the rest (listen shows them)',
    );
    expect(history).to.include('… 1,980 more lines from dave (listen shows them)');
    expect(history.join('\n')).not.to.include('did not arrive');
    // Lines after the burst are shown as ever, and the window's own lines too.
    await typeLine(bob, 'after the burst');
    await bob.waitFor('bob after the burst', (rows) =>
      rows.some((r) => r.endsWith('bob (you): after the burst')),
    );
  });

  it("another sender's lines in the middle of a burst are shown as ever", async function () {
    await createRoom(true);
    const bob = await chatWindow('bob', { columns: 80, rows: 24 });
    const client = await mqtt.connectAsync(broker.url);
    try {
      const say = (from: string, message: string) =>
        client.publishAsync(
          `sunoye/room/${room}`,
          JSON.stringify({ type: 'message', from, message }),
          { qos: 1 },
        );
      for (let i = 1; i <= 40; i++) await say('dave', `line ${i}`);
      await say('carol', 'in the middle');
      for (let i = 41; i <= 80; i++) await say('dave', `line ${i}`);
    } finally {
      await client.endAsync();
    }
    const history = await bob.waitFor(
      'the count',
      (rows) => rows.includes('… 60 more lines from dave (listen shows them)'),
      { history: true },
    );
    const dave = history.filter((r) => /dave: line \d+$/.test(r));
    expect(dave).to.have.length(20);
    expect(dave.at(-1)).to.match(/dave: line 20$/);
    expect(history.some((r) => r.endsWith('carol: in the middle'))).to.equal(true);
  });
});
