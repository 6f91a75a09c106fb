// A room's registry record altered by someone who can write the database, value by value: every
// command that reads it refuses with one line and exit 3, never a stack trace; `room list` marks
// the room and lists the others. On SQLite and MySQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { requireMysql, scratchDatabase, type ScratchDatabase } from '../helpers/mysql.js';

interface Registry {
  env: Record<string, string>;
  /** Runs one UPDATE as a database writer could, checks and types bypassed where the server allows. */
  tamper(sql: string, params: unknown[]): Promise<void>;
  cleanup(): Promise<void>;
}

const backends: { name: string; open(ctx: Mocha.Context, dir: string): Promise<Registry> }[] = [
  {
    name: 'SQLite',
    open: (_ctx, dir) => {
      const path = join(dir, 'registry.db');
      return Promise.resolve({
        env: { SUNOYE_DB: `sqlite:${path}` },
        tamper: (sql, params) => {
          const db = new Database(path);
          try {
            // The file's writer can ignore the CHECK constraints (mode and state) as well.
            db.pragma('ignore_check_constraints = ON');
            db.prepare(sql).run(...params);
          } finally {
            db.close();
          }
          return Promise.resolve();
        },
        cleanup: () => Promise.resolve(),
      });
    },
  },
  {
    name: 'MySQL',
    open: async (ctx) => {
      await requireMysql(ctx);
      const db: ScratchDatabase = await scratchDatabase();
      return {
        env: { SUNOYE_DB: db.url },
        tamper: async (sql, params) => {
          // Without strict mode, an ENUM column takes an unknown value as ''.
          await db.query("SET SESSION sql_mode = ''");
          await db.query(sql, params);
        },
        cleanup: () => db.drop(),
      };
    },
  },
];

const salt = (bytes: number): string => Buffer.alloc(bytes, 7).toString('base64');
const kdf = (fields: Record<string, unknown>): string =>
  JSON.stringify({ alg: 'scrypt', N: 16384, r: 8, p: 1, salt: salt(16), ...fields });

/** Each alteration: the SET clause and its values, and how the refusal says it. */
const ALTERATIONS: [set: string, values: unknown[], says: string][] = [
  ['kdf = ?', ['{"alg":'], 'its key-derivation parameters are not JSON'],
  ['kdf = ?', ['[1,2]'], 'it has invalid key-derivation parameters'],
  ['kdf = ?', [kdf({ salt: salt(8) })], 'it has invalid key-derivation parameters'],
  ['kdf = ?', [kdf({ salt: salt(65) })], 'its salt is longer than any sunoye makes'],
  ['kdf = ?', [kdf({ N: 2 ** 20, r: 32 })], 'it has invalid key-derivation parameters: too costly'],
  ['created_at = ?', [9_000_000_000_000_000], 'its creation time is not a time'],
  ['created_at = ?', [-1], 'its creation time is not a time'],
  ["state = 'closed', closed_at = ?", [-5], 'its closing time is not a time'],
  ['active_at = ?', [2 ** 62], 'its last activity time is not a time'],
  ['idle_seconds = ?', [0], 'its idle timeout is out of range'],
  ['idle_seconds = ?', [-7], 'its idle timeout is out of range'],
  ["mode = 'nonsense'", [], 'its mode is neither encrypted nor plain'],
  ["state = 'nonsense'", [], 'its state is neither open nor closed'],
  ['verifier = ?', [Buffer.alloc(5)], 'its password verifier is not one sunoye makes'],
];

