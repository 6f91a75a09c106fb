// `npm run bench:persistence`: what mosquitto's persistence settings cost sunoye's piped
// throughput, and how many lines a broker crash (SIGKILL) loses under each, with sunoye's own
// programs (`room create`, `listen`, `publish`) on a mosquitto started from this repository's
// mosquitto.conf (on a free port, in a temporary folder) with only its persistence lines changed.
//
// For each setting, size and round, on a fresh broker:
//   live   `listen R --json` runs; `publish R` is fed N piped lines; publish's wall time (start to
//          exit 0, its own start included) and the broker's CPU, saves and disk writes meanwhile.
//   away   a second listener connects through a TCP proxy, which is then cut: the listener is
//          away and reconnecting, its session (QoS 1, kept for an hour) queues on the broker.
//          `publish R` is fed N lines and exits 0; at that moment the broker is killed (SIGKILL)
//          and restarted from its persistence file, the proxy comes back, the listener resumes
//          its session and prints what the broker still had. Lost = N minus the distinct lines it
//          printed; what the listener said about it on stderr is noted.
//   later  (first round, first size) the same, with the broker killed 3 s after publish exited.
//   idle   (first round, largest size) away again with N lines waiting for it and nothing else
//          happening: the broker's saves and disk writes over 4 s.
// Settings take turns within a round, so that a slower moment of the shared machine falls on
// all alike. Sizes: PERSIST_LINES (default 20000,100000); rounds: PERSIST_RUNS (default 3 for
// the first size, 1 for the others); PERSIST_ONLY=2,7 runs some settings (by number, from 1).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerEnv, startMosquitto, type MosquittoBroker } from '../test/helpers/brokers.js';
import { startProxy } from '../test/helpers/proxy.js';
import { waitFor } from '../test/helpers/wait.js';
import { median, round } from './measures.js';
import { sunoyeBin } from './peers.js';

/** A persistence choice: its name and the lines that replace mosquitto.conf's persistence lines. */
interface Setting {
  name: string;
  lines: string[];
}

const SETTINGS: Setting[] = [
  { name: '`autosave_interval 60` (before)', lines: ['persistence true', 'autosave_interval 60'] },
  { name: '`autosave_interval 1`', lines: ['persistence true', 'autosave_interval 1'] },
  ...[1, 10, 100, 1000].map((n) => ({
    name: `\`autosave_on_changes true\`, \`autosave_interval ${n}\``,
    lines: ['persistence true', 'autosave_on_changes true', `autosave_interval ${n}`],
  })),
  { name: '`persistence false`', lines: ['persistence false'] },
];

const SIZES = (process.env.PERSIST_LINES ?? '20000,100000').split(',').map(Number);
const RUNS = process.env.PERSIST_RUNS?.split(',').map(Number);
const runsFor = (sizeIndex: number): number =>
  RUNS?.[sizeIndex] ?? RUNS?.[0] ?? (sizeIndex ? 1 : 3);
const ONLY = process.env.PERSIST_ONLY?.split(',').map(Number);
const settings = SETTINGS.filter((_, i) => !ONLY || ONLY.includes(i + 1));
/** After the listener is back: how long without a new line or a broker write before counting. */
const QUIET_MS = 1000;
/** After the listener is back: how long to wait for its warnings (at most one every 2 s). */
const WARNING_MS = 2500;
/** How long the broker's writes are watched while a backlog waits and nothing else happens. */
const IDLE_MS = 4000;
/** The later crash: this long after publish exited. */
const LATER_MS = 3000;

const progress = (what: string): boolean => process.stderr.write(`bench: ${what}\n`);
const node = process.execPath;
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** A line of ~70 bytes whose first 8 characters are its number. */
const line = (i: number): string =>
  `${String(i).padStart(8, '0')} the quick brown fox jumps over the lazy dog, piped along ok\n`;
const input = new Map<string, string>();
/** Lines numbered `from` to `from + n - 1`. */
const lines = (from: number, n: number): string => {
  const k = `${from}+${n}`;
  if (!input.has(k)) input.set(k, Array.from({ length: n }, (_, i) => line(from + i)).join(''));
  return input.get(k)!;
};

// ------------------------------------------------------------------------------ the broker's costs

/** The broker process's CPU time (user + system), its bytes written to storage, its saves. */
interface Meter {
  cpu: number;
  written: number;
  saves: number;
}

