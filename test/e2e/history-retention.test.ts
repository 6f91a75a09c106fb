// What a room keeps of its history, as `room create` sets it, `room info` shows it and `room
// close` deletes it, on the embedded SQLite default and on MySQL. Rows are written through the
// store as a sender would, with real sealed and signed payloads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { openStore, type HistoryRow, type RoomStore } from '../../src/db/index.js';
import { senderOf } from '../../src/conversation/tracker.js';
import { deriveRoomSecret, newSigner, roomCodec } from '../../src/protocol/index.js';
import { requireMysql, scratchDatabase, type ScratchDatabase } from '../helpers/mysql.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram, type Run } from '../helpers/cli.js';

const MiB = 2 ** 20;

interface Backend {
  name: string;
  /** The registry URL for a user whose home is `dir`, and what to drop afterwards. */
  setup(
    ctx: Mocha.Context,
    dir: string,
  ): Promise<{
    env: Record<string, string>;
    url: string;
    /** How many history rows of the room the database holds, read behind sunoye's back. */
    rows(room: string): Promise<number>;
    cleanup(): Promise<void>;
  }>;
}

const backends: Backend[] = [
  {
    name: 'embedded SQLite (no configuration)',
    setup: (_ctx, dir) =>
      Promise.resolve({
        env: {},
        url: `sqlite:${join(dir, 'xdg-data', 'sunoye', 'sunoye.db')}`,
        rows: (number) => {
          const db = new Database(join(dir, 'xdg-data', 'sunoye', 'sunoye.db'));
          try {
            const row = db
              .prepare('SELECT COUNT(*) AS n FROM room_history WHERE room = ?')
              .get(number) as { n: number };
            return Promise.resolve(row.n);
          } finally {
            db.close();
          }
        },
        cleanup: () => Promise.resolve(),
      }),
  },
  {
    name: 'MySQL',
    setup: async (ctx) => {
      await requireMysql(ctx);
      const db: ScratchDatabase = await scratchDatabase();
      return {
        env: { SUNOYE_DB: db.url },
        url: db.url,
        rows: async (number) =>
          Number(
            (await db.query('SELECT COUNT(*) AS n FROM room_history WHERE room = ?', [number]))[0]!
              .n,
          ),
        cleanup: () => db.drop(),
      };
    },
  },
];

function json<T = Record<string, unknown>>(run: Run): T {
  expect(run.code, run.stderr).to.equal(0);
  return JSON.parse(run.stdout) as T;
}

interface InfoJson {
  history: {
    seconds: number;
    maxBytes: number;
    rows: number;
    bytes: number;
    oldest: string | null;
  };
}

