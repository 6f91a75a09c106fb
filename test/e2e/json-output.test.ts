// Every program's --json output with hostile names, messages and registry values: no control,
// bidirectional or other invisible format character reaches stdout raw, so neither a terminal
// showing the JSON nor `jq -r` printing a value can be driven or fooled; what was sent is kept.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { visible } from '../../src/protocol/sanitise.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { joinedListener, jsonLines, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

/** Raw in stdout: C0 but newline, DEL, C1, format characters (\p{Cf}), line separators. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\p{Cf}\u2028\u2029]/gu;

/** The unsafe characters in `text`, as code points (none: an empty list). */
function unsafeIn(text: string): string[] {
  return [...text.matchAll(UNSAFE)].map((m) => `U+${m[0].codePointAt(0)!.toString(16)}`);
}

describe('--json output with hostile names, messages and registry values', function () {
  this.timeout(90_000);
  let dir: string;
  let broker: TestBroker;
  const running: RunningProgram[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-json-'));
    broker = await startAedes();
  });
  after(async function () {
    await stopAll(running);
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes none of them raw in the bytes of any program, and keeps what was sent', async function () {
    // A registry and a home whose paths hold C1, a direction override and a zero-width space;
    // names with invisible format characters (the only ones a name may hold).
    const dbFile = join(dir, 'reg\u009b31m\u202e\u2066.db');
    const env = (name: string, home: string): Record<string, string> => ({
      HOME: dir,
      SUNOYE_DB: `sqlite:${dbFile}`,
      SUNOYE_BROKER: broker.url,
      SUNOYE_NAME: name,
      SUNOYE_HOME: join(dir, home),
      NO_COLOR: '1',
    });
    const mallory = env('mallory\u200b\u2060', 'home-\u009b\u202e\u200b');
    const bob = env('bob', 'home-bob');
    const json = async (
      what: string,
      program: 'room' | 'publish',
      args: string[],
      vars: Record<string, string>,
      input?: string,
    ): Promise<Record<string, unknown>> => {
      const run = await runProgram(program, [...args, '--json'], { env: vars, input });
      expect(run.code, `${what}: ${run.stderr}`).to.equal(0);
      expect(unsafeIn(run.stdout), what).to.deep.equal([]);
      return JSON.parse(run.stdout) as Record<string, unknown>;
    };

    const created = await json('room create', 'room', ['create'], mallory);
    const room = created.room as string;
    const password = created.password as string;
    expect(created.creator).to.equal('mallory\\u200B\\u2060');
    await json('room join', 'room', ['join', room], { ...bob, SUNOYE_PASSWORD: password });
    const listener = await joinedListener(room, [], { ...bob, SUNOYE_PASSWORD: password }, running);

    const texts = [
      'esc \u001b[2J\u001b]0;owned\u0007',
      'c1 \u009b31m del \u007f',
      'bidi \u202egnp.exe \u2066isolated\u2069',
      'zero\u200bwidth\u2060joiner \u00adsoft',
      'separators x\u2028y\u2029z',
      'emoji 👩‍💻 and lines\nsecond\tline',
    ];
    await json(
      'publish',
      'publish',
      [room],
      { ...mallory, SUNOYE_PASSWORD: password },
      `${texts.join('\n')}\n`,
    );
    // One raw line per message, as sent (the line with its own newline came as two lines).
    const sent = texts.flatMap((t) => t.split('\n'));
    await waitFor(
      'every message',
      () =>
        jsonLines(listener.stdoutLines).filter((l) => l.type === 'message').length === sent.length,
      { timeoutMs: 30_000, program: listener },
    );

    // Someone with write access to the registry: a creator and a member name that would clear
    // the screen, reverse the text or start a line of their own.
    const db = new Database(dbFile);
    try {
      db.prepare('UPDATE rooms SET creator = ? WHERE number = ?').run(
        'eve\u001b[2J\u009b\u202e',
        room,
      );
      db.prepare('UPDATE members SET name = ? WHERE room = ?').run('trudy\u202e\u200b\nroom', room);
    } finally {
      db.close();
    }
    const info = await json('room info', 'room', ['info', room], bob);
    expect(info.creator).to.equal('eve\\x1B[2J\\x9B\\u202E');
    expect(info.names).to.deep.equal(['trudy\\u202E\\u200B\\x0Aroom']);
    await json('room list', 'room', ['list'], bob);
    await json('room whoami', 'room', ['whoami'], mallory);
    await json('room close', 'room', ['close', room], { ...mallory, SUNOYE_PASSWORD: password });
    // A raw topic named with a direction override and a zero-width space, in publish's summary.
    const raw = await json(
      'publish --topic',
      'publish',
      ['--topic', 'chat/\u202e\u200b', '--plain', '-m', 'hi'],
      bob,
    );
    expect(raw.topic).to.equal('chat/\\u202E\\u200B');
    listener.child.kill('SIGTERM');
    expect(await listener.exited).to.equal(0);

    expect(unsafeIn(listener.stdoutLines.join('\n')), 'listen').to.deep.equal([]);
    const lines = jsonLines(listener.stdoutLines);
    // The text reads as it shows at a terminal; as sent, it is under `raw` (when they differ);
    // the name shows its zero-width characters, as at a terminal.
    const messages = lines.filter((l) => l.type === 'message');
    expect(messages.map((m) => m.message)).to.deep.equal(sent.map((t) => visible(t)));
    expect(messages.map((m) => m.raw ?? m.message)).to.deep.equal(sent);
    expect(messages.every((m) => m.from === 'mallory\\u200B\\u2060')).to.equal(true);
  });
});
