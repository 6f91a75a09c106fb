// ws:// brokers: listen and publish go through MQTT.js there (sunoye's own client speaks only
// mqtt:// and mqtts://), and chat with programs on the broker's plain MQTT listener. Against
// mosquitto, and against the embedded aedes broker in this process (`room serve --ws-port`).
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  brokerEnv,
  mosquittoFixture,
  startAedes,
  type TestBroker,
  type MosquittoBroker,
  type MosquittoFixture,
} from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  createRoom,
  joinedListener,
  jsonLines,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

/** The names whose `event` notices a listener printed. */
function noticed(listener: RunningProgram, event: string): unknown[] {
  return jsonLines(listener.stdoutLines)
    .filter((m) => m.type === 'notice' && m.event === event)
    .map((m) => m.from);
}

/** Stops a listener that runs until Ctrl-C, as a user does; it must exit 0. */
async function interrupt(listener: RunningProgram): Promise<void> {
  listener.child.kill('SIGINT');
  expect(await listener.exited, listener.stderr()).to.equal(0);
  expect(listener.stderr()).to.equal('');
}

/**
 * 200 piped lines over ws:// and one over mqtt:// reach a listener on each; a listener on each
 * sees one on the other come and go, by name (each joins and leaves while the other is there).
 */
async function carriesBothWays(
  env: Record<string, string>,
  wsEnv: Record<string, string>,
  running: RunningProgram[],
): Promise<void> {
  const room = await createRoom(env);
  const ws = { ...wsEnv, SUNOYE_NAME: 'wendy-ws' };
  const tcp = { ...env, SUNOYE_NAME: 'tom-tcp' };
  const overWs = await joinedListener(room, [], ws, running);
  const overTcp = await joinedListener(room, ['--count', '201'], tcp, running);
  await waitFor(
    'the ws:// listener to see tom-tcp join',
    () => noticed(overWs, 'join').includes('tom-tcp'),
    { program: overWs },
  );

  const lines = Array.from({ length: 200 }, (_, i) => `line ${i + 1}`);
  const piped = await runProgram('publish', [room], {
    env: wsEnv,
    input: `${lines.join('\n')}\n`,
  });
  expect(piped.code, piped.stderr).to.equal(0);
  expect(piped.stderr).to.equal(`sent 200 messages to room ${room}\n`);
  const one = await runProgram('publish', [room, '-m', 'over tcp'], { env });
  expect(one.code, one.stderr).to.equal(0);

  expect(await overTcp.exited).to.equal(0);
  expect(overTcp.stderr()).to.equal('');
  await waitFor(
    'the ws:// listener to see tom-tcp leave',
    () => noticed(overWs, 'leave').includes('tom-tcp'),
    { program: overWs },
  );
  await interrupt(overWs);
  for (const l of [overWs, overTcp]) {
    const got = jsonLines(l.stdoutLines).filter((m) => m.type === 'message');
    expect(got.map((m) => m.message)).to.deep.equal([...lines, 'over tcp']);
  }
  expect(noticed(overWs, 'join')).to.deep.equal(['wendy-ws', 'tom-tcp']);
  // Its own leave notice is the last line it prints.
  expect(noticed(overWs, 'leave')).to.deep.equal(['tom-tcp', 'wendy-ws']);

  // The other way round: the mqtt:// listener sees a ws:// one come and go.
  const aroundTcp = await joinedListener(room, [], tcp, running);
  const insideWs = await joinedListener(room, ['--count', '1'], ws, running);
  await waitFor(
    'the mqtt:// listener to see wendy-ws join',
    () => noticed(aroundTcp, 'join').includes('wendy-ws'),
    { program: aroundTcp },
  );
  const last = await runProgram('publish', [room, '-m', 'over ws'], { env: wsEnv });
  expect(last.code, last.stderr).to.equal(0);
  expect(await insideWs.exited).to.equal(0);
  expect(insideWs.stderr()).to.equal('');
  await waitFor(
    'the mqtt:// listener to see wendy-ws leave',
    () => noticed(aroundTcp, 'leave').includes('wendy-ws'),
    { program: aroundTcp },
  );
  await interrupt(aroundTcp);
  expect(noticed(aroundTcp, 'join')).to.deep.equal(['tom-tcp', 'wendy-ws']);
  expect(noticed(aroundTcp, 'leave')).to.deep.equal(['wendy-ws', 'tom-tcp']);
  expect(noticed(insideWs, 'join')).to.deep.equal(['wendy-ws']);
}

describe('the embedded broker reached over WebSockets', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: (TestBroker & { ws?: { url: string } }) | undefined;
  let env: Record<string, string>;
  let wsEnv: Record<string, string>;
  const running: RunningProgram[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-aedes-ws-'));
    broker = await startAedes({ websockets: true });
    env = { HOME: dir, SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`, ...brokerEnv(broker) };
    wsEnv = { ...env, SUNOYE_BROKER: broker.ws!.url };
  });
  after(async function () {
    await stopAll(running);
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries a room both ways between ws:// and mqtt:// programs', async function () {
    await carriesBothWays(env, wsEnv, running);
  });
});

describe('a broker reached over WebSockets', function () {
  this.timeout(60_000);
  let fixture: MosquittoFixture | undefined;
  let broker: MosquittoBroker;
  let env: Record<string, string>;
  let wsEnv: Record<string, string>;
  const running: RunningProgram[] = [];

  before(async function () {
    fixture = await mosquittoFixture(this, 'sunoye-ws-', { websockets: true });
    ({ broker, env } = fixture);
    wsEnv = { ...env, SUNOYE_BROKER: broker.ws!.url };
  });
  after(async function () {
    await stopAll(running);
    await fixture?.stop();
  });

  it('carries a room both ways between ws:// and mqtt:// programs', async function () {
    await carriesBothWays(env, wsEnv, running);
  });

  it('refuses a wrong broker password over ws:// in one line, exit 4', async function () {
    const room = await createRoom(env);
    const bad = { ...wsEnv, SUNOYE_BROKER_PASSWORD: 'not-the-password' };
    for (const program of ['publish', 'listen'] as const) {
      const run = await runProgram(program, [room, ...(program === 'publish' ? ['-m', 'x'] : [])], {
        env: bad,
      });
      expect(run.code, run.stderr).to.equal(4);
      // mosquitto answers a bad password on its WebSockets listener with "not authorized".
      expect(run.stderr).to.match(
        new RegExp(
          `^${program}: cannot connect to the broker ${broker.ws!.url}/: (bad user name or password|not authorized)\\n$`,
        ),
      );
    }
  });
});