function meter(broker: MosquittoBroker, log: string): Meter {
  const stat = readFileSync(`/proc/${broker.pid}/stat`, 'utf8');
  // Fields after the command name (which is in parentheses): utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  const io = readFileSync(`/proc/${broker.pid}/io`, 'utf8');
  const written = Number(/^write_bytes: (\d+)/m.exec(io)?.[1] ?? 0);
  const saves = existsSync(log)
    ? readFileSync(log, 'utf8').split('Saving in-memory database').length - 1
    : 0;
  return { cpu, written, saves };
}

interface Cost {
  /** publish's wall time, start to exit 0, in seconds. */
  seconds: number;
  linesPerSecond: number;
  /** The broker's CPU seconds while publish ran. */
  cpu: number;
  /** Times the broker saved its database while publish ran. */
  saves: number;
  /** MB the broker wrote to storage while publish ran. */
  writtenMb: number;
}

function cost(lineCount: number, seconds: number, before: Meter, after: Meter): Cost {
  return {
    seconds: round(seconds, 3),
    linesPerSecond: Math.round(lineCount / seconds),
    cpu: round(after.cpu - before.cpu),
    saves: after.saves - before.saves,
    writtenMb: round((after.written - before.written) / 1e6, 1),
  };
}

// ----------------------------------------------------------------------------------- the programs

type Env = Record<string, string>;

