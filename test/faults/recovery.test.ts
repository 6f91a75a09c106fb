// Fault drills for recovery from the room history: what a broker loses (a cluster node that dies
// mid-pipe, `room serve` restarted without sessions, mosquitto dropping what a slow listener's
// queue cannot hold) is found in the history the sender wrote, and shown once, late; nothing is
// reported lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  brokerEnv,
  requireMosquitto,
  startMosquitto,
  type MosquittoBroker,
} from '../helpers/brokers.js';
import { createHistoryRoom, DAY_OF_HISTORY, readAllHistory } from '../helpers/history.js';
import { requireNats, startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { jsonLines, startProgram, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

/** What a listener reports lost (today's wording for lines that never arrived). */
const LOSS = /did not arrive|nothing more arrived|not delivered/;

const shownMessages = (listener: RunningProgram): string[] =>
  jsonLines(listener.stdoutLines)
    .filter((m) => m.type === 'message')
    .map((m) => m.message as string);

/** Lines shown as recovered from the history (`"recovered": true` in --json). */
const recoveredCount = (listener: RunningProgram): number =>
  jsonLines(listener.stdoutLines).filter((m) => m.type === 'message' && m.recovered === true)
    .length;

/** Every line shown exactly once, and none reported lost. */
function expectAllOnce(listener: RunningProgram, lines: string[]): void {
  const shown = shownMessages(listener);
  const missing = lines.length - new Set(shown).size;
  const reported = listener
    .stderr()
    .split('\n')
    .filter((l) => LOSS.test(l));
  expect(reported, `${missing} of ${lines.length} lines missing`).to.deep.equal([]);
  expect(shown).to.have.length(lines.length);
  expect([...shown].sort()).to.deep.equal([...lines].sort());
}

describe('fault drills: recovery from the room history', function () {
  this.timeout(300_000);
  let dir: string;
  const running: RunningProgram[] = [];

  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sunoye-recovery-'))));
  afterEach(async function () {
    await stopAll(running);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('a NATS cluster whose node dies mid-pipe', function () {
    let binary: string;
    let cluster: NatsCluster | undefined;

    before(function () {
      binary = requireNats(this);
    });
    afterEach(async function () {
      await cluster?.stop();
      cluster = undefined;
    });

    const RUNS = Number(process.env.SUNOYE_RECOVERY_RUNS ?? 5);
    for (let run = 1; run <= RUNS; run += 1)
      it(`shows 20,000 of 20,000 lines once and reports none lost (run ${run} of ${RUNS})`, async function () {
        cluster = await startNatsCluster(binary, join(dir, 'nats'));
        const db = `sqlite:${join(dir, 'registry.db')}`;
        const { room, password } = await createHistoryRoom(db, DAY_OF_HISTORY);
        // Both on the first node (see cluster.test.ts: a patient connect keeps them there).
        const env = {
          HOME: dir,
          SUNOYE_DB: db,
          SUNOYE_BROKER: cluster.list(),
          SUNOYE_PASSWORD: password,
          SUNOYE_CONNECT_TIMEOUT: '30',
        };
        const listener = startProgram(
          'listen',
          [room, '--json', '--count', '20000', '--timeout', '40'],
          env,
        );
        running.push(listener);
        await listener.line('the join notice', (l) => l.includes('"event":"join"'), 30_000);
        const publisher = startProgram('publish', [room, '--timeout', '60'], env);
        running.push(publisher);
        const lines = Array.from({ length: 20_000 }, (_, i) => `line-${i + 1}`);
        // The node dies while the pipe is in full flow (what it acknowledged and had not passed
        // on is what a cluster loses).
        publisher.child.stdin.end(`${lines.join('\n')}\n`);
        await waitFor(
          'some lines at the listener',
          () => shownMessages(listener).length > 2000,
          60_000,
        );
        await cluster.nodes[0]!.kill();
        expect(await publisher.exited, publisher.stderr()).to.equal(0);
        expect(publisher.stderr()).to.include('sent 20000 messages');
        expect(await listener.exited, listener.stderr()).to.equal(0);
        const recovered = recoveredCount(listener);
        console.log(`        (${recovered} lines recovered from the history)`);
        expectAllOnce(listener, lines);
      });
  });

  it('shows every line once when room serve is killed and restarted mid-pipe (it keeps no session)', async function () {
    const db = `sqlite:${join(dir, 'registry.db')}`;
    const { room, password } = await createHistoryRoom(db, DAY_OF_HISTORY);
    const serveEnv = { HOME: join(dir, 'serve') };
    const serve = startProgram('room', ['serve', '--port', '0'], serveEnv);
    running.push(serve);
    const url = await serve.line('the broker URL', (l) => /^mqtt:\/\/127\.0\.0\.1:\d+$/.test(l));
    const port = url.split(':').at(-1)!;
    const env = { HOME: dir, SUNOYE_DB: db, SUNOYE_BROKER: url, SUNOYE_PASSWORD: password };
    const listener = startProgram(
      'listen',
      [room, '--json', '--count', '5000', '--timeout', '60'],
      env,
    );
    running.push(listener);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'));
    const publisher = startProgram('publish', [room, '--timeout', '60'], env);
    running.push(publisher);
    const lines = Array.from({ length: 5000 }, (_, i) => `line-${i + 1}`);
    publisher.child.stdin.write(`${lines.slice(0, 100).join('\n')}\n`);
    await waitFor('some lines at the listener', () => shownMessages(listener).length === 100);
    // The listener falls behind; what the broker holds for it dies with the broker.
    listener.child.kill('SIGSTOP');
    publisher.child.stdin.write(`${lines.slice(100, 2500).join('\n')}\n`);
    await waitFor(
      'the lines in the history',
      async () => (await readAllHistory(db, room)).some((r) => r.lastSeq >= 2500),
      60_000,
    );
    serve.child.kill('SIGKILL');
    await serve.exited;
    const again = startProgram('room', ['serve', '--port', port], serveEnv);
    running.push(again);
    await again.line('the broker URL', (l) => l === url);
    listener.child.kill('SIGCONT');
    publisher.child.stdin.end(`${lines.slice(2500).join('\n')}\n`);
    expect(await publisher.exited, publisher.stderr()).to.equal(0);
    expect(await listener.exited, listener.stderr()).to.equal(0);
    console.log(`        (${recoveredCount(listener)} lines recovered from the history)`);
    expectAllOnce(listener, lines);
  });

  describe('mosquitto dropping what a slow listener cannot take', function () {
    let broker: MosquittoBroker | undefined;
    before(function () {
      requireMosquitto(this);
    });
    afterEach(async () => broker?.stop());

    it('recovers what the broker dropped from a queue of 100 messages, and reports none lost', async function () {
      // The listener's queue holds 100 messages (10 in flight): what comes beyond them while the
      // listener is stopped is dropped by the broker, which says nothing to the publisher.
      broker = await startMosquitto(join(dir, 'mosquitto'), {
        edit: (conf) =>
          conf
            .replace(/^max_queued_messages .*$/m, 'max_queued_messages 100')
            .replace(/^max_inflight_messages .*$/m, 'max_inflight_messages 10'),
      });
      const db = `sqlite:${join(dir, 'registry.db')}`;
      const { room, password } = await createHistoryRoom(db, DAY_OF_HISTORY);
      const env = { HOME: dir, SUNOYE_DB: db, SUNOYE_PASSWORD: password, ...brokerEnv(broker) };
      const BURST = 600;
      // MQTT 3.1.1: the broker's max_inflight_messages holds (an MQTT 5 listener announces a
      // Receive Maximum of 65,535, and the broker then streams the burst into its socket).
      const listener = startProgram(
        'listen',
        [
          room,
          '--json',
          '--count',
          String(BURST + 1),
          '--timeout',
          '60',
          '--mqtt-version',
          '3.1.1',
        ],
        env,
      );
      running.push(listener);
      await listener.line('the join notice', (l) => l.includes('"event":"join"'));
      // The listener falls behind: stopped while the burst goes out, line by line.
      listener.child.kill('SIGSTOP');
      const lines = Array.from({ length: BURST }, (_, i) => `burst-${i + 1}`);
      const publisher = startProgram('publish', [room, '--timeout', '60'], env);
      running.push(publisher);
      for (const line of lines) {
        publisher.child.stdin.write(`${line}\n`);
        // Paced like typing, so that most lines travel alone (a pipe would batch them).
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await waitFor(
        'the burst in the history',
        async () => (await readAllHistory(db, room)).some((r) => r.lastSeq >= BURST),
        60_000,
      );
      listener.child.kill('SIGCONT');
      // One more line once the listener is back: past the numbers the broker dropped.
      await waitFor('the queued lines', () => shownMessages(listener).length >= 100, 60_000);
      publisher.child.stdin.end('after the burst\n');
      expect(await publisher.exited, publisher.stderr()).to.equal(0);
      expect(await listener.exited, listener.stderr()).to.equal(0);
      const recovered = recoveredCount(listener);
      console.log(`        (${recovered} lines the broker dropped, recovered from the history)`);
      expect(recovered).to.be.above(0);
      expectAllOnce(listener, [...lines, 'after the burst']);
    });
  });
});
