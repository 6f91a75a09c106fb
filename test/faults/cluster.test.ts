// Fault drills on a broker cluster (three nats-server nodes, MQTT 3.1.1 over JetStream): the node
// that both listen and publish use dies mid-pipe and never returns; both carry on through the
// rest of the broker list.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { runProgram } from '../helpers/cli.js';
import { requireNats, startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { jsonLines, startProgram, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

describe('fault drills: a broker cluster', function () {
  this.timeout(120_000);
  let binary: string;
  let dir: string | undefined;
  let cluster: NatsCluster | undefined;
  let env: Record<string, string>;
  const running: RunningProgram[] = [];

  before(function () {
    binary = requireNats(this);
  });
  beforeEach(async function () {
    this.timeout(180_000); // a cluster that does not form in 60 s is started once more
    dir = mkdtempSync(join(tmpdir(), 'sunoye-cluster-'));
    cluster = await startNatsCluster(binary, join(dir, 'nats'));
    env = {
      HOME: dir,
      SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
      SUNOYE_BROKER: cluster.list(),
    };
  });
  afterEach(async function () {
    await stopAll(running);
    await cluster?.stop();
    cluster = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Which node of the cluster a program's MQTT connection is on (`ss`), if that can be told. */
  const nodeOf = async (pid: number | undefined): Promise<number | undefined> => {
    if (pid === undefined) return undefined;
    const { stdout } = await run('ss', ['-tnpH', 'state', 'established']).catch(() => ({
      stdout: '',
    }));
    for (const line of stdout.split('\n')) {
      if (!line.includes(`pid=${pid},`)) continue;
      const peer = line.trim().split(/\s+/)[3];
      const i = cluster!.nodes.findIndex((n) => n.hostPort === peer);
      if (i >= 0) return i;
    }
    return undefined;
  };
  const shownMessages = (listener: RunningProgram): string[] =>
    jsonLines(listener.stdoutLines)
      .filter((m) => m.type === 'message')
      .map((m) => m.message as string);

  it('shows 3,000 of 3,000 lines once when the node of listen and publish dies mid-pipe', async function () {
    const nodes = cluster!.nodes;
    const created = await runProgram('room', ['create', '--json'], { env });
    expect(created.code, created.stderr).to.equal(0);
    const room = (JSON.parse(created.stdout) as { room: string }).room;
    // The room's record keeps the whole list, without credentials.
    const info = await runProgram('room', ['info', room, '--json'], { env });
    expect((JSON.parse(info.stdout) as { broker: string }).broker).to.equal(cluster!.list());

    // Both must connect to the first node: under load, a node's share of a 10 s connect timeout
    // (3.3 s of 3 nodes) can pass before NATS answers, and the program goes on to the next node.
    const patient = { ...env, SUNOYE_CONNECT_TIMEOUT: '30' };
    const listener = startProgram('listen', [room, '--json', '--count', '3000'], patient);
    running.push(listener);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'), 30_000);
    const publisher = startProgram('publish', [room, '--timeout', '60'], patient);
    running.push(publisher);
    const lines = Array.from({ length: 3000 }, (_, i) => `line-${i + 1}`);
    publisher.child.stdin.write(`${lines.slice(0, 1500).join('\n')}\n`);
    await waitFor('some lines at the listener', () => shownMessages(listener).length > 200, 30_000);
    // Both are on the first node of the list, unless it turned one away while the cluster was
    // settling (then the program went on to the next): the listener's node dies, for good.
    const listenerOn = (await nodeOf(listener.child.pid)) ?? 0;
    const publisherOn = (await nodeOf(publisher.child.pid)) ?? 0;
    const dead = nodes[listenerOn]!;
    await dead.kill();
    publisher.child.stdin.end(`${lines.slice(1500).join('\n')}\n`);

    expect(await publisher.exited, publisher.stderr()).to.equal(0);
    expect(publisher.stderr()).to.include('sent 3000 messages');
    if (publisherOn === listenerOn)
      expect(publisher.stderr()).to.match(/connection lost; reconnected via 127\.0\.0\.1:\d+/);
    else
      console.log(
        `        (publish was on ${nodes[publisherOn]!.name}, not on the node that died)`,
      );
    expect(publisher.stderr()).not.to.include(dead.hostPort + '\n');
    expect(await listener.exited, listener.stderr()).to.equal(0);
    expect(listener.stderr()).to.match(/connection lost; reconnected via 127\.0\.0\.1:\d+/);
    expect(listener.stderr()).not.to.include(dead.hostPort + '\n');
    const shown = shownMessages(listener);
    expect(shown).to.have.length(3000);
    expect([...shown].sort()).to.deep.equal([...lines].sort());
  });

  it('resumes the session of a listener whose node never returns on another node', async function () {
    const nodes = cluster!.nodes;
    const room = (
      JSON.parse((await runProgram('room', ['create', '--json'], { env })).stdout) as {
        room: string;
      }
    ).room;
    // The listener starts on node 2; it is killed, and 100 lines are published meanwhile on node 3.
    const listener = startProgram('listen', [room, '--json', '--count', '101'], {
      ...env,
      SUNOYE_BROKER: cluster!.list([1, 0, 2]),
    });
    running.push(listener);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'), 30_000);
    const first = await runProgram('publish', [room, 'before'], {
      env: { ...env, SUNOYE_BROKER: nodes[2]!.url },
    });
    expect(first.code, first.stderr).to.equal(0);
    await waitFor('the first line at the listener', () => shownMessages(listener).length === 1);
    await nodes[1]!.kill();
    const lines = Array.from({ length: 100 }, (_, i) => `away-${i + 1}`);
    const away = await runProgram('publish', [room], {
      env: { ...env, SUNOYE_BROKER: nodes[2]!.url },
      input: `${lines.join('\n')}\n`,
    });
    expect(away.code, away.stderr).to.equal(0);
    expect(await listener.exited, listener.stderr()).to.equal(0);
    expect(listener.stderr()).to.match(
      new RegExp(`connection lost; reconnected via (${nodes[0]!.hostPort}|${nodes[2]!.hostPort})`),
    );
    expect(listener.stderr()).not.to.include("lost this listener's session");
    expect(shownMessages(listener)).to.deep.equal(['before', ...lines]);
  });
});