/** `room create --json` as a user runs it; returns the room number. */
function createRoom(env: Env): string {
  const r = spawnSync(node, [sunoyeBin('room'), 'create', '--idle', '86400', '--json'], {
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`room create failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { room: string }).room;
}

/** A running `listen R --json`: which numbered lines it printed, and its stderr. */
class Listener {
  readonly child;
  joined = false;
  lastLineAt = 0;
  stderr = '';
  private readonly seen: Uint8Array;
  private exited = false;

  constructor(room: string, env: Env, capacity: number) {
    this.seen = new Uint8Array(capacity);
    this.child = spawn(node, [sunoyeBin('listen'), room, '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        if (l.includes('"event":"join"')) this.joined = true;
        const n = /"message":"(\d{8}) the quick/.exec(l)?.[1];
        if (n === undefined) continue;
        this.seen[Number(n)] = 1;
        this.lastLineAt = performance.now();
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.child.once('close', () => (this.exited = true));
  }

  /** How many of the lines numbered `from` to `from + n - 1` it printed (each counted once). */
  printed(from: number, n: number): number {
    let sum = 0;
    for (let i = from; i < from + n; i++) sum += this.seen[i]!;
    return sum;
  }

  async ready(): Promise<void> {
    await waitFor(
      'the listener to join',
      () => {
        if (this.exited) throw new Error(`listen ended: ${this.stderr}`);
        return this.joined;
      },
      20_000,
    );
  }

  /** What the listener said on stderr, from offset `since`, about missing messages. */
  told(since: number): string {
    const stderr = this.stderr.slice(since);
    const said: string[] = [];
    if (stderr.includes("lost this listener's session")) said.push('session lost');
    const gaps = [...stderr.matchAll(/(\d+) messages? from .* did not arrive/g)];
    if (gaps.length) {
      const n = gaps.reduce((sum, g) => sum + Number(g[1]), 0);
      said.push(`gap of ${n}`);
    }
    return said.length ? said.join(', ') : 'nothing';
  }

  /** Ends it: SIGINT, as Ctrl-C, ends its session on the broker; SIGKILL leaves it there. */
  async stop(signal: 'SIGINT' | 'SIGKILL' = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    const closed = once(this.child, 'close');
    this.child.kill(signal);
    await closed;
  }
}

/** `publish R` fed lines `from`..`from + count - 1`; resolves with its wall time once it exits 0. */
async function publish(room: string, env: Env, from: number, count: number): Promise<number> {
  const started = performance.now();
  const child = spawn(node, [sunoyeBin('publish'), room], {
    env,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(lines(from, count));
  const [code] = (await once(child, 'close')) as [number | null];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`publish exited ${code}: ${stderr}`);
  return seconds;
}

// ------------------------------------------------------------------------------------ one setting

/** A crash while the away listener's lines wait on the broker, and what survived it. */
interface Crash {
  /** Size of mosquitto.db when the broker was killed, KB. */
  dbKb: number;
  /** Seconds from the last save (or the broker's start, when none) to the kill. */
  unsaved: number;
  lost: number;
  /** What the listener said about it on stderr. */
  told: string;
}

interface Result {
  live: Cost;
  away: Cost & Crash;
  /** The same, killed LATER_MS after publish exited. */
  later?: Crash;
  /** With the lines waiting for the away listener and nothing else happening, for IDLE_MS. */
  idle?: { saves: number; writtenMb: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measure(
  setting: Setting,
  count: number,
  base: Env,
  room: string,
  extra: { later: boolean; idle: boolean },
): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-persist-'));
  const log = join(dir, 'mosquitto.log');
  let started = Date.now();
  const broker = await startMosquitto(dir, {
    edit: (conf) =>
      [
        conf.replace(/^(persistence|autosave_interval|autosave_on_changes) .*\n/gm, ''),
        ...setting.lines,
        `log_dest file ${log}`,
        '',
      ].join('\n'),
  });
  const env = { ...base, ...brokerEnv(broker), SUNOYE_NAME: 'sender' };
  const proxy = await startProxy('127.0.0.1', broker.port);
  const listeners: Listener[] = [];
  const listener = (name: string, url: string): Listener => {
    const l = new Listener(room, { ...env, SUNOYE_NAME: name, SUNOYE_BROKER: url }, 3 * count);
    listeners.push(l);
    return l;
  };
  try {
    // Live: a listener subscribed and reading while the lines go through.
    const reader = listener('reader', broker.url);
    await reader.ready();
    let before = meter(broker, log);
    const liveSeconds = await publish(room, env, 0, count);
    const live = cost(count, liveSeconds, before, meter(broker, log));
    await waitFor(
      'the live listener to print every line',
      () => reader.printed(0, count) === count,
      60_000,
    );
    // Ctrl-C: its session goes too (a killed listener's would queue every later line as well).
    await reader.stop('SIGINT');

    // Away: a listener whose session queues on the broker while it cannot connect.
    const away = listener('away', `mqtt://127.0.0.1:${proxy.port}`);
    await away.ready();
    let awayCost: Cost | undefined;
    /** Lines `from`.. are published while the listener is away; the broker is killed `delay` later. */
    const crash = async (from: number, delay: number): Promise<Crash> => {
      await proxy.cut();
      await sleep(200); // the broker notices the closed connection
      before = meter(broker, log);
      const seconds = await publish(room, env, from, count);
      awayCost ??= cost(count, seconds, before, meter(broker, log));
      await sleep(delay);
      const said = away.stderr.length;
      await broker.crash();
      const killedAt = Date.now();
      const db = join(dir, 'mosquitto.db');
      const saved = existsSync(db) ? statSync(db) : undefined;
      const unsaved = round((killedAt - (saved?.mtimeMs ?? started)) / 1000, 1);
      const logBefore = readFileSync(log, 'utf8').length;
      await broker.restart();
      started = Date.now();
      await proxy.restore();
      await waitFor(
        'the listener to reconnect',
        () => /as sunoyel/.test(readFileSync(log, 'utf8').slice(logBefore)),
        30_000,
      );
      const back = performance.now();
      // Done when every line is back, or when neither the listener printed nor the broker wrote
      // anything for QUIET_MS (saving on changes, the broker saves as the listener acknowledges).
      let written = meter(broker, log).written;
      let active = back;
      await waitFor(
        'the listener to print what the broker kept',
        () => {
          const now = meter(broker, log).written;
          if (now !== written) [written, active] = [now, performance.now()];
          return (
            away.printed(from, count) === count ||
            performance.now() - Math.max(active, away.lastLineAt) > QUIET_MS
          );
        },
        120_000,
      );
      // A listener prints at most one warning every 2 s (the rest a little later): give it time.
      await waitFor(
        'what the listener has to say',
        () => away.told(said) !== 'nothing' || performance.now() - back > WARNING_MS,
        10_000,
      );
      return {
        dbKb: saved ? round(saved.size / 1024, 0) : 0,
        unsaved,
        lost: count - away.printed(from, count),
        told: away.told(said),
      };
    };
    const first = await crash(0, 0);
    const later = extra.later ? await crash(count, LATER_MS) : undefined;

    let idle: Result['idle'];
    if (extra.idle) {
      // Away again, with a backlog of `count` lines waiting for it, and nothing else happening.
      await proxy.cut();
      await sleep(200);
      await publish(room, env, 2 * count, count);
      await sleep(1000);
      const from = meter(broker, log);
      await sleep(IDLE_MS);
      const to = meter(broker, log);
      idle = {
        saves: to.saves - from.saves,
        writtenMb: round((to.written - from.written) / 1e6, 1),
      };
    }
    return {
      live,
      away: { ...awayCost!, ...first },
      ...(later ? { later } : {}),
      ...(idle ? { idle } : {}),
    };
  } finally {
    for (const l of listeners) await l.stop();
    await proxy.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------ main

const home = mkdtempSync(join(tmpdir(), 'sunoye-persist-home-'));
const base: Env = {
  PATH: process.env.PATH ?? '',
  HOME: home,
  SUNOYE_HOME: join(home, 'sunoye'),
  SUNOYE_DB: `sqlite:${join(home, 'registry.db')}`,
};
const results = new Map<string, Result[]>();
const key = (s: Setting, n: number): string => `${s.name}|${n}`;
try {
  // The room lives in the registry, which no broker restart touches: one for the whole run.
  const room = createRoom({ ...base, SUNOYE_NAME: 'creator' });
  for (const [sizeIndex, count] of SIZES.entries()) {
    const runs = runsFor(sizeIndex);
    for (let run = 1; run <= runs; run++) {
      for (const setting of settings) {
        progress(`${count} lines, round ${run} of ${runs}: ${setting.lines.join(', ')}`);
        const r = await measure(setting, count, base, room, {
          later: run === 1 && sizeIndex === 0,
          idle: run === 1 && sizeIndex === SIZES.length - 1,
        });
        progress(
          `  live ${r.live.seconds} s, away ${r.away.seconds} s, ${r.away.saves} saves, lost ${r.away.lost} (${r.away.told}; db ${r.away.dbKb} KB saved ${r.away.unsaved} s before)${r.later ? `; ${LATER_MS / 1000} s later: lost ${r.later.lost} (${r.later.told}; db ${r.later.dbKb} KB saved ${r.later.unsaved} s before)` : ''}`,
        );
        const k = key(setting, count);
        results.set(k, [...(results.get(k) ?? []), r]);
      }
    }
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}

const med = (rs: Result[], pick: (r: Result) => number): number => median(rs.map(pick));
const costCell = (rs: Result[], phase: 'live' | 'away'): string =>
  [
    med(rs, (r) => r[phase].seconds),
    med(rs, (r) => r[phase].linesPerSecond),
    med(rs, (r) => r[phase].cpu),
    med(rs, (r) => r[phase].saves),
    med(rs, (r) => r[phase].writtenMb),
  ].join('; ');
const off = settings.find((s) => s.lines.includes('persistence false'));
/** publish's time over its time with persistence off in the same round, median over rounds. */
const slower = (rs: Result[], count: number, phase: 'live' | 'away'): number | string => {
  const base = off ? results.get(key(off, count)) : undefined;
  if (!base) return '';
  return round(median(rs.map((r, i) => r[phase].seconds / base[i]![phase].seconds)));
};
const header = [
  'persistence',
  'lines',
  'listener live: publish s; lines/s; mosquitto CPU s; saves; MB written',
  'listener away: the same',
  'publish time x `persistence false`: live; away',
  'killed right after publish exited 0: mosquitto.db KB; s since its last save (each round)',
  'lines lost (each round)',
  'the listener said',
  `killed ${LATER_MS / 1000} s after: lines lost; the listener said`,
  `backlog left waiting ${IDLE_MS / 1000} s: saves; MB written`,
];
const rows = [`| ${header.join(' | ')} |`, `|${' --- |'.repeat(header.length)}`];
for (const count of SIZES) {
  for (const setting of settings) {
    const rs = results.get(key(setting, count)) ?? [];
    if (!rs.length) continue;
    const told = [...new Set(rs.map((r) => r.away.told))].join('; ');
    rows.push(
      `| ${[
        setting.name,
        count,
        costCell(rs, 'live'),
        costCell(rs, 'away'),
        `${slower(rs, count, 'live')}; ${slower(rs, count, 'away')}`,
        `${med(rs, (r) => r.away.dbKb)}; ${rs.map((r) => r.away.unsaved).join(', ')}`,
        rs.map((r) => r.away.lost).join(', '),
        told,
        rs[0]?.later ? `${rs[0].later.lost}; ${rs[0].later.told}` : '',
        rs[0]?.idle ? `${rs[0].idle.saves}; ${rs[0].idle.writtenMb}` : '',
      ].join(' | ')} |`,
    );
  }
}
const rounds = SIZES.map((n, i) => `${runsFor(i)} round(s) of ${n} lines`).join(', ');
process.stdout.write(
  `${rows.join('\n')}\n\nMedians of ${rounds}; lost and seconds since the last save: each round; killed later, and the waiting backlog: the first round of the first and of the last size.\n`,
);
