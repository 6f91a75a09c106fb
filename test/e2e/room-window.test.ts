// `room chat`, the room window, in real terminals (tmux panes): two people chatting both ways, a
// message arriving mid-line, a 10,000-character paste, Ctrl-C, and the room closed under it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { writeSqlite } from '../helpers/registries.js';
import {
  createRoomWithPassword,
  joinedListener,
  jsonLines,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { openTerminal, requireTmux, type Terminal } from '../helpers/terminal.js';
import { openChatWindow, scratchUser, typeLine } from '../helpers/window.js';
import { startProxy } from '../helpers/proxy.js';
import mqtt from 'mqtt';
import { waitFor } from '../helpers/wait.js';

/** How often `text` occurs in `lines`. */
function occurrences(lines: string[], text: string): number {
  return lines.join('\n').split(text).length - 1;
}

/**
 * The rows below the first row that `match`es, once the input line has been drawn again there
 * (without the empty rows under it); undefined until then.
 */
function inputBelow(screen: string[], match: (row: string) => boolean): string[] | undefined {
  const at = screen.findIndex(match);
  if (at < 0) return undefined;
  const below = screen.slice(at + 1).map((row) => row.trimEnd());
  while (below.at(-1) === '') below.pop();
  return below.some((row) => row.startsWith('>')) ? below : undefined;
}

/** A `/who` row without its indent and join time. */
function member(row: string): string {
  return row.trimEnd().replace(/^ {2}joined [\d:-]+( [\d:]+)? {2}/, '');
}

/** The row the cursor's line is on: the last non-empty row of the screen. */
function inputRow(screen: string[]): string {
  return ([...screen].reverse().find((row) => row.trim() !== '') ?? '').trimEnd();
}

describe('room chat: the room window in a real terminal', function () {
  this.timeout(90_000);
  let dir: string;
  let broker: TestBroker;
  let password: string;
  let room: string;
  const running: RunningProgram[] = [];
  const terminals: Terminal[] = [];
  const user = (name: string, extra: Record<string, string> = {}) =>
    scratchUser(dir, broker.url, name, extra);

  /** Opens `room chat` for `name` and waits for its own join line. */
  const chatWindow = (
    name: string,
    size = { columns: 80, rows: 24 },
    extra: Record<string, string> = {},
  ) => openChatWindow(room, user(name, { SUNOYE_PASSWORD: password, ...extra }), terminals, size);

  before(async function () {
    await requireTmux(this);
    dir = mkdtempSync(join(tmpdir(), 'sunoye-window-'));
    broker = await startAedes();
  });
  beforeEach(async function () {
    ({ room, password } = await createRoomWithPassword(user('alice')));
  });
  afterEach(async function () {
    for (const t of terminals.splice(0)) await t.close();
    await stopAll(running);
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('two people chat both ways; each line shows once, where the others see it', async function () {
    const alice = await chatWindow('alice');
    const bob = await chatWindow('bob');
    await alice.waitFor('bob joining', (rows) => rows.some((r) => /-- bob joined \[key /.test(r)));
    await typeLine(alice, 'hello bob');
    await bob.waitFor('alice in bob', (rows) =>
      // alice's key is marked first seen where bob first saw it: on her join line in the
      // history the window opens with.
      rows.some((r) => /alice( \[key [^\]]+\])?: hello bob$/.test(r)),
    );
    await typeLine(bob, 'hi alice');
    await alice.waitFor('bob in alice', (rows) => rows.some((r) => r.endsWith('bob: hi alice')));
    const shown = await bob.waitFor('bob own line', (rows) =>
      rows.some((r) => r.endsWith('bob (you): hi alice')),
    );
    // Typed lines are taken off the input line and come back once, as messages.
    for (const t of [alice, bob]) {
      const rows = await t.screen();
      expect(occurrences(rows, 'hello bob'), rows.join('\n')).to.equal(1);
      expect(occurrences(rows, 'hi alice'), rows.join('\n')).to.equal(1);
      expect(inputRow(rows)).to.equal('>');
    }
    // Only bob's own join is live on his screen (alice's is in the history above the divider).
    expect(shown.filter((r) => r.includes('joined') && !r.includes('(earlier)'))).to.have.length(1);
  });

  it('a message arriving mid-line leaves the half-typed line intact, also wrapped on a narrow terminal', async function () {
    const alice = await chatWindow('alice');
    const bob = await chatWindow('bob', { columns: 30, rows: 12 });
    const half = 'a half typed line that wraps on thirty columns';
    await bob.type(half);
    await bob.waitFor('the typed line', (rows) => rows.join('').includes(half.slice(-10)));
    // One word: it ends on the row it starts on, whether alice's key is marked there or on her
    // join line in the history the window opened with.
    await typeLine(alice, 'interrupting');
    const first = (row: string): boolean => row.includes('interrupting');
    const rows = await bob.waitFor(
      'the message above the input',
      (r) => inputBelow(r, first) !== undefined,
    );
    // The typed line is below the message, whole (it wraps: its rows joined).
    expect(inputBelow(rows, first)).to.deep.equal([`> ${half}`]);
    // A resize keeps it too.
    await bob.resize(50, 12);
    await typeLine(alice, 'and again');
    const second = (row: string): boolean => row.includes('and again');
    const after = await bob.waitFor(
      'the second message',
      (r) => inputBelow(r, second) !== undefined,
    );
    expect(inputBelow(after, second)).to.deep.equal([`> ${half}`]);
    // Finishing the line sends all of it, as typed.
    await typeLine(bob, ' and done');
    await alice.waitFor('the finished line', (r) =>
      r.some((row) => row.endsWith(`bob: ${half} and done`)),
    );
  });

  it('keys arriving in one chunk, the cursor moved across rows, a paste mid-line and a resize leave one whole typed line', async function () {
    // Wide enough for bob's whole line on one row (a longer one is broken over rows).
    const alice = await chatWindow('alice', { columns: 100, rows: 24 });
    const bob = await chatWindow('bob', { columns: 30, rows: 14 });
    /** Bob's screen once `text` has arrived: the typed line is below it, whole, and only there. */
    const typedLineUnder = async (text: string, typed: string): Promise<void> => {
      await typeLine(alice, text);
      // alice's lines are broken over rows at this width: the last one ends with the text, which
      // may be on an indented row of its own.
      const from = (row: string): boolean =>
        row.endsWith(`: ${text}`) || row === `${' '.repeat(9)}${text}`;
      const rows = await bob.waitFor(text, (r) => inputBelow(r, from) !== undefined);
      expect(inputBelow(rows, from), rows.join('\n')).to.deep.equal([`> ${typed}`]);
      expect(occurrences(rows, 'start'), rows.join('\n')).to.equal(1);
    };
    // One chunk of keys (as a paste, or typing over a slow link) that wraps over three rows.
    const line = 'start of a line typed in one go that wraps over three rows';
    await bob.type(line);
    await bob.waitFor('the typed line', (rows) =>
      rows.some((r) => r.trimEnd().endsWith('three rows')),
    );
    // The cursor back across the rows, to the start of the second word.
    await bob.press(...Array<string>(line.length - 6).fill('Left'));
    await typedLineUnder('one', line);
    // A paste in the middle goes in at the cursor.
    await bob.type('[pasted] ');
    const pasted = `start [pasted] ${line.slice(6)}`;
    await typedLineUnder('two', pasted);
    // The terminal rewraps the screen at once, the window only when its resize signal comes: a
    // key typed after the resize and seen on the screen was read after that signal, so a message
    // drawn from then on is drawn at the new width (one that arrives in between is drawn for the
    // old width over rows the terminal has moved: a race of any terminal program, not tested).
    const resized = async (columns: number): Promise<void> => {
      await bob.resize(columns, 14);
      await bob.type('x');
      await bob.waitFor(
        'a key after the resize',
        (rows) => occurrences(rows, '[pasted] xof') === 1,
      );
      await bob.press('BSpace');
      await bob.waitFor('the key taken back', (rows) => occurrences(rows, '[pasted] of') === 1);
    };
    // Narrower: the terminal rewraps the line over more rows; then wider again.
    await resized(20);
    await typedLineUnder('three', pasted);
    await resized(45);
    await typedLineUnder('four', pasted);
    await bob.press('Enter');
    await alice.waitFor('the line as typed', (rows) =>
      rows.some((r) => r.endsWith(`bob: ${pasted}`)),
    );
  });

  it('a 10,000-character paste goes as one message, uncut; a multi-line paste goes in order', async function () {
    const observer = await joinedListener(
      room,
      [],
      user('carol', { SUNOYE_PASSWORD: password }),
      running,
    );
    const bob = await chatWindow('bob', { columns: 100, rows: 40 });
    const long = Array.from({ length: 10_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(
      '',
    );
    await bob.paste(long);
    await bob.press('Enter');
    const got = await observer.line('the long line', (l) => l.includes('"type":"message"'), 30_000);
    expect((JSON.parse(got) as { message: string }).message).to.equal(long);
    await bob.paste('first\nsecond\nthird\n');
    await observer.line('the third line', (l) => l.includes('"message":"third"'), 30_000);
    const messages = jsonLines(observer.stdoutLines)
      .filter((m) => m.type === 'message')
      .map((m) => m.message);
    expect(messages).to.deep.equal([long, 'first', 'second', 'third']);
  });

  it('sees listen and publish in the same room; /who lists the members with their keys', async function () {
    const bob = await chatWindow('bob');
    const observer = await joinedListener(
      room,
      [],
      user('carol', { SUNOYE_PASSWORD: password }),
      running,
    );
    await bob.waitFor('carol joining', (rows) =>
      rows.some((r) => /-- carol joined \[key /.test(r)),
    );
    const sent = await runProgram('publish', [room, '-m', 'from a pipe'], {
      env: user('dave', { SUNOYE_PASSWORD: password }),
    });
    expect(sent.code, sent.stderr).to.equal(0);
    await bob.waitFor('the published line', (rows) =>
      rows.some((r) => /dave \[key .*\]: from a pipe$/.test(r)),
    );
    await typeLine(bob, 'seen it');
    await observer.line('bob in the listener', (l) => l.includes('"message":"seen it"'));
    await typeLine(bob, '/who');
    const rows = await bob.waitFor('the member list', (r) =>
      r.some((row) => row === `in room ${room} (2):`),
    );
    // One member a line, so that no name can pass for two.
    const at = rows.indexOf(`in room ${room} (2):`);
    const who = rows
      .slice(at + 1, at + 3)
      .map(member)
      .sort();
    expect(who[0]).to.match(/^bob \(you\) \[key [0-9a-f]{4}-[0-9a-f-]+\]$/);
    expect(who[1]).to.match(/^carol \[key [0-9a-f]{4}-[0-9a-f-]+\]$/);
  });

  it('/who shows each member by its own key: another key under a known name, a row written into the database', async function () {
    const bob = await chatWindow('bob');
    await joinedListener(room, [], user('carol', { SUNOYE_PASSWORD: password }), running);
    await bob.waitFor('carol joining', (rows) =>
      rows.some((r) => /-- carol joined \[key /.test(r)),
    );
    // mallory, with her own SUNOYE_HOME, listens as carol; the database's writer adds a row.
    const mallory = { SUNOYE_PASSWORD: password, SUNOYE_HOME: join(dir, 'home-mallory') };
    await joinedListener(room, [], user('carol', mallory), running);
    writeSqlite(
      join(dir, 'registry.db'),
      'INSERT INTO members (id, room, name, joined_at, heartbeat_at, lease_ms) VALUES (?, ?, ?, ?, ?, ?)',
      ['e'.repeat(32), room, 'carol, dave', Date.now(), Date.now(), 3_600_000],
    );
    const [bobKey, carolKey, malloryKey] = await Promise.all(
      [user('bob'), user('carol'), user('carol', mallory)].map(async (env) => {
        const run = await runProgram('room', ['whoami', '--json'], { env });
        return (JSON.parse(run.stdout) as { key: string }).key;
      }),
    );
    await typeLine(bob, '/who');
    const rows = await bob.waitFor('the member list', (r) =>
      r.some((row) => row === `in room ${room} (4):`),
    );
    const at = rows.indexOf(`in room ${room} (4):`);
    expect(
      rows
        .slice(at + 1, at + 5)
        .map(member)
        .sort(),
    ).to.deep.equal([
      '"carol, dave" [unverified]',
      `[key ${malloryKey}, NOT the "carol" you know]`,
      `bob (you) [key ${bobKey}]`,
      `carol [key ${carolKey}]`,
    ]);
  });

  it('Ctrl-C leaves cleanly: exit 0, the others see "bob left", a half-typed line stays in sight', async function () {
    const alice = await chatWindow('alice');
    const bob = await chatWindow('bob');
    await bob.type('never sent');
    await bob.press('C-c');
    expect(await bob.exited()).to.equal(0);
    await alice.waitFor('bob leaving', (rows) => rows.some((r) => r.endsWith('-- bob left')));
    const rows = await alice.screen();
    expect(rows.join('\n')).not.to.include('never sent');
    expect(rows.join('\n')).not.to.include('lost connection');
    // The half-typed line stays in sight on bob's screen, marked as never sent.
    const own = await bob.history();
    expect(own.filter((r) => r.includes('never sent'))).to.deep.equal(['not sent: never sent']);
  });

  it('the terminal closed under it (SIGHUP) is a normal leave: the others see "bob left"', async function () {
    const alice = await chatWindow('alice');
    const bob = await chatWindow('bob');
    await alice.waitFor('bob joining', (rows) => rows.some((r) => r.includes('-- bob joined')));
    await bob.hangUp();
    await alice.waitFor('bob leaving', (rows) => rows.some((r) => r.endsWith('-- bob left')));
    expect((await alice.screen()).join('\n')).not.to.include('lost connection');
    // Gone from the registry too.
    await waitFor('bob out of the room', async () => {
      const info = await runProgram('room', ['info', room, '--json'], { env: user('alice') });
      return (JSON.parse(info.stdout) as { names: string[] }).names.includes('bob')
        ? undefined
        : true;
    });
  });

  it('Ctrl-C with the broker not answering ends within 2 s and says what was not acknowledged', async function () {
    // The same Ctrl-C with the broker answering: what leaving and the shell's writing of the exit
    // code cost on this machine today.
    const calm = await chatWindow('carol');
    let started = Date.now();
    await calm.press('C-c');
    expect(await calm.exited()).to.equal(0);
    const unhinderedMs = Date.now() - started;
    const proxy = await startProxy('127.0.0.1', broker.port);
    try {
      const bob = await chatWindow('bob', undefined, {
        SUNOYE_BROKER: `mqtt://127.0.0.1:${proxy.port}`,
      });
      proxy.blackhole();
      await typeLine(bob, 'into the silence');
      started = Date.now();
      await bob.press('C-c');
      const code = await bob.exited();
      // Its own bounded goodbyes (leave 0.8 s, disconnect 0.5 s), well inside the 1.9 s backstop
      // of a Ctrl-C: the documented exit 4 for lines typed and never acknowledged, not 130.
      const shown = await bob.screen();
      expect(code, shown.join('\n')).to.equal(4);
      expect(shown).to.include(
        'room: 1 line you typed was not acknowledged by the broker before you left',
      );
      expect(shown.join('\n')).not.to.include('stopped without a clean exit');
      // The broker not answering costs at most the promised 2 s more than leaving does anyway.
      expect(Date.now() - started).to.be.below(2000 + unhinderedMs);
    } finally {
      await proxy.close();
    }
  });

  it('the room closed under it: the window says who closed it and ends', async function () {
    const bob = await chatWindow('bob');
    const closed = await runProgram('room', ['close', room], { env: user('alice') });
    expect(closed.code, closed.stderr).to.equal(0);
    await bob.waitFor('the closing', (rows) =>
      rows.some((r) => r.includes(`room ${room} closed by alice`)),
    );
    expect(await bob.exited()).to.equal(0);
    const rows = await bob.screen();
    expect(rows.join('\n')).to.include(`room ${room} was closed`);
  });

  it('a "closed" notice for a room still open is not shown as the room closed', async function () {
    ({ room, password } = await createRoomWithPassword(user('alice'), ['--plain']));
    // A plain room has no keys: no line is marked as yours.
    const bob = await chatWindow('bob');
    // Anyone on a plain room's topic can send one (in a signed room, anyone in the room).
    const client = await mqtt.connectAsync(broker.url);
    try {
      for (const payload of [
        {
          type: 'notice',
          from: 'alice',
          notice: `Room ${room} was closed by alice.`,
          event: 'closed',
        },
        { type: 'message', from: 'mallory', message: 'after the notice' },
      ])
        await client.publishAsync(`sunoye/room/${room}`, JSON.stringify(payload), { qos: 1 });
    } finally {
      await client.endAsync();
    }
    const rows = await bob.waitFor('the warning and the next line', (r) =>
      r.some((row) => row.endsWith('mallory: after the notice')),
    );
    await bob.waitFor('the warning', (r) => r.some((row) => row.includes('ignored a "closed"')));
    expect(rows.join('\n')).not.to.include('closed by alice');
    await typeLine(bob, 'still here');
    await bob.waitFor('the window still open', (r) =>
      r.some((row) => row.endsWith(': still here')),
    );
  });

  it('what is typed before the window opens is not left on screen, and is the start of the input line', async function () {
    ({ room, password } = await createRoomWithPassword(user('alice'), ['--plain']));
    const bob = await openTerminal(
      'room',
      ['chat', room],
      user('bob', { SUNOYE_PASSWORD: password }),
    );
    terminals.push(bob);
    // Typed at once: the terminal echoes it before the window takes the keys.
    await bob.type('typed early');
    const rows = await bob.waitFor('the join', (r) =>
      r.some((row) => row.endsWith('-- bob joined')),
    );
    // A plain room's warning is the first line the window prints: on a row of its own.
    expect(rows.find((row) => row.includes('is plain'))).to.match(/^warning: /);
    expect(occurrences(rows, 'typed early'), rows.join('\n')).to.equal(1);
    expect(inputRow(rows)).to.equal('> typed early');
  });

  it('a mistyped password is asked for again before the window opens; three wrong ones are refused', async function () {
    const bob = await openTerminal('room', ['chat', room], user('bob'));
    terminals.push(bob);
    await bob.waitFor('the prompt', (rows) =>
      rows.some((r) => r.trimEnd() === `Password for room ${room}:`),
    );
    await typeLine(bob, 'not-the-password');
    await bob.waitFor('the second prompt', (rows) =>
      rows.some((r) => r.trimEnd() === 'Wrong password; try again (2 left):'),
    );
    await typeLine(bob, password);
    await bob.waitFor('the window', (rows) => rows.some((r) => r.endsWith('-- bob joined (you)')));
    expect((await bob.screen()).join('\n')).not.to.include(password);

    const carol = await openTerminal('room', ['chat', room], user('carol'));
    terminals.push(carol);
    for (const prompt of [
      `Password for room ${room}:`,
      'Wrong password; try again (2 left):',
      'Wrong password; try again (1 left):',
    ]) {
      await carol.waitFor(prompt, (rows) => rows.some((r) => r.trimEnd() === prompt));
      await typeLine(carol, 'not-the-password');
    }
    expect(await carol.exited()).to.equal(3);
    expect((await carol.screen()).join('\n')).to.include(`room: wrong password for room ${room}`);
  });

  it('with NO_COLOR, no colour codes reach the terminal; Ctrl-D leaves', async function () {
    const bob = await chatWindow('bob', undefined, { NO_COLOR: '1' });
    await typeLine(bob, 'plain text');
    const rows = await bob.waitFor('the line', (r) =>
      r.some((row) => row.endsWith('bob (you): plain text')),
    );
    const coloured = await bob.screen(true);
    expect(coloured.join('\n')).not.to.include('\x1b[');
    expect(rows.join('\n')).to.include('bob (you): plain text');
    await bob.press('C-d');
    expect(await bob.exited()).to.equal(0);
  });

  it('says when the connection drops and when it is back; what was typed meanwhile goes then', async function () {
    const observer = await joinedListener(
      room,
      [],
      user('carol', { SUNOYE_PASSWORD: password }),
      running,
    );
    const proxy = await startProxy('127.0.0.1', broker.port);
    try {
      const bob = await chatWindow('bob', undefined, {
        SUNOYE_BROKER: `mqtt://127.0.0.1:${proxy.port}`,
      });
      await proxy.cut();
      const down = await bob.waitFor('the connection lost', (rows) =>
        rows.some((r) => r.includes('connection lost; reconnecting')),
      );
      expect(inputRow(down)).to.equal('(offline) >');
      await typeLine(bob, 'typed while offline');
      await bob.waitFor('the line shown as waiting', (rows) =>
        rows.some((r) => r === 'waiting for the connection: typed while offline'),
      );
      await proxy.restore();
      await bob.waitFor(
        'the connection back',
        (rows) => rows.some((r) => r.includes('connection back')),
        {
          timeoutMs: 30_000,
        },
      );
      await observer.line(
        'the line typed offline',
        (l) => l.includes('"message":"typed while offline"'),
        30_000,
      );
      const rows = await bob.waitFor('the line, once', (r) =>
        r.some((row) => row.endsWith('bob (you): typed while offline')),
      );
      expect(occurrences(rows, 'bob (you): typed while offline')).to.equal(1);
      expect(inputRow(rows)).to.equal('>');
      // The broker told the room bob was lost; his window says so of him, not as of another.
      const shown = await bob.waitFor(
        'the word of the broker about bob',
        (r) => r.some((row) => row.includes('the broker told the room that you lost connection')),
        { history: true },
      );
      expect(shown.join('\n')).to.not.include('bob lost connection');
    } finally {
      await proxy.close();
    }
  });

  it('on a raw topic with --plain it talks with MQTT-Chat clients', async function () {
    const topic = `mqttchat/${room}`;
    const client = await mqtt.connectAsync(broker.url);
    try {
      const heard: Record<string, unknown>[] = [];
      client.on('message', (_t, payload) =>
        heard.push(JSON.parse(payload.toString()) as Record<string, unknown>),
      );
      await client.subscribeAsync(topic, { qos: 1 });
      const bob = await openTerminal('room', ['chat', '--topic', topic, '--plain'], user('bob'));
      terminals.push(bob);
      await bob.waitFor('the join', (rows) => rows.some((r) => r.includes('-- bob joined')));
      await client.publishAsync(
        topic,
        JSON.stringify({ type: 'message', from: 'mqttchat', message: 'hello from the GUI' }),
        { qos: 1 },
      );
      await bob.waitFor('the GUI line', (rows) =>
        rows.some((r) => r.endsWith('mqttchat: hello from the GUI')),
      );
      await typeLine(bob, 'hello GUI');
      const got = await waitFor('the plain message', () =>
        heard.find((m) => m.message === 'hello GUI'),
      );
      expect(got).to.include({ type: 'message', from: 'bob' });
    } finally {
      await client.endAsync();
    }
  });
});
