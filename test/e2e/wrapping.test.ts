// Long messages at a terminal (tmux panes): sunoye breaks them at the width and indents the rows
// that follow, in the room window and in `listen`, so a message padded with blanks cannot start a
// row that reads like another member's line; after a resize, at the new width.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import stringWidth from 'string-width';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { createRoomWithPassword } from '../helpers/programs.js';
import { openTerminal, requireTmux, type Terminal } from '../helpers/terminal.js';
import { openChatWindow, scratchUser } from '../helpers/window.js';
import { waitFor } from '../helpers/wait.js';

/** Where a message's text starts on its row: after "HH:MM:SS bob: ". */
const PREFIX = 'HH:MM:SS bob: '.length;

/** A message padded with blanks so that, wrapped by the terminal, its next row is `forged`. */
function padded(columns: number, forged: string): string {
  return `hi${' '.repeat(columns - PREFIX - 2)}${forged}`;
}

describe('long messages at a terminal', function () {
  this.timeout(90_000);
  let dir: string;
  let broker: TestBroker;
  let room: string;
  let password: string;
  const terminals: Terminal[] = [];
  const user = (name: string, extra: Record<string, string> = {}) =>
    scratchUser(dir, broker.url, name, { SUNOYE_PASSWORD: password, ...extra });

  /** bob says `text` in the room (with `publish`, from a pipe). */
  async function bobSays(text: string): Promise<void> {
    const sent = await runProgram('publish', [room], { env: user('bob'), input: `${text}\n` });
    expect(sent.code, sent.stderr).to.equal(0);
  }

  /** bob says hello and `terminal` shows it: his key is seen, his later lines carry no mark. */
  async function bobSeenBy(terminal: Terminal): Promise<void> {
    await bobSays('hello');
    await terminal.waitFor('hello', (rows) => rows.some((r) => r.endsWith(': hello')));
  }

  /** The screen's rows once one holds `text`: every row fits in `columns`. */
  async function rowsOnceShown(
    terminal: Terminal,
    text: string,
    columns: number,
  ): Promise<string[]> {
    const rows = await waitFor(
      `"${text}" on the screen`,
      async () => {
        const shown = await terminal.rows();
        return shown.some((r) => r.includes(text)) ? shown : undefined;
      },
      15_000,
    );
    for (const row of rows) expect(stringWidth(row), row).to.be.at.most(columns);
    return rows;
  }

  /** The row that holds `text` starts indented, and no row starts with a forged line. */
  function indentedUnder(rows: string[], text: string): void {
    const row = rows.find((r) => r.includes(text))!;
    expect(row, rows.join('\n')).to.match(/^ {9}/);
    expect(
      rows.filter((r) => /^\d\d:\d\d:\d\d carol/.test(r)),
      rows.join('\n'),
    ).to.deep.equal([]);
  }

  before(async function () {
    await requireTmux(this, 'the terminal tests');
    dir = mkdtempSync(join(tmpdir(), 'sunoye-wrap-'));
    broker = await startAedes();
  });
  beforeEach(async function () {
    // Made without a password in the environment: it would be the new room's.
    ({ room, password } = await createRoomWithPassword(scratchUser(dir, broker.url, 'alice')));
  });
  afterEach(async function () {
    for (const t of terminals.splice(0)) await t.close();
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('in the room window: the next row of a padded message is indented, at the new width after a resize', async function () {
    const alice = await openChatWindow(room, user('alice'), terminals);
    await bobSeenBy(alice);
    await bobSays(padded(80, '12:00:01 carol: I resign'));
    indentedUnder(await rowsOnceShown(alice, 'I resign', 80), 'I resign');
    // Narrower: a line is broken at the new width.
    await alice.resize(50, 24);
    await bobSays(padded(50, '12:00:02 carol: I quit'));
    indentedUnder(await rowsOnceShown(alice, 'I quit', 50), 'I quit');
    // A long word is broken within it; a message's own lines are indented rows too.
    await bobSays(`${'w'.repeat(70)} end`);
    const rows = await rowsOnceShown(alice, ' end', 50);
    expect(rows.filter((r) => /^ {9}w+/.test(r))).to.have.length.at.least(1);
  });

  it('in listen at a terminal: the next row is indented; a message of its own lines keeps them indented', async function () {
    const alice = await openTerminal('listen', [room], user('alice'), { columns: 80, rows: 24 });
    terminals.push(alice);
    await alice.waitFor('the join', (rows) => rows.some((r) => r.includes('alice')));
    await bobSeenBy(alice);
    await bobSays(padded(80, '12:00:01 carol: I resign'));
    indentedUnder(await rowsOnceShown(alice, 'I resign', 80), 'I resign');
    const many = await runProgram('publish', [room, '-m', `one\n12:00:03 carol: two`], {
      env: user('bob'),
    });
    expect(many.code, many.stderr).to.equal(0);
    indentedUnder(await rowsOnceShown(alice, 'two', 80), 'two');
  });
});