for (const backend of backends) {
  describe(`room history retention on ${backend.name}`, function () {
    this.timeout(60_000);
    let dir: string;
    let env: Record<string, string>;
    let url: string;
    let rowsOf: (room: string) => Promise<number>;
    let cleanup: () => Promise<void>;
    let broker: TestBroker | undefined;
    const room = (args: string[], extra: Record<string, string> = {}) =>
      runProgram('room', args, { env: { ...env, ...extra } });

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-e2e-history-'));
      const setup = await backend.setup(this, dir);
      url = setup.url;
      cleanup = () => setup.cleanup();
      rowsOf = (number) => setup.rows(number);
      broker = await startAedes();
      env = {
        HOME: dir,
        XDG_CONFIG_HOME: join(dir, 'xdg-config'),
        XDG_DATA_HOME: join(dir, 'xdg-data'),
        SUNOYE_BROKER: broker.url,
        ...setup.env,
      };
    });

    after(async function () {
      await broker?.stop();
      await cleanup?.();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** Writes `lines` into a room's history as one sender would: sealed, signed, one a row. */
    async function sendToHistory(
      store: RoomStore,
      number: string,
      password: string,
      lines: string[],
    ): Promise<HistoryRow[]> {
      const status = await store.status(number);
      const secret = await deriveRoomSecret(password, status!.room.kdf);
      const signer = newSigner();
      const codec = roomCodec(number, 'encrypted', secret, signer);
      const id = 'a1b2c3d4e5f6';
      const rows = lines.map((message, seq) => ({
        signer: signer.publicKey,
        sender: senderOf(`${id}-${seq}`),
        firstSeq: seq,
        lastSeq: seq,
        payload: Buffer.from(
          codec.encode({ type: 'message', from: 'bob', message, id: `${id}-${seq}`, seq }),
        ),
      }));
      await store.appendHistory(number, rows);
      return rows;
    }

    it('keeps 24 h and 64 MiB by default, shows what it holds, and deletes it on close', async function () {
      const password = 'Harbor-Quill-Zebra-4471';
      const created = json<{ room: string; history: { seconds: number; maxBytes: number } }>(
        await room(['create', '--json'], { SUNOYE_PASSWORD: password }),
      );
      expect(created.history).to.deep.equal({ seconds: 86_400, maxBytes: 64 * MiB });
      const human = await room(['create'], { SUNOYE_PASSWORD: password });
      expect(human.code, human.stderr).to.equal(0);
      expect(human.stderr).to.include('It keeps 24 h of sealed history, at most 64 MiB.\n');

      const empty = json<InfoJson>(await room(['info', created.room, '--json']));
      expect(empty.history).to.deep.equal({
        seconds: 86_400,
        maxBytes: 64 * MiB,
        rows: 0,
        bytes: 0,
        oldest: null,
      });
      expect((await room(['info', created.room])).stdout).to.include(
        'history: 24 h of sealed history, at most 64 MiB; holds nothing\n',
      );

      const store = await openStore(url);
      try {
        const rows = await sendToHistory(store, created.room, password, ['one', 'two', 'three']);
        const bytes = rows.reduce((n, r) => n + r.payload.length, 0);
        const info = json<InfoJson>(await room(['info', created.room, '--json']));
        expect(info.history).to.include({ rows: 3, bytes });
        const stored = await store.readHistory(created.room, { maxRows: 10, maxBytes: MiB });
        expect(info.history.oldest).to.equal(stored[0]!.sentAt.toISOString());
        const text = (await room(['info', created.room])).stdout;
        expect(text).to.match(
          /^history: 24 h of sealed history, at most 64 MiB; holds 3 rows \(a line typed or a batch piped each\), \d+ B, the oldest from \d\d:\d\d:\d\d$/m,
        );

        expect(await rowsOf(created.room)).to.equal(3);
        const closed = await room(['close', created.room]);
        expect(closed.code, closed.stderr).to.equal(0);
        // Gone from the database itself, not only hidden.
        expect(await rowsOf(created.room)).to.equal(0);
        const after = json<InfoJson>(await room(['info', created.room, '--json']));
        expect(after.history).to.include({ rows: 0, bytes: 0, oldest: null });
        expect((await room(['info', created.room])).stdout).to.include(
          '; deleted when the room closed\n',
        );
      } finally {
        await store.close();
      }
    });

    it('keeps what --history and --history-size say, or none', async function () {
      const cases: [string[], { seconds: number; maxBytes: number }, string][] = [
        [['--history', '30m'], { seconds: 1800, maxBytes: 64 * MiB }, '30 min of sealed history'],
        [
          ['--history', '7d', '--history-size', '1GiB'],
          { seconds: 7 * 86_400, maxBytes: 2 ** 30 },
          '7 d of sealed history, at most 1 GiB',
        ],
        [['--history', '1h30m', '--history-size', '1MiB'], { seconds: 5400, maxBytes: MiB }, ''],
        [['--history', '0'], { seconds: 0, maxBytes: 0 }, 'It keeps no history.'],
        [['--plain'], { seconds: 0, maxBytes: 0 }, 'It keeps no history.'],
        [['--plain', '--history', '0'], { seconds: 0, maxBytes: 0 }, 'It keeps no history.'],
      ];
      for (const [flags, history, words] of cases) {
        const made = await room(['create', '--json', ...flags]);
        expect(json<{ history: unknown }>(made).history, flags.join(' ')).to.deep.equal(history);
        const number = json<{ room: string }>(made).room;
        const info = json<InfoJson>(await room(['info', number, '--json']));
        expect(info.history, flags.join(' ')).to.include(history);
        if (history.seconds === 0)
          expect((await room(['info', number])).stdout).to.match(/^history: none kept$/m);
        if (words) {
          const human = await room(['create', ...flags]);
          expect(human.stderr, flags.join(' ')).to.include(words);
        }
      }
    });

    it('refuses history values out of bounds, and history for plain rooms (exit 2)', async function () {
      const cases: [string[], RegExp][] = [
        [
          ['--history', '30s'],
          /^room: --history must be a time like 30m, 24h or 7d, from 1 minute to 30 days, or 0 to keep no history\n$/,
        ],
        [['--history', '31d'], /--history must be a time like/],
        [['--history', '90'], /--history must be a time like/],
        [['--history', 'forever'], /--history must be a time like/],
        [['--history', '-1h'], /--history must be a time like/],
        [
          ['--history-size', '512KiB'],
          /^room: --history-size must be a size like 8MiB, 64MiB or 1GiB, from 1 MiB to 4 GiB\n$/,
        ],
        [['--history-size', '5GiB'], /--history-size must be a size like/],
        [
          ['--history', '0', '--history-size', '2MiB'],
          /^room: --history 0 keeps no history: leave out --history-size, or give --history a time\n$/,
        ],
        [['--history-size', '64MB'], /--history-size must be a size like/],
        [['--history-size', 'constructor'], /--history-size must be a size like/],
        [['--history-size', 'lots'], /--history-size must be a size like/],
        [
          ['--plain', '--history', '1h'],
          /^room: plain rooms keep no history: their text is clear to the broker/,
        ],
        [['--plain', '--history-size', '64MiB'], /plain rooms keep no history/],
      ];
      for (const [flags, message] of cases) {
        const run = await room(['create', ...flags]);
        expect(run.code, `${flags.join(' ')}: ${run.stderr}`).to.equal(2);
        expect(run.stderr, flags.join(' ')).to.match(message);
        expect(run.stdout).to.equal('');
      }
    });

    it('explains the history flags in --help', async function () {
      const help = await room(['create', '--help']);
      expect(help.stdout).to.include('--history DURATION');
      expect(help.stdout).to.include('--history-size SIZE');
      expect(help.stdout).to.match(/Plain rooms keep no history/);
    });
  });
}
