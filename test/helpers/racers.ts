/**
 * Racers: separate processes (test/fixtures/store-racer.ts) that each open the registry through
 * its own connection and run registry operations on a signal, all at the same moment. Races
 * within one process prove little: better-sqlite3 is synchronous, and sunoye queues one file's
 * transactions within a process, so only other processes can overlap a transaction.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** One registry operation a racer runs. */
export type RacerOp =
  | { op: 'open'; url: string }
  | { op: 'closeStore' }
  /** Creates a plain room; `number`: the number drawn first (later ones are random). */
  | { op: 'create'; creator: string; number?: string; idleSeconds?: number }
  | { op: 'join'; room: string; name: string; leaseSeconds?: number }
  | { op: 'leave'; id: string }
  | { op: 'close'; room: string };

/** What a racer does in one round: `ops` at once, at registry time skewed by `skewMs`. */
export interface RacerJob {
  ops: RacerOp[];
  /** The registry time the racer's store adds to the database's from now on. */
  skewMs?: number;
}

/** How one operation ended: its value, or the error it failed with. */
export type RacerOutcome =
  | { ok: true; value: unknown }
  | { ok: false; message: string; exitCode?: number | undefined; name?: string | undefined };

const script = fileURLToPath(new URL('../fixtures/store-racer.js', import.meta.url));
const ANSWER_MS = 60_000;

class Racer {
  private readonly answers: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const answer = this.answers.shift();
      if (answer) answer(line);
      else this.lines.push(line);
    });
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  send(message: unknown): void {
    this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  /** The racer's next answer; fails when it exits first or says nothing for a minute. */
  answer<T>(): Promise<T> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(JSON.parse(ready) as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`a racer gave no answer in ${ANSWER_MS} ms: ${this.stderr}`)),
        ANSWER_MS,
      );
      const answer = (line: string): void => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as T);
      };
      this.answers.push(answer);
      void this.exited.then((code) => {
        if (!this.answers.includes(answer)) return;
        clearTimeout(timer);
        reject(new Error(`a racer ended (exit ${code}) before answering: ${this.stderr}`));
      });
    });
  }

  /** Ends the racer (it closes its store); SIGKILL if it has not ended within 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A set of racer processes, started together and stopped together. */
export class Racers {
  private constructor(private readonly racers: Racer[]) {}

  /** Starts `count` racers; each has no store open until a job opens one. */
  static start(count: number): Racers {
    return new Racers(
      Array.from(
        { length: count },
        () =>
          new Racer(
            spawn(process.execPath, [script], {
              stdio: ['pipe', 'pipe', 'pipe'],
              env: { PATH: process.env.PATH ?? '' },
            }),
          ),
      ),
    );
  }

  get count(): number {
    return this.racers.length;
  }

  /**
   * Runs one round: racer i gets `jobs[i]` (none: sits it out); once every racer has its job
   * ready, all are told to go at once. Gives each racer's outcomes, in the order of its ops.
   */
  async round(jobs: (RacerJob | undefined)[]): Promise<RacerOutcome[][]> {
    if (jobs.length > this.racers.length) throw new Error(`only ${this.racers.length} racers`);
    const taking = this.racers.slice(0, jobs.length).filter((_, i) => jobs[i] !== undefined);
    const given = jobs.filter((job): job is RacerJob => job !== undefined);
    taking.forEach((racer, i) => racer.send({ prepare: given[i] }));
    await Promise.all(taking.map((racer) => racer.answer()));
    for (const racer of taking) racer.send('go');
    const done = await Promise.all(taking.map((racer) => racer.answer<{ done: RacerOutcome[] }>()));
    const results: RacerOutcome[][] = [];
    let next = 0;
    for (const job of jobs) results.push(job === undefined ? [] : done[next++]!.done);
    return results;
  }

  /** One job per racer. */
  map<T>(job: (index: number) => T): T[] {
    return this.racers.map((_, i) => job(i));
  }

  /** Every racer runs `ops` in the same round. */
  all(ops: RacerOp[]): Promise<RacerOutcome[][]> {
    return this.round(this.racers.map(() => ({ ops })));
  }

  async stop(): Promise<void> {
    await Promise.all(this.racers.map((racer) => racer.stop()));
  }
}

/** The values of outcomes that must all have succeeded; fails naming the errors otherwise. */
export function values(outcomes: RacerOutcome[]): unknown[] {
  const failed = outcomes.filter((o) => !o.ok).map((o) => (o as { message: string }).message);
  if (failed.length > 0) throw new Error(`racers failed: ${failed.join('; ')}`);
  return outcomes.map((o) => (o as { value: unknown }).value);
}
