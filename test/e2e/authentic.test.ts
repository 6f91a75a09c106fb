// Authentic rooms, attacked as a database operator, a room member and another broker user would
// attack them: the built programs against a real broker and real registries.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { requireMysql, scratchDatabase } from '../helpers/mysql.js';
import { stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

/** A registry the test can write to behind sunoye's back, as its operator could. */
interface Registry {
  url: string;
  write(sql: string, params: unknown[]): Promise<void>;
  drop(): Promise<void>;
}

const registries: { name: string; open(ctx: Mocha.Context, dir: string): Promise<Registry> }[] = [
  {
    name: 'SQLite',
    open: (_ctx, dir) => {
      const path = join(dir, 'registry.db');
      return Promise.resolve({
        url: `sqlite:${path}`,
        write: (sql, params) => {
          const db = new Database(path);
          try {
            db.prepare(sql).run(...params);
          } finally {
            db.close();
          }
          return Promise.resolve();
        },
        drop: () => Promise.resolve(),
      });
    },
  },
  {
    name: 'MySQL',
    open: async (ctx) => {
      await requireMysql(ctx);
      const db = await scratchDatabase();
      return {
        url: db.url,
        write: async (sql, params) => void (await db.query(sql, params)),
        drop: () => db.drop(),
      };
    },
  },
];

for (const registry of registries) {
  describe(`a registry record altered by its operator (${registry.name})`, function () {
    this.timeout(60_000);
    let dir: string;
    let broker: TestBroker;
    let db: Registry;
    const running: RunningProgram[] = [];
    const user = (name: string) => ({
      HOME: dir,
      SUNOYE_DB: db.url,
      SUNOYE_BROKER: broker.url,
      SUNOYE_NAME: name,
      SUNOYE_HOME: join(dir, `home-${name}`),
    });

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-authentic-'));
      db = await registry.open(this, dir);
      broker = await startAedes();
    });
    afterEach(() => stopAll(running));
    after(async function () {
      await broker?.stop();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('cannot turn an encrypted room plain: no plaintext reaches the broker, and every program refuses with exit 3', async function () {
      const created = await runProgram('room', ['create', '--json'], { env: user('alice') });
      expect(created.code, created.stderr).to.equal(0);
      const { room, password } = JSON.parse(created.stdout) as { room: string; password: string };
      const bobJoined = await runProgram('room', ['join', room, '--password-file', '-'], {
        env: user('bob'),
        input: `${password}\n`,
      });
      expect(bobJoined.code, bobJoined.stderr).to.equal(0);

      await db.write(`UPDATE rooms SET mode = 'plain' WHERE number = ?`, [room]);

      const raw = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      const seen: Buffer[] = [];
      raw.on('message', (_t, p) => seen.push(Buffer.from(p)));
      await raw.subscribeAsync('sunoye/#', { qos: 1 });
      try {
        // A member who remembers the room: publish and listen refuse before connecting.
        const sent = await runProgram('publish', [room, '-m', 'secret-plan-1'], {
          env: user('bob'),
        });
        expect(sent.code, sent.stderr).to.equal(3);
        expect(sent.stderr).to.match(/registry record of room \d{6} was altered/);
        expect(sent.stderr).to.include('created encrypted');
        const piped = await runProgram('publish', [room], {
          env: user('alice'),
          input: 'secret-plan-2\n',
        });
        expect(piped.code, piped.stderr).to.equal(3);
        const listened = await runProgram('listen', [room], { env: user('bob') });
        expect(listened.code, listened.stderr).to.equal(3);
        expect(listened.stderr).to.include('was altered');

        // A newcomer with the password: the altered record does not verify, and says why.
        const carol = await runProgram('room', ['join', room, '--password-file', '-'], {
          env: user('carol'),
          input: `${password}\n`,
        });
        expect(carol.code, carol.stderr).to.equal(3);
        expect(carol.stderr).to.include('was altered');
        const carolSends = await runProgram(
          'publish',
          [room, '-m', 'secret-plan-3', '--password-file', '-'],
          { env: user('carol'), input: `${password}\n` },
        );
        expect(carolSends.code, carolSends.stderr).to.equal(3);

        // Something that did reach the broker proves the subscriber was listening throughout.
        await raw.publishAsync(`sunoye/room/${room}`, 'end-of-test', { qos: 1 });
        await waitFor('the end marker', () => seen.some((p) => p.toString() === 'end-of-test'));
        const everything = Buffer.concat(seen).toString('utf8');
        expect(everything).to.not.include('secret-plan');
        expect(everything).to.not.include('alice');
        expect(everything).to.not.include('bob');
      } finally {
        await raw.endAsync();
      }
    });
  });
}