for (const backend of backends) {
  describe(`an altered room record on ${backend.name}`, function () {
    this.timeout(120_000);
    let dir: string;
    let broker: TestBroker;
    let registry: Registry;
    let env: Record<string, string>;

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'sunoye-altered-'));
      registry = await backend.open(this, dir);
      broker = await startAedes();
      env = { HOME: dir, SUNOYE_BROKER: broker.url, SUNOYE_NAME: 'alice', ...registry.env };
    });
    after(async function () {
      await broker?.stop();
      await registry?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const create = async (): Promise<{ room: string; password: string }> => {
      const made = await runProgram('room', ['create', '--json'], { env });
      expect(made.code, made.stderr).to.equal(0);
      return JSON.parse(made.stdout) as { room: string; password: string };
    };

    /** Expects the refusal for room `room`, saying `says`: one line, exit 3. */
    const expectRefused = (
      run: { code: number | null; stdout: string; stderr: string },
      room: string,
      says: string,
      what: string,
    ): void => {
      expect(run.code, `${what}: ${run.stderr}`).to.equal(3);
      expect(run.stderr, what).to.match(
        new RegExp(`^\\w+: the registry record of room ${room} was altered: ${says}[^\\n]*\\n$`),
      );
    };

    it('refuses every value no sunoye writes in room info, with exit 3; room list marks it and lists the rest', async function () {
      const intact = await create();
      for (const [set, values, says] of ALTERATIONS) {
        const { room } = await create();
        await registry.tamper(`UPDATE rooms SET ${set} WHERE number = ?`, [...values, room]);
        const what = `${set} ${JSON.stringify(values)}`;
        const info = await runProgram('room', ['info', room, '--json'], { env });
        expectRefused(info, room, says.replace(/[()]/g, '\\$&'), what);
        expect(info.stdout, what).to.equal('');

        const list = await runProgram('room', ['list', '--all', '--json'], { env });
        expect(list.code, `${what}: ${list.stderr}`).to.equal(0);
        const rows = JSON.parse(list.stdout) as { room: string; state: string }[];
        expect(rows.find((r) => r.room === room)?.state, what).to.equal('altered');
        expect(rows.find((r) => r.room === intact.room)?.state, what).to.equal('open');
        // Mark it altered in this registry for good: the next alteration gets its own room.
        await registry.tamper(`UPDATE rooms SET kdf = '{' WHERE number = ?`, [room]);
      }
    });

    it("refuses a member's row whose join time is no date in room info (text and JSON), never a stack trace", async function () {
      const { room } = await create();
      // A live row (its heartbeat now, as the registry's clock has it), joined at 9e15 ms.
      const now = backend.name === 'SQLite' ? Date.now() : 'UNIX_TIMESTAMP(NOW(3)) * 1000';
      await registry.tamper(
        'INSERT INTO members (id, room, name, joined_at, heartbeat_at, lease_ms) ' +
          `VALUES ('forged', ?, 'mallory', ?, ${now}, 3600000)`,
        [room, 9_000_000_000_000_000],
      );
      for (const args of [
        ['info', room],
        ['info', room, '--json'],
      ]) {
        const info = await runProgram('room', args, { env });
        expectRefused(info, room, "its member's join time is not a time", args.join(' '));
        expect(info.stdout, args.join(' ')).to.equal('');
      }
    });

    it('refuses it from every command that reads the room: join, info, listen, publish, chat, close', async function () {
      const { room, password } = await create();
      await registry.tamper("UPDATE rooms SET kdf = 'not json' WHERE number = ?", [room]);
      const says = 'its key-derivation parameters are not JSON';
      const bob = { ...env, SUNOYE_HOME: join(dir, 'bob'), SUNOYE_PASSWORD: password };
      const runs: [program: 'room' | 'listen' | 'publish', args: string[], env: typeof env][] = [
        ['room', ['join', room], bob],
        ['room', ['info', room], env],
        ['listen', [room, '--count', '1'], env],
        ['publish', [room, '-m', 'hello'], env],
        ['room', ['chat', room], env],
        ['room', ['close', room], env],
      ];
      for (const [program, args, runEnv] of runs) {
        const run = await runProgram(program, args, { env: runEnv });
        expectRefused(run, room, says, `${program} ${args.join(' ')}`);
      }
      const list = await runProgram('room', ['list'], { env });
      expect(list.code, list.stderr).to.equal(0);
      expect(list.stdout).to.match(new RegExp(`^${room} +altered +- +encrypted$`, 'm'));
      expect(list.stderr).to.include(`room ${room}: its registry record was altered`);
    });
  });
}
